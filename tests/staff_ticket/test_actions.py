"""The ticket page's POST endpoints: each calls its action, redirects, and explains bad input."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from helpline.accounts.models import Agent, Role, User
from helpline.tickets import actions
from helpline.tickets.models import EntryKind, EventKind, State, Ticket
from tests.staff_ticket.conftest import url


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _post(client, ticket, action, data):
    return client.post(url(ticket, action), data)


# ---------------------------------------------------------------------------------------------
# Reply and internal note


def test_reply_with_status_resolved(
    client_for, john, karen, org, support_ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client_for(john), support_ticket, "reply", {
            "version": support_ticket.version, "body": "Fixed: the certificate was renewed.",
            "status": org.status("Resolved").pk,
        })  # fmt: skip
    support_ticket.refresh_from_db()
    reply = support_ticket.entries.get(kind=EntryKind.REPLY)
    assert response.status_code == 302
    assert response["Location"] == f"{url(support_ticket)}#entry-{reply.pk}"
    assert support_ticket.state == State.RESOLVED and support_ticket.first_responded_at
    assert reply.body_text == "Fixed: the certificate was renewed."
    assert any(karen.email in m.to and "certificate was renewed" in m.body for m in mail.outbox)
    assert "Reply sent to Karen Miller. Status: Resolved." in _messages(response)


def test_a_note_is_not_mailed_to_the_requester(
    client_for, john, karen, support_ticket, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client_for(john), support_ticket, "note", {
            "version": support_ticket.version, "body": "Customer sounds upset; call back.",
        })  # fmt: skip
    assert response.status_code == 302
    note = support_ticket.entries.get(kind=EntryKind.NOTE)
    assert note.body_text == "Customer sounds upset; call back."
    assert not any(karen.email in m.to for m in mail.outbox)
    assert not any("call back" in m.body for m in mail.outbox)


def test_reply_with_attachments(client_for, john, support_ticket):
    files = [SimpleUploadedFile("a.txt", b"alpha"), SimpleUploadedFile("b.txt", b"beta")]
    response = _post(client_for(john), support_ticket, "reply", {
        "version": support_ticket.version, "body": "Two files.", "attachments": files,
    })  # fmt: skip
    assert response.status_code == 302
    reply = support_ticket.entries.get(kind=EntryKind.REPLY)
    assert sorted(reply.attachments.values_list("filename", "size")) == [("a.txt", 5), ("b.txt", 4)]


def test_an_empty_reply_is_refused_with_a_message(client_for, john, support_ticket):
    response = _post(client_for(john), support_ticket, "reply", {
        "version": support_ticket.version, "body": "   ",
    })  # fmt: skip
    assert response.status_code == 400
    assert "Write something (or attach a file) before sending." in response.content.decode()
    assert not support_ticket.entries.filter(kind=EntryKind.REPLY).exists()


def test_a_file_over_the_limit_is_refused(client_for, john, settings, support_ticket):
    settings.HELPLINE_MAX_ATTACHMENT_BYTES = 1024
    response = _post(client_for(john), support_ticket, "note", {
        "version": support_ticket.version, "body": "See log",
        "attachments": [SimpleUploadedFile("big.log", b"x" * 2048)],
    })  # fmt: skip
    assert response.status_code == 400
    page = response.content.decode()
    assert "“big.log” is 2.0\xa0KB; the limit is 1.0\xa0KB per file." in page
    # The typed note is kept and the note tab is the one shown.
    assert "See log</textarea>" in page
    assert (
        'id="note-tab" role="tab" aria-controls="note-panel"\n              aria-selected="true"'
        in page
    )
    assert not support_ticket.entries.filter(kind=EntryKind.NOTE).exists()


def test_too_many_files_are_refused(client_for, john, settings, support_ticket):
    settings.HELPLINE_MAX_ATTACHMENTS = 2
    files = [SimpleUploadedFile(f"f{i}.txt", b"x") for i in range(3)]
    response = _post(client_for(john), support_ticket, "reply", {
        "version": support_ticket.version, "body": "Files", "attachments": files,
    })  # fmt: skip
    assert response.status_code == 400
    assert "at most 2 files to one message; you chose 3" in response.content.decode()
    assert not support_ticket.entries.filter(kind=EntryKind.REPLY).exists()


def test_a_stale_reply_keeps_the_typed_text(client_for, john, org, support_ticket):
    client = client_for(john)
    seen = support_ticket.version
    actions.set_priority(john, support_ticket, org.priority("high"))  # Someone else, meanwhile.
    response = _post(client, support_ticket, "reply", {
        "version": seen, "body": "My carefully typed answer.",
    })  # fmt: skip
    assert response.status_code == 409
    page = response.content.decode()
    assert "My carefully typed answer.</textarea>" in page
    assert (
        "changed meanwhile: see the new entries above; your reply was not sent — send again" in page
    )
    assert "John Smith changed the priority from normal to high" in page
    assert not support_ticket.entries.filter(kind=EntryKind.REPLY).exists()
    support_ticket.refresh_from_db()
    # The re-rendered form carries the new version, so sending again works.
    assert f'name="version" value="{support_ticket.version}" id="reply_version"' in page
    again = _post(client, support_ticket, "reply", {
        "version": support_ticket.version, "body": "My carefully typed answer.",
    })  # fmt: skip
    assert again.status_code == 302
    assert support_ticket.entries.filter(kind=EntryKind.REPLY).count() == 1


# ---------------------------------------------------------------------------------------------
# Route


def test_john_routes_the_outage_in_one_post(client_for, john, org, support_ticket):
    response = _post(client_for(john), support_ticket, "route", {
        "version": support_ticket.version,
        "department": org.dept("Online Banking").pk,
        "assignee": "",
        "team": org.team("Online Banking Team").pk,
        "sla_plan": org.sla("Sev-A").pk,
        "priority": support_ticket.priority_id,
        "help_topic": org.topic("Business Critical Outage").pk,
    })  # fmt: skip
    ticket = Ticket.objects.get(pk=support_ticket.pk)
    assert ticket.department == org.dept("Online Banking")
    assert ticket.team == org.team("Online Banking Team")
    assert ticket.sla_plan == org.sla("Sev-A")
    assert ticket.help_topic == org.topic("Business Critical Outage")
    kinds = list(ticket.events.order_by("created_at", "id").values_list("kind", flat=True))
    for kind in (EventKind.SLA, EventKind.HELP_TOPIC, EventKind.ASSIGNED, EventKind.TRANSFERRED):
        assert kinds.count(kind) == 1, kind
    # Field changes first; the hand-over (transfer, then the team) last, in one action.
    assert kinds.index(EventKind.TRANSFERRED) > kinds.index(EventKind.HELP_TOPIC)
    assert kinds.index(EventKind.ASSIGNED) == kinds.index(EventKind.TRANSFERRED) + 1
    # John can no longer see it: he is sent to the dashboard, told where the ticket went.
    assert response.status_code == 302
    assert response["Location"] == "/staff/"
    [message] = _messages(response)
    assert message.startswith(f"Ticket #{ticket.number} transferred to Online Banking")
    assert "assigned to Online Banking Team" in message and "no longer have access" in message
    assert client_for(john).get(url(ticket)).status_code == 404


def test_routing_he_can_still_see_returns_to_the_ticket(client_for, john, org, support_ticket):
    response = _post(client_for(john), support_ticket, "route", {
        "version": support_ticket.version, "assignee": john.pk,
        "priority": org.priority("high").pk,
    })  # fmt: skip
    assert response.status_code == 302 and response["Location"] == url(support_ticket) + "#main"
    support_ticket.refresh_from_db()
    assert support_ticket.assignee == john and support_ticket.priority.name == "high"
    [message] = _messages(response)
    assert "priority set to high" in message and "assigned to John Smith" in message


def test_an_unchanged_route_form_changes_nothing(client_for, john, support_ticket):
    version = support_ticket.version
    response = _post(client_for(john), support_ticket, "route", {
        "version": version, "department": support_ticket.department_id,
        "priority": support_ticket.priority_id, "sla_plan": support_ticket.sla_plan_id,
        "help_topic": support_ticket.help_topic_id, "assignee": "", "team": "",
    })  # fmt: skip
    assert response.status_code == 302
    support_ticket.refresh_from_db()
    assert support_ticket.version == version


def test_one_refusal_refuses_the_whole_route(client_for, garnet, org, support_ticket):
    assign_only = Role.objects.create(name="Assign only", can_assign=True)
    Agent.objects.filter(user=garnet).update(role=assign_only)
    version = support_ticket.version
    response = _post(client_for(garnet), support_ticket, "route", {
        "version": version, "team": org.team("Level 1 Support").pk,
        "sla_plan": org.sla("Sev-A").pk,
    })  # fmt: skip
    # All or nothing: the SLA plan is refused, so the team is not set either.
    assert response.status_code == 403
    assert "Your role “Assign only” in Support does not allow" in response.content.decode()
    support_ticket.refresh_from_db()
    assert support_ticket.version == version and support_ticket.team is None
    assert support_ticket.sla_plan == org.sla("Sev-C")


def test_a_tampered_select_gets_a_plain_message(client_for, john, support_ticket):
    version = support_ticket.version
    response = _post(client_for(john), support_ticket, "route", {
        "version": version, "department": "999999", "assignee": "not-a-number",
    })  # fmt: skip
    assert response.status_code == 400
    page = response.content.decode()
    assert "Unknown department: choose one from the list." in page
    assert "Unknown agent: choose one from the list." in page
    support_ticket.refresh_from_db()
    assert support_ticket.version == version


def test_assigning_an_agent_who_cannot_work_it_is_explained(
    client_for, john, org, sysadmins_ticket
):
    from helpline.accounts.models import DepartmentAccess

    DepartmentAccess.objects.create(
        agent=john.agent, department=org.dept("SysAdmins"), role=org.role("Expanded Access")
    )
    garnet = User.objects.get(username="garnet")
    response = _post(client_for(john), sysadmins_ticket, "route", {
        "version": sysadmins_ticket.version, "assignee": garnet.pk,
    })  # fmt: skip
    assert response.status_code == 400
    assert "Garnet Jones has no access to SysAdmins and cannot be assigned." in (
        response.content.decode()
    )


# ---------------------------------------------------------------------------------------------
# Status, due time, collaborators, merge


def test_status_change(client_for, john, org, support_ticket):
    response = _post(client_for(john), support_ticket, "status", {
        "version": support_ticket.version, "status": org.status("Work in Progress").pk,
        "reason": "Investigating",
    })  # fmt: skip
    assert response.status_code == 302
    support_ticket.refresh_from_db()
    assert support_ticket.status.name == "Work in Progress"
    assert support_ticket.events.get(kind=EventKind.STATUS).reason == "Investigating"


def test_due_time_is_read_in_the_agents_time_zone(client_for, john, support_ticket):
    Agent.objects.filter(user=john).update(timezone="Europe/Berlin")
    response = _post(client_for(john), support_ticket, "due", {
        "version": support_ticket.version, "due_at": "2030-01-02T10:30",
    })  # fmt: skip
    assert response.status_code == 302
    support_ticket.refresh_from_db()
    assert support_ticket.due_at == datetime(2030, 1, 2, 10, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert support_ticket.due_at_manual
    assert "Due time set to Wed 2 Jan 2030, 10:30." in _messages(response)

    reset = _post(client_for(john), support_ticket, "due", {
        "version": support_ticket.version, "reset": "1",
    })  # fmt: skip
    assert reset.status_code == 302
    support_ticket.refresh_from_db()
    assert not support_ticket.due_at_manual


@pytest.mark.parametrize(
    ("due_at", "message"),
    [
        ("not a date", "Enter a valid date and time"),
        ("2030-13-45T99:99", "Enter a valid date and time"),
        ("", "Enter a due time, or reset it to the SLA plan&#x27;s."),
    ],
)
def test_an_invalid_due_time_is_explained(client_for, john, support_ticket, due_at, message):
    version = support_ticket.version
    response = _post(
        client_for(john), support_ticket, "due", {"version": version, "due_at": due_at}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    support_ticket.refresh_from_db()
    assert support_ticket.version == version


def test_collaborators_are_added_by_email_and_removed(client_for, john, support_ticket):
    client = client_for(john)
    response = _post(client, support_ticket, "collaborators", {
        "email": "Pat.Boss@Example.com", "name": "Pat Boss",
    })  # fmt: skip
    assert response.status_code == 302
    pat = User.objects.get(email__iexact="pat.boss@example.com")
    assert pat.name == "Pat Boss"
    assert support_ticket.collaborators.filter(user=pat).exists()
    page = client.get(url(support_ticket)).content.decode()
    assert "Pat Boss" in page and f'name="remove" value="{pat.pk}"' in page

    response = _post(client, support_ticket, "collaborators", {"remove": pat.pk})
    assert response.status_code == 302
    assert not support_ticket.collaborators.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"email": "karen@example.com"}, "Karen Miller is the requester of this ticket already."),
    ],
)
def test_bad_collaborators_are_explained(client_for, john, support_ticket, data, message):
    response = _post(client_for(john), support_ticket, "collaborators", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not support_ticket.collaborators.exists()


def test_merge_into_another_ticket(client_for, john, karen, support_ticket):
    other = actions.open_ticket(karen, requester=karen, subject="Still down", body="Again")
    response = _post(client_for(john), support_ticket, "merge", {"into": f"#{other.number}"})
    assert response.status_code == 302 and response["Location"] == url(other) + "#main"
    support_ticket.refresh_from_db()
    assert support_ticket.merged_into == other and support_ticket.is_closed
    assert other.entries.count() == 2
    page = client_for(john).get(url(support_ticket)).content.decode()
    assert "This ticket was merged into" in page


@pytest.mark.parametrize(
    ("into", "message"),
    [("999999999", "There is no ticket #999999999 that you can see."),
     ("SELF", "A ticket cannot be merged into itself.")],
)  # fmt: skip
def test_bad_merges_are_explained(client_for, john, support_ticket, into, message):
    into = support_ticket.number if into == "SELF" else into
    response = _post(client_for(john), support_ticket, "merge", {"into": into})
    assert response.status_code == 400
    assert message in response.content.decode()
    support_ticket.refresh_from_db()
    assert support_ticket.merged_into is None and not support_ticket.is_closed


def test_merge_into_a_ticket_out_of_sight_is_refused(
    client_for, john, support_ticket, sysadmins_ticket
):
    response = _post(client_for(john), support_ticket, "merge", {"into": sysadmins_ticket.number})
    assert response.status_code == 400
    assert f"There is no ticket #{sysadmins_ticket.number} that you can see." in (
        response.content.decode()
    )
