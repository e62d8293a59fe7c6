"""The Route form is one atomic action (issue 16): it decides the whole combination first and
saves all of it or nothing; a new help topic brings its defaults when asked; the agent list
offers only agents who can be assigned in the department chosen."""

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError

from helpline.accounts.models import DepartmentAccess, User
from helpline.tickets import actions
from helpline.tickets.models import Event, EventKind, Ticket
from tests.staff_ticket.conftest import url


@pytest.fixture
def john_in_sysadmins(john, org):
    """John with Expanded Access in SysAdmins (restricted): he can route its tickets."""
    DepartmentAccess.objects.create(
        agent=john.agent, department=org.dept("SysAdmins"), role=org.role("Expanded Access")
    )
    return john


def _route(client, ticket, data):
    return client.post(url(ticket, "route"), {"version": ticket.version, **data})


def _unchanged(ticket: Ticket) -> bool:
    fresh = Ticket.objects.get(pk=ticket.pk)
    return (
        fresh.version == ticket.version
        and fresh.sla_plan_id == ticket.sla_plan_id
        and fresh.priority_id == ticket.priority_id
        and fresh.assignee_id == ticket.assignee_id
        and fresh.department_id == ticket.department_id
        and fresh.due_at == ticket.due_at
    )


def test_the_issues_scenario_saves_nothing_and_blames_the_agent_field(
    client_for, john_in_sysadmins, garnet, org, sysadmins_ticket
):
    events = Event.objects.filter(ticket=sysadmins_ticket).count()
    response = _route(client_for(john_in_sysadmins), sysadmins_ticket, {
        "sla_plan": org.sla("Sev-C").pk, "priority": org.priority("low").pk,
        "assignee": garnet.pk,
    })  # fmt: skip
    assert response.status_code == 400
    form = response.context["route_form"]
    assert form.errors["assignee"] == [
        "Garnet Jones has no access to SysAdmins and cannot be assigned."
    ]
    assert not form.non_field_errors()
    assert _unchanged(sysadmins_ticket)
    assert Event.objects.filter(ticket=sysadmins_ticket).count() == events
    # The page keeps what the agent chose, so fixing the agent and applying again is one step.
    page = response.content.decode()
    assert f'<option value="{org.sla("Sev-C").pk}" selected>Sev-C</option>' in page


def test_an_agent_of_the_department_left_behind_cannot_come_along(john, jane, org, support_ticket):
    # Garnet works Support only; the ticket goes to SysAdmins (restricted) in the same request.
    garnet = User.objects.get(username="garnet")
    changes = actions.RouteChanges.of(
        priority=org.priority("high"), department=org.dept("SysAdmins"), assignee=garnet
    )
    with pytest.raises(ValidationError) as raised:
        actions.route(john, support_ticket, changes)
    assert list(raised.value.message_dict) == ["assignee"]
    assert _unchanged(support_ticket)


def test_a_topic_change_applies_the_topics_defaults_when_ticked(
    client_for, john, org, support_ticket
):
    due_before = support_ticket.due_at
    response = _route(client_for(john), support_ticket, {
        "department": support_ticket.department_id, "priority": support_ticket.priority_id,
        "sla_plan": support_ticket.sla_plan_id, "assignee": "", "team": "",
        "help_topic": org.topic("Sev-A Emergency").pk, "apply_topic_defaults": "on",
    })  # fmt: skip
    ticket = Ticket.objects.get(pk=support_ticket.pk)
    assert ticket.help_topic == org.topic("Sev-A Emergency")
    assert ticket.sla_plan == org.sla("Sev-A") and ticket.priority.name == "emergency"
    assert ticket.department == org.dept("SysAdmins")
    assert ticket.due_at < due_before  # Sev-A: one hour, round the clock.
    assert ticket.version == support_ticket.version + 1  # One save.
    kinds = list(ticket.events.order_by("id").values_list("kind", flat=True))
    for kind in (EventKind.PRIORITY, EventKind.SLA, EventKind.HELP_TOPIC, EventKind.TRANSFERRED):
        assert kinds.count(kind) == 1, kind
    assert kinds[-1] == EventKind.TRANSFERRED  # The transfer last.
    # SysAdmins is restricted: John is told where the ticket went.
    assert response.status_code == 302 and response["Location"] == "/staff/"
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith(f"Ticket #{ticket.number} transferred to SysAdmins.")
    assert "SLA plan set to Sev-A" in message and "priority set to emergency" in message


