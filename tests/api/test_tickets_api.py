"""/api/v1/tickets: list, read, open, and work tickets as the agent panel would."""

import base64

import pytest
from django.utils import timezone

from helpline.tickets import actions
from helpline.tickets.models import Collaborator, EntryKind, State, Ticket

pytestmark = pytest.mark.django_db


def _open(user, subject="Printer jams", requester=None, **fields):
    return actions.open_ticket(
        user, requester=requester or user, subject=subject, body="Details inside.", **fields
    )


def _numbers(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [t["number"] for t in response.json()["items"]]


# ---------------------------------------------------------------------------------------------
# Listing


def test_list_shows_only_visible_tickets(john_api, karen, org):
    support = _open(karen, department=org.dept("Support"))
    sysadmins = _open(karen, "Server down", department=org.dept("SysAdmins"))
    numbers = _numbers(john_api.get("/tickets"))
    assert support.number in numbers and sysadmins.number not in numbers


def test_list_filters(john_api, john, karen, ken, org):
    high = _open(karen, "Printer on fire", priority=org.priority("high"))
    mine = _open(ken, "VPN", team=None)
    actions.assign(john, mine, agent=john)
    pending = _open(karen, "Waiting on Karen")
    actions.set_status(john, pending, org.status("Pending"))

    assert _numbers(john_api.get("/tickets", {"priority": org.priority("high").pk})) == [
        high.number
    ]
    assert _numbers(john_api.get("/tickets", {"assignee": "me"})) == [mine.number]
    assert set(_numbers(john_api.get("/tickets", {"assignee": "nobody"}))) == {
        high.number,
        pending.number,
    }
    assert _numbers(john_api.get("/tickets", {"state": "pending"})) == [pending.number]
    assert _numbers(john_api.get("/tickets", {"requester": "ken@example.com"})) == [mine.number]
    assert _numbers(john_api.get("/tickets", {"requester": str(ken.pk)})) == [mine.number]
    assert _numbers(john_api.get("/tickets", {"q": "fire"})) == [high.number]
    assert _numbers(john_api.get("/tickets", {"q": high.number})) == [high.number]
    assert _numbers(john_api.get("/tickets", {"source": "email"})) == []
    assert len(_numbers(john_api.get("/tickets", {"overdue": "false"}))) == 3
    assert _numbers(john_api.get("/tickets", {"overdue": "true"})) == []
    today = timezone.localdate(high.created_at).isoformat()
    assert len(_numbers(john_api.get("/tickets", {"created_from": today}))) == 3
    assert _numbers(john_api.get("/tickets", {"created_to": "2000-01-01"})) == []


def test_list_sorts(john_api, karen, org):
    low = _open(karen, "B low", priority=org.priority("low"))
    high = _open(karen, "A high", priority=org.priority("high"))
    assert _numbers(john_api.get("/tickets", {"sort": "-priority"})) == [high.number, low.number]
    assert _numbers(john_api.get("/tickets", {"sort": "subject"})) == [high.number, low.number]
    assert _numbers(john_api.get("/tickets", {"sort": "created"})) == [low.number, high.number]


def test_cursor_pages_are_stable_under_inserts(john_api, karen):
    tickets = [_open(karen, f"Ticket {i}") for i in range(7)]
    first = john_api.get("/tickets", {"sort": "created", "limit": 3})
    assert _numbers(first) == [t.number for t in tickets[:3]]
    cursor = first.json()["next_cursor"]
    _open(karen, "Arrived meanwhile")  # sorts last: must not shift the pages before it
    second = john_api.get("/tickets", {"sort": "created", "limit": 3, "cursor": cursor})
    assert _numbers(second) == [t.number for t in tickets[3:6]]
    third = john_api.get(
        "/tickets", {"sort": "created", "limit": 3, "cursor": second.json()["next_cursor"]}
    )
    assert len(_numbers(third)) == 2 and third.json()["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["garbage", "a" * 900, "W10:1tAAAA:xyz"])
def test_a_bad_cursor_is_a_400(john_api, cursor):
    response = john_api.get("/tickets", {"cursor": cursor})
    assert response.status_code == 400
    assert response.json()["detail"]


def test_a_cursor_for_another_sort_is_a_400(john_api, karen):
    for i in range(3):
        _open(karen, f"T{i}")
    cursor = john_api.get("/tickets", {"limit": 1}).json()["next_cursor"]
    assert john_api.get("/tickets", {"cursor": cursor, "sort": "due"}).status_code == 400


@pytest.mark.parametrize("count", [5, 100])
def test_list_costs_the_same_queries_for_5_or_100_tickets(
    john_api, karen, org, count, django_assert_max_num_queries
):
    for i in range(count):
        ticket = _open(karen, f"Ticket {i}", help_topic=org.topic("Hardware"))
        if i % 2:
            actions.assign(org.dept("Support").manager, ticket, agent=ticket.department.manager)
    john_api.get("/me")  # last_used_at written once, outside the measured request
    with django_assert_max_num_queries(6):
        response = john_api.get("/tickets", {"limit": 100})
    assert len(response.json()["items"]) == count


# ---------------------------------------------------------------------------------------------
# Reading one


def test_get_shows_notes_and_events_to_agents_only(john_api, karen_api, john, karen):
    ticket = _open(karen)
    actions.add_note(john, ticket, "Internal: check the toner.")
    actions.reply(john, ticket, "We are on it.")
    as_agent = john_api.get(f"/tickets/{ticket.number}").json()
    as_requester = karen_api.get(f"/tickets/{ticket.number}").json()
    assert [e["kind"] for e in as_agent["thread"]] == ["message", "note", "reply"]
    assert [e["kind"] for e in as_requester["thread"]] == ["message", "reply"]
    assert as_agent["events"] and as_requester["events"] == []


def test_unknown_ticket_is_404(john_api):
    response = john_api.get("/tickets/000000")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such ticket.", "errors": {}}


# ---------------------------------------------------------------------------------------------
# Opening


def test_agent_opens_a_ticket_for_a_new_requester(john_api, org):
    response = john_api.post(
        "/tickets",
        {
            "subject": "Laptop will not boot",
            "body": "Since this morning.",
            "requester_email": "new.person@example.com",
            "requester_name": "New Person",
            "help_topic": "Hardware",
            "priority": "high",
            "assignee": "garnet",
            "collaborators": ["ken@example.com"],
        },
    )
    assert response.status_code == 201, response.content
    data = response.json()
    ticket = Ticket.objects.get(number=data["number"])
    assert ticket.requester.email == "new.person@example.com"
    assert ticket.requester.name == "New Person"
    assert ticket.help_topic == org.topic("Hardware") and ticket.priority.name == "high"
    assert ticket.assignee.username == "garnet" and ticket.source == "api"
    assert [c["email"] for c in data["collaborators"]] == ["ken@example.com"]


def test_requester_opens_for_themselves_only(karen_api, karen, org):
    topic = org.topic("General Inquiry").pk
    ok = karen_api.post("/tickets", {"subject": "Help", "body": "Please.", "help_topic": topic})
    assert ok.status_code == 201
    assert Ticket.objects.get(number=ok.json()["number"]).requester == karen
    other = karen_api.post(
        "/tickets", {"subject": "Help", "body": "x", "requester_email": "ken@example.com"}
    )
    assert other.status_code == 403
    dept = karen_api.post("/tickets", {"subject": "Help", "body": "x", "department": "SysAdmins"})
    assert dept.status_code == 403 and "department" in dept.json()["detail"]


def test_agent_cannot_open_in_a_department_they_cannot_work(john_api):
    before = Ticket.objects.count()
    response = john_api.post(
        "/tickets",
        {
            "subject": "Root password",
            "body": "x",
            "department": "SysAdmins",
            "requester_email": "someone.new@example.com",
        },
    )
    assert response.status_code == 403
    assert Ticket.objects.count() == before
    from helpline.accounts.models import User

    assert not User.objects.filter(email="someone.new@example.com").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"subject": "", "body": "x"}, "subject"),
        ({"subject": "x" * 300, "body": "x"}, "subject"),
        ({"subject": "Hi", "body": ""}, "body"),
        ({"subject": "Hi", "body": "x", "source": "pigeon"}, "source"),
        ({"subject": "Hi", "body": "x", "requester_email": "not-an-email"}, "requester_email"),
        ({"subject": "Hi\x00", "body": "x"}, "subject"),
        ({"subject": 5, "body": "x"}, "subject"),
        ({"body": "x"}, "subject"),
        ({"subject": "Hi", "body": "x", "team": 2**70}, "team"),
    ],
)
def test_invalid_input_is_422_with_field_errors(john_api, payload, field):
    response = john_api.post("/tickets", payload)
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert any(key == field or key.startswith(f"{field}.") for key in errors), errors


