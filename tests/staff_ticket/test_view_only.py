"""Scenario 3: John with view-only access to SysAdmins sees the ticket read-only, and the server
refuses every change he forges."""

import pytest

from helpline.accounts.models import DepartmentAccess
from helpline.tickets.models import Status
from helpline.tickets.views.staff_ticket_common import NO_ACCESS
from tests.staff_ticket.conftest import url

FORMS = ("reply-form", "note-form", "route-form", "status-form", "due-form", "merge-form",
         "collaborator-form", "reply-tab", "note-tab")  # fmt: skip


@pytest.fixture
def view_only_john(john, org):
    DepartmentAccess.objects.create(
        agent=john.agent, department=org.dept("SysAdmins"), role=org.role("View only")
    )
    return john


def test_without_access_john_gets_no_access(client_for, john, sysadmins_ticket):
    response = client_for(john).get(url(sysadmins_ticket))
    assert response.status_code == 404
    assert NO_ACCESS in response.content.decode()


def test_view_only_john_sees_the_ticket_read_only(client_for, view_only_john, sysadmins_ticket):
    response = client_for(view_only_john).get(url(sysadmins_ticket))
    assert response.status_code == 200
    page = response.content.decode()
    assert sysadmins_ticket.subject.replace("'", "&#x27;") in page
    assert "Dead since the update." in page
    for form in FORMS:
        assert f'id="{form}"' not in page, form
    assert "your role “View only” in SysAdmins allows no changes" in page


def _forged_posts(org, support_ticket, sysadmins_ticket):
    version = str(sysadmins_ticket.version)
    return {
        "reply": {
            "version": version,
            "body": "Forged reply",
            "status": str(org.status("Resolved").pk),
        },
        "note": {"version": version, "body": "Forged note"},
        "route": {
            "version": version,
            "department": str(org.dept("Support").pk),
            "priority": str(org.priority("low").pk),
            "sla_plan": str(org.sla("Sev-C").pk),
            "team": str(org.team("Level 1 Support").pk),
        },
        "status": {"version": version, "status": str(org.status("Closed").pk)},
        "due": {"version": version, "due_at": "2030-01-01T10:00"},
        "due-reset": {"version": version, "reset": "1"},
        "collaborators": {"email": "mallory@example.com", "name": "Mallory"},
        "collaborators-remove": {"remove": str(sysadmins_ticket.requester_id)},
        "merge": {"into": support_ticket.number},
    }


def _state(ticket):
    ticket.refresh_from_db()
    return (ticket.version, ticket.status_id, ticket.department_id, ticket.priority_id,
            ticket.due_at, ticket.entries.count(), ticket.events.count(),
            ticket.collaborators.count())  # fmt: skip


def test_every_forged_post_is_refused_and_changes_nothing(
    client_for, view_only_john, org, support_ticket, sysadmins_ticket
):
    client = client_for(view_only_john)
    before = _state(sysadmins_ticket)
    support_before = _state(support_ticket)
    from helpline.accounts.models import User

    people = User.objects.count()
    for endpoint, data in _forged_posts(org, support_ticket, sysadmins_ticket).items():
        action = endpoint.split("-")[0]
        response = client.post(url(sysadmins_ticket, action), data)
        assert response.status_code == 403, endpoint
        page = response.content.decode()
        assert "View only" in page and "Nothing was changed." in page, endpoint
    assert _state(sysadmins_ticket) == before
    assert _state(support_ticket) == support_before
    assert User.objects.count() == people
    assert not Status.objects.get(pk=before[1]).is_closed


def test_a_forged_post_on_an_invisible_ticket_is_a_404(client_for, jane, support_ticket):
    version = support_ticket.version
    response = client_for(jane).post(url(support_ticket, "note"), {"version": version, "body": "x"})
    assert response.status_code == 404
    assert NO_ACCESS in response.content.decode()
    support_ticket.refresh_from_db()
    assert support_ticket.version == version


def test_get_on_a_post_endpoint_is_not_allowed(client_for, john, support_ticket):
    assert client_for(john).get(url(support_ticket, "reply")).status_code == 405


def test_garnet_sees_only_the_controls_her_role_allows(client_for, garnet, org, support_ticket):
    client = client_for(garnet)
    page = client.get(url(support_ticket)).content.decode()
    for allowed in ("reply-form", "note-form", "status-form"):
        assert f'id="{allowed}"' in page, allowed
    for refused in ("route-form", "due-form", "merge-form", "collaborator-form"):
        assert f'id="{refused}"' not in page, refused
    version = support_ticket.version
    response = client.post(
        url(support_ticket, "route"),
        {
            "version": version,
            "sla_plan": org.sla("Sev-A").pk,
            "team": org.team("Level 1 Support").pk,
        },
    )
    assert response.status_code == 403
    assert "Limited Access" in response.content.decode()
    support_ticket.refresh_from_db()
    assert support_ticket.version == version and support_ticket.team is None


def test_closing_needs_the_close_permission(client_for, garnet, org, support_ticket):
    from helpline.accounts.models import Agent, Role

    no_close = Role.objects.create(name="No closing", can_reply=True, can_status=True)
    Agent.objects.filter(user=garnet).update(role=no_close)
    client = client_for(garnet)
    page = client.get(url(support_ticket)).content.decode()
    status_select = page.split('id="status_status"')[1].split("</select>")[0]
    assert "Work in Progress" in status_select and "Closed" not in status_select
    version = support_ticket.version
    for action in ("status", "reply"):
        response = client.post(
            url(support_ticket, action),
            {"version": version, "status": org.status("Closed").pk, "body": "Closing."},
        )
        assert response.status_code == 403, action
        assert "does not allow you to resolve and close" in response.content.decode()
    support_ticket.refresh_from_db()
    assert support_ticket.version == version and support_ticket.entries.count() == 1


def test_a_damaged_version_field_is_explained(client_for, john, support_ticket):
    response = client_for(john).post(url(support_ticket, "note"), {"version": "abc", "body": "x"})
    assert response.status_code == 400
    assert "This form is damaged: reload the ticket and try again." in response.content.decode()
