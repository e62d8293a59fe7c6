"""Attachment storage that fails, and transactions that roll back: a clear error, no orphan file."""

import io
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from helpline.mail.ingest import ingest
from helpline.mail.models import FailedMail, Mailbox, ReceivedMail
from helpline.tickets import actions, files
from helpline.tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db

MAIL = (
    "From: Karen Miller <karen@example.com>\r\nTo: help@helpline.example\r\n"
    "Subject: {subject}\r\nMessage-ID: <{mid}@example.com>\r\nMIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
    "Content-Type: text/plain; charset=utf-8\r\n\r\nSee the log.\r\n--b\r\n"
    'Content-Type: text/plain; name="log.txt"\r\nContent-Disposition: attachment; '
    'filename="log.txt"\r\n\r\nerror 42\r\n--b\r\n'
    'Content-Type: text/plain; name="log2.txt"\r\nContent-Disposition: attachment; '
    'filename="log2.txt"\r\n\r\nerror 43\r\n--b--\r\n'
)


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def mailbox(org):
    return Mailbox.objects.create(
        name="Support", address="help@helpline.example", department=org.dept("Support")
    )


@pytest.fixture
def disk_full(monkeypatch):
    """Storage that refuses every write the way a full disk does (root ignores chmod)."""

    def refuse(self, name, content):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", refuse)
    monkeypatch.setitem(files._last_alert, "at", -files.ALERT_EVERY_SECONDS)


def test_files_of_a_rolled_back_transaction_are_removed(settings, support_ticket, karen):
    new = [actions.NewAttachment("a.txt", b"one", "text/plain", "")]
    with transaction.atomic():
        actions.add_message(karen, support_ticket, "kept", attachments=new)
    kept = stored_files(settings)
    assert len(kept) == 1

    with transaction.atomic():
        actions.add_message(karen, support_ticket, "undone", attachments=new)
        assert len(stored_files(settings)) == 2  # written inside the transaction
        transaction.set_rollback(True)
    assert files.remove_rolled_back() == 1
    assert stored_files(settings) == kept
    assert Attachment.objects.count() == 1


def test_an_open_outer_transaction_keeps_its_files(settings, support_ticket, karen):
    new = [actions.NewAttachment("a.txt", b"one", "text/plain", "")]
    with transaction.atomic():
        actions.add_message(karen, support_ticket, "pending", attachments=new)
        assert files.remove_rolled_back() == 0  # still open: the file may yet be committed
        assert len(stored_files(settings)) == 1
    assert files.remove_rolled_back() == 0
    assert len(stored_files(settings)) == 1


def test_a_mail_whose_transaction_fails_late_leaves_no_file(settings, mailbox, karen, monkeypatch):
    """The database refuses the received-mail row, after the attachments were written: the
    whole message rolls back into failed mail, and its files go too."""

    def refuse(**fields):
        raise IntegrityError("UNIQUE constraint failed: mail_receivedmail.fingerprint")

    monkeypatch.setattr(ReceivedMail.objects, "create", refuse)
    result = ingest(MAIL.format(subject="Printer", mid="r1").encode(), mailbox)
    assert result.outcome == "failed" and FailedMail.objects.count() == 1
    assert not Ticket.objects.exists() and not Attachment.objects.exists()
    assert stored_files(settings) == []


def test_full_disk_on_the_portal_is_a_503_with_the_reason(client, ticket_form, settings, disk_full):
    settings.ADMINS = [("Ops", "ops@helpline.example")]
    log = SimpleUploadedFile("log.txt", b"error 42", content_type="text/plain")
    form = ticket_form(subject="Printer", attachments=[log])
    response = client.post("/tickets/new/", form)
    assert response.status_code == 503 and response["Retry-After"] == "120"
    assert "No space left on device" in response.content.decode()
    assert not Ticket.objects.exists() and stored_files(settings) == []
    alerts = [m for m in mail.outbox if m.to == ["ops@helpline.example"]]
    assert len(alerts) == 1 and "No space left on device" in alerts[0].body
    client.post("/tickets/new/", form)  # told once an hour, not on every request
    assert len([m for m in mail.outbox if m.to == ["ops@helpline.example"]]) == 1


def test_full_disk_leaves_mail_on_the_server(settings, mailbox, karen, disk_full, monkeypatch):
    raw = MAIL.format(subject="Printer", mid="d1").encode()
    with pytest.raises(files.StorageUnavailable):
        ingest(raw, mailbox)
    assert not ReceivedMail.objects.exists() and not FailedMail.objects.exists()
    assert not Ticket.objects.exists()

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    with pytest.raises(CommandError) as failed:
        call_command("mail", "pipe", "--mailbox", "Support")
    assert failed.value.returncode == 75  # EX_TEMPFAIL: the MTA tries again later
    assert "No space left on device" in str(failed.value)


def test_a_second_file_failing_removes_the_first(settings, support_ticket, karen, monkeypatch):
    real = FileSystemStorage._save
    calls = []

    def second_fails(self, name, content):
        calls.append(name)
        if len(calls) == 2:
            raise OSError(30, "Read-only file system")
        return real(self, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", second_fails)
    new = [actions.NewAttachment(n, b"x", "text/plain", "") for n in ("a.txt", "b.txt")]
    with pytest.raises(files.StorageUnavailable, match="Read-only file system"):
        actions.add_message(karen, support_ticket, "two files", attachments=new)
    assert stored_files(settings) == [] and not Attachment.objects.exists()


def test_full_disk_through_the_api_is_a_json_503(client, karen, disk_full):
    from helpline.api.models import ApiKey

    _, key = ApiKey.issue(karen, name="k", scopes=["tickets:read", "tickets:write"])
    body = {
        "subject": "Invoice",
        "body": "Attached.",
        "attachments": [
            {"filename": "a.pdf", "content_type": "application/pdf", "content_base64": "JVBERg=="}
        ],
    }
    response = client.post(
        "/api/v1/tickets", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 503 and response["Retry-After"] == "120"
    assert "No space left on device" in response.json()["detail"]
    assert not Ticket.objects.exists()
