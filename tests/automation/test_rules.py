"""Routing rules: every condition field and operator, every action, order and stop, events."""

import pytest
from django.core.exceptions import ValidationError

from helpline.accounts.models import User
from helpline.automation import rules
from helpline.automation.models import RuleAction, RuleCondition
from helpline.tickets import access, hooks
from helpline.tickets.models import Collaborator, EventKind, Notification, NotificationKind, Ticket


@pytest.mark.parametrize(
    ("operator", "actual", "value", "expected"),
    [
        ("equals", "Outage", "outage", True),
        ("equals", "Outage now", "outage", False),
        ("not_equals", "Outage now", "outage", True),
        ("not_equals", "OUTAGE", "outage", False),
        ("contains", "Big OUTAGE today", "outage", True),
        ("contains", "All fine", "outage", False),
        ("not_contains", "All fine", "outage", True),
        ("not_contains", "an outage", "outage", False),
        ("starts_with", "[ALERT] disk", "[alert]", True),
        ("starts_with", "Re: [ALERT] disk", "[alert]", False),
        ("ends_with", "ops@bank.example", "bank.example", True),
        ("ends_with", "ops@bank.example.org", "bank.example", False),
        ("regex", "Ticket INC-12345 raised", r"\binc-\d{5}\b", True),
        ("regex", "Ticket INC-123 raised", r"\binc-\d{5}\b", False),
    ],
)
def test_every_operator(operator, actual, value, expected):
    assert rules.compare(operator, actual, value) is expected


def _intake(requester, **fields) -> hooks.Intake:
    values = {"subject": "Online banking outage", "body": "Nothing loads.", "source": "email"}
    values.update(fields)
    return hooks.Intake(requester=requester, **values)


@pytest.mark.parametrize(
    ("field", "value", "header"),
    [
        ("sender_email", "ops@bank.example", ""),
        ("sender_domain", "@bank.example", ""),
        ("recipient", "banking@helpline.example", ""),
        ("subject", "outage", ""),
        ("body", "nothing loads", ""),
        ("help_topic", "General Inquiry", ""),
        ("source", "email", ""),
        ("priority", "normal", ""),
        ("header", "1 (highest)", "X-Priority"),
    ],
)
def test_every_condition_field_reads_its_part_of_the_request(make_rule, org, field, value, header):
    requester = User(email="ops@bank.example")
    operator = "contains" if field in ("subject", "body", "header") else "equals"
    rule = make_rule("r", conditions=[(field, operator, value, header)])
    intake = _intake(
        requester,
        recipient="banking@helpline.example",
        help_topic=org.topic("General Inquiry"),
        headers={"x-priority": "1 (highest)"},
    )
    assert rules.match(rule, rules.snapshot(intake)).matched
    other = _intake(User(email="someone@else.example"), subject="Hello", body="Hi", source="web")
    assert not rules.match(rule, rules.snapshot(other)).matched


def test_all_needs_every_condition_any_needs_one(make_rule):
    conditions = [("sender_domain", "equals", "bank.example"), ("subject", "contains", "zzz")]
    every = make_rule("all", conditions=conditions, match="all")
    some = make_rule("any", conditions=conditions, match="any")
    sample = rules.snapshot(_intake(User(email="ops@bank.example")))
    assert not rules.match(every, sample).matched
    result = rules.match(some, sample)
    assert result.matched and "sender domain" in result.why and "zzz" not in result.why


def test_a_rule_without_conditions_never_matches(make_rule, open_for, org):
    make_rule("empty", actions=[("reject", {"reason": "no"})])
    ticket = open_for("karen@example.com", "Hello")
    assert ticket.events.filter(kind=EventKind.RULE).count() == 0


def _one_action_rule(make_rule, kind, **values):
    return make_rule(
        f"do {kind}",
        conditions=[("subject", "contains", "outage")],
        actions=[(kind, values)],
    )


