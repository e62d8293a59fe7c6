"""Admin panel pages of the email channel: they load, validate and re-process."""

import pytest
from django.urls import reverse

from helpline.mail.models import BannedAddress, EmailTemplate, FailedMail, Mailbox
from helpline.tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize(
    "model", ["mailbox", "failedmail", "bannedaddress", "receivedmail", "emailtemplate"]
)
def test_changelists_and_add_pages_load(admin_client, model):
    assert admin_client.get(reverse(f"admin:mail_{model}_changelist")).status_code == 200
    add = admin_client.get(reverse(f"admin:mail_{model}_add"))
    assert add.status_code in (200, 403)  # failed and received mail cannot be added by hand


def test_new_template_starts_from_the_shipped_default(admin_client):
    page = admin_client.get(reverse("admin:mail_emailtemplate_add") + "?kind=reply")
    assert "entry.body" in page.content.decode()


def test_broken_template_is_refused_with_a_message(admin_client):
    response = admin_client.post(
        reverse("admin:mail_emailtemplate_add"),
        {"kind": "reply", "subject": "{% if %}", "body_text": "x", "enabled": "on"},
    )
    assert response.status_code == 200
    assert "Template error" in response.content.decode()
    assert not EmailTemplate.objects.exists()


def test_ban_entry_is_validated(admin_client):
    response = admin_client.post(
        reverse("admin:mail_bannedaddress_add"), {"pattern": "not an address"}
    )
    assert response.status_code == 200 and not BannedAddress.objects.exists()
    admin_client.post(reverse("admin:mail_bannedaddress_add"), {"pattern": " @Spam.Example "})
    assert BannedAddress.objects.get().pattern == "@spam.example"


def test_mailbox_password_is_kept_when_left_empty(admin_client, org):
    mailbox = Mailbox.objects.create(
        name="Support",
        address="help@helpline.example",
        host="imap.example",
        username="u",
        password="secret",
    )
    url = reverse("admin:mail_mailbox_change", args=[mailbox.pk])
    page = admin_client.get(url)
    assert "secret" not in page.content.decode()
    data = {
        "name": "Support",
        "address": "help@helpline.example",
        "active": "on",
        "host": "imap.example",
        "port": "993",
        "security": "tls",
        "username": "u",
        "password": "",
        "folder": "INBOX",
        "after_fetch": "seen",
        "move_to": "",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    mailbox.refresh_from_db()
    assert mailbox.password == "secret"


def test_reprocess_action(admin_client, ken):
    failed = FailedMail.objects.create(
        raw=b"From: ken@example.com\r\nSubject: hello\r\n\r\nbody\r\n", error="database was down"
    )
    response = admin_client.post(
        reverse("admin:mail_failedmail_changelist"),
        {"action": "reprocess", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert response.status_code == 200
    failed.refresh_from_db()
    assert failed.reprocessed_at and failed.outcome.startswith("new_ticket")
    assert Ticket.objects.filter(requester=ken).exists()
    page = admin_client.get(reverse("admin:mail_failedmail_change", args=[failed.pk]))
    assert page.status_code == 200 and "Subject: hello" in page.content.decode()