def test_a_topic_change_leaves_the_rest_when_unticked(client_for, john, org, support_ticket):
    response = _route(client_for(john), support_ticket, {
        "department": support_ticket.department_id, "priority": support_ticket.priority_id,
        "sla_plan": support_ticket.sla_plan_id, "help_topic": org.topic("Sev-A Emergency").pk,
    })  # fmt: skip
    assert response.status_code == 302
    ticket = Ticket.objects.get(pk=support_ticket.pk)
    assert ticket.help_topic == org.topic("Sev-A Emergency")
    assert ticket.sla_plan == org.sla("Sev-C") and ticket.priority.name == "normal"
    assert ticket.department == org.dept("Support") and ticket.due_at == support_ticket.due_at


def test_an_explicit_priority_wins_over_the_topics(client_for, john, org, support_ticket):
    response = _route(client_for(john), support_ticket, {
        "priority": org.priority("high").pk, "help_topic": org.topic("Hardware").pk,
        "apply_topic_defaults": "on",
    })  # fmt: skip
    assert response.status_code == 302
    ticket = Ticket.objects.get(pk=support_ticket.pk)
    # Hardware: Support, Sev-B, normal. The agent's own "high" stays; Sev-B comes with the topic.
    assert ticket.priority.name == "high" and ticket.sla_plan == org.sla("Sev-B")
    assert ticket.department == org.dept("Support")


def test_the_topics_department_needs_the_transfer_permission(
    client_for, garnet, org, support_ticket
):
    # Garnet (Limited Access) may edit but not transfer: the topic's department is refused,
    # and with it the whole request.
    response = _route(client_for(garnet), support_ticket, {
        "help_topic": org.topic("Sev-A Emergency").pk, "apply_topic_defaults": "on",
    })  # fmt: skip
    assert response.status_code == 403
    assert _unchanged(support_ticket)
    assert Ticket.objects.get(pk=support_ticket.pk).help_topic == support_ticket.help_topic


def test_the_page_offers_the_checkbox_ticked_and_refreshes_agents_on_department_change(
    client_for, john, support_ticket
):
    page = client_for(john).get(url(support_ticket)).content.decode()
    assert 'name="apply_topic_defaults"' in page
    assert "Apply this topic&#x27;s defaults (SLA plan, priority, department)" in page
    checkbox = page[page.index('name="apply_topic_defaults"') - 200 :]
    assert "checked" in checkbox[: checkbox.index(">", 200)]
    assert f'hx-get="{url(support_ticket, "route")}agents/"' in page
    assert 'hx-target="#route_assignee"' in page


def _options(client, ticket, **params):
    response = client.get(url(ticket, "route") + "agents/", params)
    return response, response.content.decode()


def test_the_agent_options_are_the_assignable_agents(client_for, john, org, support_ticket):
    client = client_for(john)
    response, options = _options(client, support_ticket, department=org.dept("SysAdmins").pk)
    assert response.status_code == 200
    # SysAdmins is restricted: its agents (Jane) and administrators only.
    assert "Jane Lee" in options and "Ada Admin" in options
    assert "John Smith" not in options and "Garnet Jones" not in options
    assert options.startswith('<option value="" selected>— nobody —</option>')
    # Support is not restricted: every agent can be assigned there; the choice stays selected.
    jane = User.objects.get(username="jane")
    _, options = _options(
        client, support_ticket, department=org.dept("Support").pk, assignee=jane.pk
    )
    assert "John Smith" in options and "Garnet Jones" in options
    assert f'<option value="{jane.pk}" selected>Jane Lee</option>' in options
    # A department that does not exist: the ticket's own.
    _, options = _options(client, support_ticket, department="99999999999")
    assert "John Smith" in options


def test_the_agent_options_of_an_invisible_ticket_are_a_404(client_for, john, sysadmins_ticket):
    response, _ = _options(client_for(john), sysadmins_ticket)
    assert response.status_code == 404


def test_the_route_post_has_a_bounded_query_count(
    client_for, john, org, support_ticket, django_assert_max_num_queries
):
    client = client_for(john)
    client.get(url(support_ticket))  # Session and caches warm.
    with django_assert_max_num_queries(45):
        response = _route(client, support_ticket, {
            "department": support_ticket.department_id, "priority": org.priority("high").pk,
            "sla_plan": org.sla("Sev-B").pk, "help_topic": org.topic("Hardware").pk,
            "assignee": john.pk, "team": org.team("Level 1 Support").pk,
            "apply_topic_defaults": "on",
        })  # fmt: skip
    assert response.status_code == 302