def test_set_department_help_topic_priority_sla_and_status(make_rule, open_for, org):
    make_rule(
        "route",
        conditions=[("subject", "contains", "outage")],
        actions=[
            ("set_help_topic", {"help_topic": org.topic("Business Critical Outage")}),
            ("set_department", {"department": org.dept("SysAdmins")}),
            ("set_priority", {"priority": org.priority("high")}),
            ("set_sla_plan", {"sla_plan": org.sla("Sev-B")}),
            ("set_status", {"status": org.status("Work in Progress")}),
        ],
    )
    ticket = open_for("ops@bank.example", "Outage")
    assert ticket.help_topic == org.topic("Business Critical Outage")
    assert ticket.department == org.dept("SysAdmins")
    assert ticket.priority == org.priority("high")
    assert ticket.sla_plan == org.sla("Sev-B")
    assert ticket.status == org.status("Work in Progress")


def test_reject_raises_and_creates_nothing(make_rule, open_for):
    _one_action_rule(make_rule, "reject", reason="Outages go to the status page")
    with pytest.raises(hooks.TicketRejected) as caught:
        open_for("ops@bank.example", "Outage")
    assert caught.value.reason == "Outages go to the status page"
    assert caught.value.rule == "do reject"
    assert isinstance(caught.value, access.AccessDenied)  # every channel answers "not allowed"
    assert not Ticket.objects.exists()


def test_assign_agent_and_team(make_rule, open_for, org, jane):
    make_rule(
        "assign",
        conditions=[("subject", "contains", "outage")],
        actions=[
            ("set_department", {"department": org.dept("Online Banking")}),
            ("assign_agent", {"agent": jane}),
            ("assign_team", {"team": org.team("Online Banking Team")}),
        ],
    )
    ticket = open_for("ops@bank.example", "Outage")
    assert ticket.assignee == jane and ticket.team == org.team("Online Banking Team")
    assigned = ticket.events.get(kind=EventKind.ASSIGNED)
    assert "routing rule “assign”" in assigned.reason


def test_a_rule_assigning_an_agent_without_access_leaves_the_ticket_unassigned(
    make_rule, open_for, org, jane
):
    # Jane has no access to Support, which is restricted? No: Support is open, so make it so.
    support = org.dept("Support")
    support.restricted = True
    support.save()
    _one_action_rule(make_rule, "assign_agent", agent=jane)
    ticket = open_for("ops@bank.example", "Outage")
    assert ticket.assignee is None
    assert "has no access" in ticket.events.filter(kind=EventKind.RULE).last().reason


def test_add_collaborator(make_rule, open_for, ken):
    _one_action_rule(make_rule, "add_collaborator", collaborator_email="new.person@bank.example")
    make_rule(
        "ken too",
        conditions=[("subject", "contains", "outage")],
        actions=[("add_collaborator", {"collaborator_email": ken.email})],
    )
    ticket = open_for("ops@bank.example", "Outage")
    emails = set(Collaborator.objects.filter(ticket=ticket).values_list("user__email", flat=True))
    assert emails == {"new.person@bank.example", ken.email}


@pytest.mark.django_db(transaction=True)
def test_skip_autoresponse(make_rule, open_for):
    _one_action_rule(make_rule, "skip_autoresponse")
    ticket = open_for("ops@bank.example", "Outage")
    quiet = open_for("ops@bank.example", "Something else")
    kinds = Notification.objects.filter(kind=NotificationKind.NEW_TICKET_ACK)
    assert not kinds.filter(ticket=ticket).exists()
    assert kinds.filter(ticket=quiet).exists()


