"""PATCH /tickets/{number} routes through actions.route: all or nothing, version checked once."""

from helpline.accounts.models import DepartmentAccess
from helpline.tickets import actions
from helpline.tickets.models import Event, Ticket


def _open_sysadmins(greg, org):
    return actions.open_ticket(
        greg, requester=greg, subject="CFO's laptop", body="Dead.",
        help_topic=org.topic("Sev-A Emergency"),
    )  # fmt: skip


def test_the_issues_scenario_through_patch_changes_nothing(api_as, john, greg, org):
    DepartmentAccess.objects.create(
        agent=john.agent, department=org.dept("SysAdmins"), role=org.role("Expanded Access")
    )
    ticket = _open_sysadmins(greg, org)
    events = Event.objects.filter(ticket=ticket).count()
    # SLA Sev-C and priority low are fine; the due time without a zone is not: nothing is saved.
    response = api_as(john).patch(
        f"/tickets/{ticket.number}",
        {"sla_plan": "Sev-C", "priority": "low", "due_at": "2031-05-06T15:00:00"},
    )
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["due_at"]
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.version == ticket.version and fresh.sla_plan == org.sla("Sev-A")
    assert fresh.priority.name == "emergency"
    assert Event.objects.filter(ticket=ticket).count() == events


def test_an_unknown_reference_is_a_404_before_anything(john_api, karen, org):
    ticket = actions.open_ticket(karen, requester=karen, subject="Printer", body="Jams.")
    response = john_api.patch(
        f"/tickets/{ticket.number}", {"priority": "high", "sla_plan": "No such plan"}
    )
    assert response.status_code == 404 and "sla_plan" in response.json()["errors"]
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version


def test_a_stale_version_is_409_even_with_nothing_to_route(john_api, karen):
    ticket = actions.open_ticket(karen, requester=karen, subject="Printer", body="Jams.")
    response = john_api.patch(
        f"/tickets/{ticket.number}", {"subject": "Printer (3rd floor)", "version": 999}
    )
    assert response.status_code == 409
    assert Ticket.objects.get(pk=ticket.pk).subject == "Printer"


def test_a_topic_change_by_patch_changes_only_the_topic(john_api, karen, org):
    ticket = actions.open_ticket(
        karen, requester=karen, subject="Printer", body="Jams.",
        help_topic=org.topic("General Inquiry"),
    )  # fmt: skip
    response = john_api.patch(
        f"/tickets/{ticket.number}", {"help_topic": "Hardware", "version": ticket.version}
    )
    assert response.status_code == 200, response.content
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.help_topic == org.topic("Hardware") and fresh.sla_plan == org.sla("Sev-C")
    assert fresh.version == ticket.version + 1