@pytest.mark.parametrize("body", ["{not json", "[]", '"text"', "\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_400_or_422(john_api, body):
    response = john_api.post("/tickets", body)
    assert response.status_code in (400, 422)
    assert response.json()["detail"]


def test_attachments_upload_and_download(john_api, karen_api, john, karen):
    content = b"%PDF-1.4 invoice"
    response = karen_api.post(
        "/tickets",
        {
            "subject": "Invoice",
            "body": "Attached.",
            "attachments": [
                {
                    "filename": "invoice.pdf",
                    "content_type": "application/pdf",
                    "content_base64": base64.b64encode(content).decode(),
                }
            ],
        },
    )
    assert response.status_code == 201, response.content
    number = response.json()["number"]
    (attachment,) = response.json()["thread"][0]["attachments"]
    download = karen_api.client.get(
        attachment["url"], headers={"Authorization": f"Bearer {karen_api.key}"}
    )
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == content
    assert download["Content-Disposition"].startswith("attachment")

    note = john_api.post(
        f"/tickets/{number}/notes",
        {
            "body": "Internal copy",
            "attachments": [{"filename": "secret.txt", "content_base64": "c2VjcmV0"}],
        },
    )
    assert note.status_code == 201
    note_file = note.json()["attachments"][0]["url"]
    headers = {"Authorization": f"Bearer {karen_api.key}"}
    assert karen_api.client.get(note_file, headers=headers).status_code == 404
    headers = {"Authorization": f"Bearer {john_api.key}"}
    assert john_api.client.get(note_file, headers=headers).status_code == 200


def test_bad_base64_is_422_and_a_too_large_file_is_413(john_api, karen, settings):
    ticket = _open(karen)
    bad = john_api.post(
        f"/tickets/{ticket.number}/reply",
        {"body": "x", "attachments": [{"filename": "a", "content_base64": "@@@"}]},
    )
    assert bad.status_code == 422
    settings.HELPLINE_MAX_ATTACHMENT_BYTES = 10
    big = john_api.post(
        f"/tickets/{ticket.number}/reply",
        {"body": "x", "attachments": [{"filename": "a", "content_base64": "QUFBQUFBQUFBQUFB"}]},
    )
    assert big.status_code == 413
    assert ticket.entries.count() == 1


def test_an_oversized_body_is_413(john_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = john_api.post("/tickets", {"subject": "x", "body": "y" * 2000})
    assert response.status_code == 413
    assert response.json()["detail"]


# ---------------------------------------------------------------------------------------------
# Working a ticket


def test_reply_with_status_note_and_stale_version(john_api, karen, org):
    ticket = _open(karen)
    reply = john_api.post(
        f"/tickets/{ticket.number}/reply",
        {"body": "Please try again.", "status": "Pending", "version": ticket.version},
    )
    assert reply.status_code == 201 and reply.json()["kind"] == "reply"
    ticket.refresh_from_db()
    assert ticket.state == State.PENDING
    stale = john_api.post(f"/tickets/{ticket.number}/notes", {"body": "x", "version": 1})
    assert stale.status_code == 409
    assert "changed" in stale.json()["detail"]
    assert not ticket.entries.filter(kind=EntryKind.NOTE).exists()


def test_requester_writes_a_message_that_reopens(karen_api, john, karen, org):
    ticket = _open(karen)
    actions.set_status(john, ticket, org.status("Resolved"))
    response = karen_api.post(f"/tickets/{ticket.number}/messages", {"body": "Still broken."})
    assert response.status_code == 201
    ticket.refresh_from_db()
    assert ticket.state == State.OPEN and ticket.reopened_count == 1


def test_assign_release_transfer_status(john_api, karen, org):
    ticket = _open(karen)
    n = ticket.number
    assigned = john_api.post(f"/tickets/{n}/assign", {"agent": "garnet", "team": "Level 1 Support"})
    assert assigned.status_code == 200
    assert assigned.json()["assignee"]["name"] == "Garnet Jones"
    assert assigned.json()["team"]["name"] == "Level 1 Support"
    released = john_api.post(f"/tickets/{n}/release", {"team": False})
    assert released.json()["assignee"] is None and released.json()["team"] is not None
    status = john_api.post(f"/tickets/{n}/status", {"status": "Work in Progress"})
    assert status.json()["status"]["name"] == "Work in Progress"
    moved = john_api.post(f"/tickets/{n}/transfer", {"department": "Online Banking"})
    assert moved.status_code == 200 and moved.json()["department"]["name"] == "Online Banking"
    # John has no access to Online Banking, and the ticket's team was his: still visible.
    again = john_api.post(f"/tickets/{n}/transfer", {"department": "Online Banking"})
    assert again.status_code == 422


def test_assigning_a_non_agent_is_422(john_api, karen):
    ticket = _open(karen)
    response = john_api.post(f"/tickets/{ticket.number}/assign", {"agent": "ken"})
    assert response.status_code == 422 and "assignee" in response.json()["errors"]


def test_patch_changes_several_fields_at_once(john_api, karen, org):
    ticket = _open(karen)
    response = john_api.patch(
        f"/tickets/{ticket.number}",
        {
            "subject": "Printer jams (3rd floor)",
            "priority": "emergency",
            "sla_plan": "Sev-A",
            "help_topic": "Hardware",
            "due_at": "2031-05-06T15:00:00Z",
            "version": ticket.version,
        },
    )
    assert response.status_code == 200, response.content
    ticket.refresh_from_db()
    assert ticket.subject == "Printer jams (3rd floor)"
    assert ticket.priority.name == "emergency" and ticket.sla_plan.name == "Sev-A"
    assert ticket.help_topic.name == "Hardware" and ticket.due_at_manual
    assert ticket.due_at.isoformat() == "2031-05-06T15:00:00+00:00"
    cleared = john_api.patch(f"/tickets/{ticket.number}", {"due_at": None, "help_topic": None})
    ticket.refresh_from_db()
    assert cleared.status_code == 200 and not ticket.due_at_manual and ticket.help_topic is None


def test_patch_is_all_or_nothing(api_as, garnet, karen, org):
    ticket = _open(karen)
    version = ticket.version
    # Garnet (Limited Access) may change the status but not edit the priority.
    response = api_as(garnet).patch(
        f"/tickets/{ticket.number}", {"status": "Work in Progress", "priority": "high"}
    )
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.version == version and ticket.status.name == "Open"


def test_naive_due_time_is_422(john_api, karen):
    ticket = _open(karen)
    response = john_api.patch(f"/tickets/{ticket.number}", {"due_at": "2031-05-06T15:00:00"})
    assert response.status_code == 422 and "due_at" in response.json()["errors"]


def test_collaborators_and_merge(john_api, karen, ken):
    ticket = _open(karen)
    other = _open(karen, "Same printer")
    added = john_api.post(f"/tickets/{ticket.number}/collaborators", {"email": "ken@example.com"})
    assert added.status_code == 200
    assert Collaborator.objects.filter(ticket=ticket, user=ken).exists()
    removed = john_api.delete(f"/tickets/{ticket.number}/collaborators/{ken.pk}")
    assert removed.status_code == 200
    assert not Collaborator.objects.filter(ticket=ticket, user=ken).exists()
    merged = john_api.post(f"/tickets/{other.number}/merge", {"into": ticket.number})
    assert merged.status_code == 200 and merged.json()["number"] == ticket.number
    other.refresh_from_db()
    assert other.merged_into_id == ticket.pk and other.state == State.CLOSED
    into_self = john_api.post(f"/tickets/{ticket.number}/merge", {"into": ticket.number})
    assert into_self.status_code == 422


def test_reference_endpoints(john_api, karen_api):
    for path in ("/departments", "/teams", "/help-topics", "/priorities", "/statuses"):
        assert john_api.get(path).status_code == 200, path
    assert {a["username"] for a in john_api.get("/agents").json()} >= {"john", "jane"}
    assert "password" not in john_api.get("/agents").content.decode()
    assert [s["name"] for s in john_api.get("/sla-plans").json()] == ["Sev-A", "Sev-B", "Sev-C"]
    assert karen_api.get("/priorities").status_code == 200
    assert karen_api.get("/departments").status_code == 403
    assert karen_api.get("/users", {"email": "ken@example.com"}).status_code == 403
    found = john_api.get("/users", {"email": "KEN@example.com"}).json()
    assert [u["username"] for u in found] == ["ken"]
    created = john_api.post("/users", {"email": "fresh@example.com", "name": "Fresh"})
    assert created.status_code == 201 and created.json()["name"] == "Fresh"
    again = john_api.post("/users", {"email": "fresh@example.com"})
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]


def test_openapi_document_and_docs_are_served(demo):
    from django.test import Client

    client = Client()
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/tickets" in paths and "/api/v1/tickets/{number}/reply" in paths
    assert client.get("/api/v1/docs").status_code == 200
