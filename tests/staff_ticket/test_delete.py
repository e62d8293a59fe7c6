"""Deleting a ticket: only roles with "delete", confirmed by typing the number, for good."""

import json

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from helpline.accounts.models import DepartmentAccess, User
from helpline.api.models import ApiKey, Scope
from helpline.tickets import access, actions
from helpline.tickets.models import Attachment, Event, ThreadEntry, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ticket_with_file(support_ticket, john):
    actions.reply(
        john,
        support_ticket,
        "Here is the log.",
        attachments=[actions.NewAttachment("log.txt", b"line 1\n", "text/plain")],
    )
    return support_ticket


@pytest.fixture
def deleter(john, org):
    """John with the All Access role in Support (which holds "delete")."""
    agent = john.agent
    agent.role = org.role("All Access")
    agent.save()
    DepartmentAccess.objects.filter(agent=agent).delete()
    return User.objects.get(pk=john.pk)  # Fresh: access.py caches roles on the user object.


def _gone(number: str) -> bool:
    return not Ticket.objects.filter(number=number).exists()


def test_a_role_without_delete_is_refused_and_nothing_changes(ticket_with_file, john):
    entries = ThreadEntry.objects.filter(ticket=ticket_with_file).count()
    with pytest.raises(access.AccessDenied):
        actions.delete_ticket(john, ticket_with_file)
    assert ThreadEntry.objects.filter(ticket=ticket_with_file).count() == entries
    assert not _gone(ticket_with_file.number)


def test_delete_removes_thread_history_files_and_search_row(ticket_with_file, deleter):
    number, pk = ticket_with_file.number, ticket_with_file.pk
    names = list(Attachment.objects.filter(entry__ticket=pk).values_list("file", flat=True))
    assert names and all(default_storage.exists(n) for n in names)
    summary = actions.delete_ticket(deleter, ticket_with_file, reason="Duplicate by mistake")
    assert summary["number"] == number and summary["attachments"] == 1
    assert summary["entries"] == 2
    assert _gone(number)
    assert not ThreadEntry.objects.filter(ticket_id=pk).exists()
    assert not Event.objects.filter(ticket_id=pk).exists()
    assert not any(default_storage.exists(n) for n in names)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM search_ticket_fts WHERE rowid = %s", [pk])
            assert cursor.fetchone()[0] == 0


def test_a_ticket_merged_into_a_deleted_one_keeps_its_own_history(org, karen, deleter):
    first = actions.open_ticket(karen, requester=karen, subject="A", body="a")
    second = actions.open_ticket(karen, requester=karen, subject="B", body="b")
    actions.merge(deleter, first, second)
    actions.delete_ticket(deleter, second)
    first.refresh_from_db()
    assert first.merged_into_id is None
    assert Event.objects.filter(ticket=first).exists()


def test_the_page_offers_delete_only_to_roles_that_allow_it(client_for, support_ticket, john):
    page = client_for(john).get(f"/staff/tickets/{support_ticket.number}/").content.decode()
    assert 'id="delete-form"' not in page
    response = client_for(john).post(
        f"/staff/tickets/{support_ticket.number}/delete/", {"confirm": support_ticket.number}
    )
    assert response.status_code == 403
    assert not _gone(support_ticket.number)


def test_the_number_must_be_typed_to_confirm(client_for, support_ticket, deleter):
    client = client_for(deleter)
    url = f"/staff/tickets/{support_ticket.number}/"
    assert 'id="delete-form"' in client.get(url).content.decode()
    response = client.post(f"{url}delete/", {"confirm": "123", "reason": "x"})
    assert response.status_code == 400
    assert "is not this ticket&#x27;s number" in response.content.decode()
    assert not _gone(support_ticket.number)
    response = client.post(f"{url}delete/", {"confirm": f"#{support_ticket.number}"})
    assert response.status_code == 302
    assert _gone(support_ticket.number)
    assert client.get(url).status_code == 404


def _api(client, key, method, path):
    return getattr(client, method)(f"/api/v1{path}", headers={"Authorization": f"Bearer {key}"})


def test_api_delete_needs_the_permission(client, support_ticket, john):
    _, key = ApiKey.issue(john, name="k", scopes=[Scope.TICKETS_READ, Scope.TICKETS_WRITE])
    response = _api(client, key, "delete", f"/tickets/{support_ticket.number}")
    assert response.status_code == 403
    assert "detail" in json.loads(response.content)
    assert not _gone(support_ticket.number)


def test_api_delete_then_404(client, support_ticket, deleter):
    _, key = ApiKey.issue(deleter, name="k", scopes=[Scope.TICKETS_READ, Scope.TICKETS_WRITE])
    response = _api(client, key, "delete", f"/tickets/{support_ticket.number}?reason=spam")
    assert response.status_code == 204
    assert _api(client, key, "get", f"/tickets/{support_ticket.number}").status_code == 404


def test_the_audit_log_keeps_what_was_deleted_and_by_whom(client_for, support_ticket, deleter):
    from helpline.audit.models import Action, AuditEntry

    number, subject = support_ticket.number, support_ticket.subject
    client_for(deleter).post(
        f"/staff/tickets/{number}/delete/", {"confirm": number, "reason": "Opened twice"}
    )
    entry = AuditEntry.objects.get(action=Action.DELETED, content_type__model="ticket")
    assert entry.actor_id == deleter.pk and entry.channel == "web"
    assert entry.object_id == str(support_ticket.pk)
    assert number in entry.object_repr
    assert entry.changes["subject"] == [subject, None]
    assert entry.changes["reason"] == [None, "Opened twice"]