@pytest.mark.django_db(transaction=True)
def test_send_canned_reply_answers_with_the_rendered_response(make_rule, open_for, org, jane):
    from django.core import mail

    from helpline.automation.models import CannedResponse

    canned = CannedResponse.objects.create(
        title="Outage known",
        body="Hello {{ requester.name }}, ticket {{ ticket.number }} is known. — {{ agent.name }}",
    )
    make_rule(
        "known outage",
        conditions=[("subject", "contains", "outage")],
        actions=[
            ("set_department", {"department": org.dept("Online Banking")}),
            ("send_canned_reply", {"canned_response": canned, "agent": jane}),
        ],
    )
    ticket = open_for("ops@bank.example", "Outage")
    reply = ticket.entries.get(kind="reply")
    assert reply.author == jane
    expected = f"Hello ops@bank.example, ticket {ticket.number} is known. — {jane.display_name}"
    assert reply.body_text == expected
    to_requester = [m for m in mail.outbox if m.to == ["ops@bank.example"]]
    # The canned reply replaces the acknowledgement: one automatic mail, not two.
    assert len(to_requester) == 1 and ticket.number in to_requester[0].subject


def test_order_and_stop_processing(make_rule, open_for, org):
    make_rule(
        "first",
        order=1,
        conditions=[("subject", "contains", "outage")],
        actions=[("set_priority", {"priority": org.priority("high")})],
        stop_processing=True,
    )
    make_rule(
        "second",
        order=2,
        conditions=[("subject", "contains", "outage")],
        actions=[("set_priority", {"priority": org.priority("low")})],
    )
    ticket = open_for("ops@bank.example", "Outage")
    assert ticket.priority == org.priority("high")
    assert list(ticket.events.filter(kind=EventKind.RULE).values_list("after", flat=True)) == [
        {"rule": "first"}
    ]


def test_later_rules_win_and_each_fired_rule_is_recorded(make_rule, open_for, org):
    make_rule(
        "a",
        order=1,
        conditions=[("subject", "contains", "outage")],
        actions=[("set_priority", {"priority": org.priority("high")})],
    )
    make_rule(
        "b",
        order=2,
        conditions=[("subject", "contains", "outage")],
        actions=[("set_priority", {"priority": org.priority("low")})],
    )
    make_rule("c", order=3, conditions=[("subject", "contains", "nothing-like-this")])
    ticket = open_for("ops@bank.example", "Outage")
    assert ticket.priority == org.priority("low")
    fired = [e.after["rule"] for e in ticket.events.filter(kind=EventKind.RULE)]
    assert fired == ["a", "b"]


def test_inactive_rules_are_ignored(make_rule, open_for, org):
    _one_action_rule(make_rule, "reject", reason="x").__class__.objects.update(active=False)
    assert open_for("ops@bank.example", "Outage").pk


@pytest.mark.parametrize(
    ("kind", "values", "field"),
    [
        ("set_department", {}, "department"),
        ("set_sla_plan", {}, "sla_plan"),
        ("add_collaborator", {}, "collaborator_email"),
        ("send_canned_reply", {}, "canned_response"),
    ],
)
def test_an_action_without_its_target_is_refused(make_rule, kind, values, field):
    rule = make_rule("r")
    with pytest.raises(ValidationError) as caught:
        RuleAction(rule=rule, kind=kind, **values).full_clean()
    assert field in caught.value.message_dict


def test_a_closed_status_cannot_start_a_ticket(make_rule, org):
    rule = make_rule("r")
    with pytest.raises(ValidationError) as caught:
        RuleAction(rule=rule, kind="set_status", status=org.status("Closed")).full_clean()
    assert "status" in caught.value.message_dict


def test_a_header_condition_needs_a_header_name(make_rule):
    rule = make_rule("r")
    with pytest.raises(ValidationError) as caught:
        RuleCondition(rule=rule, field="header", operator="contains", value="x").full_clean()
    assert "header" in caught.value.message_dict


def test_a_catastrophic_regex_is_refused_on_save(make_rule):
    rule = make_rule("r")
    with pytest.raises(ValidationError) as caught:
        RuleCondition(rule=rule, field="subject", operator="regex", value="(a+)+$").full_clean()
    assert "value" in caught.value.message_dict
