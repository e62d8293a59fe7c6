"""Secrets never reach the audit log: not the value, not its hash; only that it changed."""

import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpline import audit
from helpline.accounts.models import User
from helpline.api.models import ApiKey, Webhook
from helpline.audit.models import AuditEntry
from helpline.mail.models import Mailbox

from .conftest import ADMIN_IP, last_entry

pytestmark = pytest.mark.django_db

MAILBOX_PASSWORD = "Mailbox-Pa55-word"
WEBHOOK_SECRET = "whsec-Do-Not-Log-Me"
NEW_PASSWORD = "Karens-New-Pa55word"


def _whole_log() -> str:
    """Every stored change and label, as one text to search."""
    rows = AuditEntry.objects.values_list("changes", "object_repr", "actor_label")
    return "\n".join(json.dumps(row) for row in rows)


def test_no_secret_or_hash_in_the_log(panel, admin_client, admin_user, karen, capsys, org):
    panel.add(
        Mailbox,
        name="Inbox",
        address="help@helpline.example",
        host="imap.example.com",
        username="help",
        password=MAILBOX_PASSWORD,
    )
    panel.add(
        Webhook,
        name="Hook",
        owner=str(admin_user.pk),
        url="https://hooks.example.com/in",
        secret=WEBHOOK_SECRET,
        events=["ticket.created"],
        is_active="on",
    )
    old_password_hash = karen.password
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[karen.pk]),
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        REMOTE_ADDR=ADMIN_IP,
    )
    assert response.status_code == 302
    call_command("apikey", "create", "john")
    cli_key = capsys.readouterr().out.strip().splitlines()[-1]
    with audit.acting_as("setup script"):
        device = TOTPDevice.objects.create(user=admin_user, name="Phone", confirmed=True)

    karen.refresh_from_db()
    secrets = [
        MAILBOX_PASSWORD,
        WEBHOOK_SECRET,
        NEW_PASSWORD,
        karen.password,
        old_password_hash,
        cli_key,
        ApiKey.objects.get(user__username="john").key_hash,
        device.key,
        Webhook.objects.get(name="Hook").secret,
        Mailbox.objects.get(name="Inbox").password,
    ]
    log = _whole_log()
    for secret in secrets:
        assert secret and secret not in log
    # …while each change is there, marked as such.
    assert last_entry(device).changes["key"] == [None, "(changed)"]
    assert last_entry(karen).changes == {"password": [None, "(changed)"]}
    assert "(changed)" in json.dumps(last_entry(Mailbox.objects.get(name="Inbox")).changes)


def test_password_hash_upgrade_on_sign_in_is_not_a_change(settings, karen, password):
    md5_hash = karen.password
    assert md5_hash.startswith("md5$")
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.ScryptPasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    before = AuditEntry.objects.count()
    user = User.objects.get(pk=karen.pk)
    assert user.check_password(password)  # upgrades the stored hash to scrypt
    user.refresh_from_db()
    assert user.password.startswith("scrypt$")
    assert AuditEntry.objects.count() == before


def test_a_password_made_unusable_is_recorded(karen):
    user = User.objects.get(pk=karen.pk)
    with audit.acting_as("cleanup"):
        user.set_unusable_password()
        user.save()
    assert last_entry(karen).changes == {"password": [None, "(changed)"]}
