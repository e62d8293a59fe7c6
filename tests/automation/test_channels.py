"""Rules apply the same way on every channel, and the dry run predicts exactly what intake does."""

import pytest

from helpline.accounts.models import User
from helpline.accounts.people import get_or_create_requester
from helpline.api.models import ApiKey, Scope
from helpline.automation import dryrun
from helpline.mail.ingest import ingest
from helpline.mail.models import FailedMail, Mailbox
from helpline.tickets.models import EventKind, Ticket
from tests.api.conftest import Api


def raw_email(
    sender, subject, body="Nothing loads since 9:00.", to="help@helpline.example", extra=""
):
    return (
        f"From: Ops <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash((sender, subject, body)))}@bank.example>\r\n{extra}"
        "Date: Mon, 23 Nov 2026 09:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def routed(ticket, org):
    return (
        ticket.department == org.dept("Online Banking")
        and ticket.sla_plan == org.sla("Sev-A")
        and ticket.events.filter(kind=EventKind.RULE, after={"rule": "Bank outages"}).exists()
    )


def test_email_intake_applies_the_rules(outage_rule, org):
    result = ingest(raw_email("ops@bank.example", "Online banking outage"))
    assert result.outcome == "new_ticket", result.reason
    assert routed(result.ticket, org)
    other = ingest(raw_email("ops@elsewhere.example", "Online banking outage"))
    assert not routed(other.ticket, org)


def test_portal_intake_applies_the_rules(outage_rule, org, client):
    form = {
        "name": "Ops",
        "email": "ops@bank.example",
        "phone": "",
        "help_topic": org.topic("General Inquiry").pk,
        "subject": "Online banking outage",
        "message": "Nothing loads.",
        "website": "",
    }
    response = client.post("/tickets/new/", form)
    assert response.status_code == 302
    assert routed(Ticket.objects.get(), org)


def _api_for(email) -> Api:
    user, _ = get_or_create_requester(email)
    _, key = ApiKey.issue(user, scopes=[Scope.TICKETS_READ, Scope.TICKETS_WRITE])
    return Api(key)


def test_api_intake_applies_the_rules(outage_rule, org):
    api = _api_for("ops@bank.example")
    response = api.post("/tickets", {"subject": "Online banking outage", "body": "Down."})
    assert response.status_code == 201, response.content
    assert routed(Ticket.objects.get(number=response.json()["number"]), org)


@pytest.fixture
def reject_rule(make_rule):
    return make_rule(
        "No spam",
        conditions=[("subject", "contains", "cheap pills")],
        actions=[("reject", {"reason": "Looks like spam"})],
    )


def test_a_rejection_is_403_on_the_api(reject_rule):
    response = _api_for("x@spam.example").post("/tickets", {"subject": "Cheap pills", "body": "!"})
    assert response.status_code == 403
    assert response.json()["detail"] == "Looks like spam"
    assert not Ticket.objects.exists()


def test_a_rejection_on_the_portal_is_a_form_error_not_a_server_error(reject_rule, org, client):
    form = {
        "name": "X", "email": "x@spam.example", "phone": "", "website": "",
        "help_topic": org.topic("General Inquiry").pk, "subject": "Cheap pills", "message": "!",
    }  # fmt: skip
    response = client.post("/tickets/new/", form)
    assert response.status_code == 200
    assert "This request cannot be accepted" in response.content.decode()
    assert not Ticket.objects.exists()
    assert not User.objects.filter(email="x@spam.example").exists()


def test_a_rejected_email_is_recorded_with_the_reason(reject_rule):
    result = ingest(raw_email("x@spam.example", "Cheap pills"))
    assert result.ticket is None and not Ticket.objects.exists()
    assert result.outcome == "rejected"
    assert "Looks like spam" in result.reason and "No spam" in result.reason
    assert not FailedMail.objects.exists()


# ---------------------------------------------------------------------------------------------
# Dry run == real intake


@pytest.fixture
def rule_set(make_rule, org, jane):
    from helpline.automation.models import AssignmentPolicy

    make_rule(
        "Bank outages",
        order=1,
        conditions=[("sender_domain", "equals", "bank.example"), ("subject", "contains", "outage")],
        actions=[
            ("set_department", {"department": org.dept("Online Banking")}),
            ("set_sla_plan", {"sla_plan": org.sla("Sev-A")}),
            ("add_collaborator", {"collaborator_email": "oncall@bank.example"}),
        ],
    )
    make_rule(
        "Urgent words",
        order=2,
        match="any",
        conditions=[("subject", "regex", r"\b(urgent|asap)\b"), ("body", "contains", "urgent")],
        actions=[("set_priority", {"priority": org.priority("high")})],
        stop_processing=True,
    )
    make_rule(
        "Never reached after urgent",
        order=3,
        conditions=[("source", "equals", "email")],
        actions=[("skip_autoresponse", {})],
    )
    AssignmentPolicy.objects.create(department=org.dept("Online Banking"), method="round_robin")


SAMPLES = [
    ("ops@bank.example", "Online banking outage", "Down."),
    ("ops@bank.example", "Outage — URGENT", "Down."),
    ("karen@example.com", "Printer", "urgent please"),
    ("karen@example.com", "Printer", "It smokes."),
]


def _fields(ticket):
    return {
        "department": ticket.department,
        "help_topic": ticket.help_topic,
        "priority": ticket.priority,
        "sla_plan": ticket.sla_plan,
        "status": ticket.status,
        "assignee": ticket.assignee,
        "team": ticket.team,
        "collaborators": sorted(ticket.collaborators.values_list("user__email", flat=True)),
        "acknowledgement": ticket.notifications.filter(kind="new_ticket_ack").exists(),
    }


def _predicted(outcome):
    fields = dict(outcome.fields)
    fields.pop("due_at")
    fields["collaborators"] = sorted(fields["collaborators"])
    return fields


@pytest.mark.parametrize("verified", [False, True], ids=["unverified", "dmarc_pass"])
@pytest.mark.parametrize(("sender", "subject", "body"), SAMPLES)
def test_dry_run_equals_email_intake(rule_set, org, sender, subject, body, verified):
    mailbox = Mailbox.objects.create(
        name="Help", address="help@helpline.example", trusted_authserv_ids="mx.helpline.example"
    )
    extra = "Cc: Boss <boss@bank.example>\r\n"
    if verified:
        domain = sender.rpartition("@")[2]
        extra += f"Authentication-Results: mx.helpline.example; dmarc=pass header.from={domain}\r\n"
    raw = raw_email(sender, subject, body, extra=extra)
    intake, notes = dryrun.intake_from_email(raw)
    outcome = dryrun.run(intake)
    result = ingest(raw, mailbox)
    joined = result.ticket.collaborators.filter(user__email="boss@bank.example").exists()
    assert joined == verified
    assert verified or any("would not join" in note for note in notes)
    assert result.outcome == "new_ticket", result.reason
    assert _predicted(outcome) == _fields(result.ticket)
    fired = [e.after["rule"] for e in result.ticket.events.filter(kind=EventKind.RULE)]
    assert fired == [r.rule.name for r in outcome.results if r.matched]


@pytest.mark.parametrize(("sender", "subject", "body"), SAMPLES)
def test_dry_run_equals_api_intake(rule_set, org, sender, subject, body):
    outcome = dryrun.run(
        dryrun.intake_from_fields(sender=sender, subject=subject, body=body, source="api")
    )
    response = _api_for(sender).post("/tickets", {"subject": subject, "body": body})
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(number=response.json()["number"])
    assert _predicted(outcome) == _fields(ticket)


def test_the_dry_run_creates_nothing_and_keeps_the_round_robin_turn(rule_set, org):
    from helpline.accounts.models import User
    from helpline.automation.models import AssignmentPolicy

    users, tickets = User.objects.count(), Ticket.objects.count()
    for _ in range(3):
        outcome = dryrun.run(
            dryrun.intake_from_fields(sender="new@bank.example", subject="outage", body="x")
        )
    assert outcome.fields["collaborators"] == ["oncall@bank.example"]
    assert (User.objects.count(), Ticket.objects.count()) == (users, tickets)
    assert AssignmentPolicy.objects.get().last_assigned is None


def test_dry_run_reports_a_rejection(reject_rule):
    outcome = dryrun.run(
        dryrun.intake_from_fields(sender="x@spam.example", subject="cheap pills", body="")
    )
    assert outcome.rejected == "Rejected by “No spam”: Looks like spam"


def test_dry_run_page_shows_rule_by_rule(outage_rule, admin_user, client):
    client.force_login(admin_user)
    response = client.post(
        "/staff/rules/dry-run/",
        {"sender": "ops@bank.example", "subject": "Online banking outage", "source": "email"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Bank outages" in page and "matched" in page
    assert "Online Banking" in page and "Sev-A" in page
    assert not Ticket.objects.exists()


def test_dry_run_page_takes_a_raw_email(outage_rule, admin_user, client):
    client.force_login(admin_user)
    raw = raw_email("ops@bank.example", "Outage in online banking").decode()
    response = client.post("/staff/rules/dry-run/", {"raw_email": raw, "source": "email"})
    assert response.status_code == 200
    assert "Sev-A" in response.content.decode()


@pytest.mark.parametrize("raw", ["", "garbage", "\x00\x01", "From: <>\r\n\r\n", "Subject: x"])
def test_dry_run_page_never_fails_on_odd_input(outage_rule, admin_user, client, raw):
    client.force_login(admin_user)
    response = client.post("/staff/rules/dry-run/", {"raw_email": raw, "source": "email"})
    assert response.status_code == 200


def test_dry_run_page_is_for_administrators(john, client):
    client.force_login(john)
    assert client.get("/staff/rules/dry-run/").status_code == 403
    client.logout()
    assert client.get("/staff/rules/dry-run/").status_code == 302


def test_header_and_recipient_rules_apply_to_email(make_rule, org):
    make_rule(
        "Monitoring",
        conditions=[("header", "contains", "nagios", "X-Mailer"),
                    ("recipient", "equals", "alerts@helpline.example")],
        actions=[("set_priority", {"priority": org.priority("emergency")})],
    )  # fmt: skip
    raw = raw_email(
        "nagios@bank.example",
        "Host down",
        to="alerts@helpline.example",
        extra="X-Mailer: Nagios\r\n",
    )
    intake, _ = dryrun.intake_from_email(raw)
    assert dryrun.run(intake).fields["priority"] == org.priority("emergency")
    assert ingest(raw).ticket.priority == org.priority("emergency")
