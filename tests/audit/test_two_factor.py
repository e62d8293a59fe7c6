"""Two-factor devices: turning it on or off is recorded; setting it up is not; keys never are."""

import pytest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpline import audit
from helpline.audit.models import AuditEntry

from .conftest import entries_for, last_entry

pytestmark = pytest.mark.django_db


def test_authenticator_recorded_once_confirmed(john):
    with audit.acting_as(user=john, channel="web"):
        device = TOTPDevice.objects.create(user=john, name="Authenticator", confirmed=False)
        assert entries_for(device) == []  # being set up: not a change yet

        device.confirmed = True
        device.save(update_fields=["confirmed"])
        turned_on = last_entry(device)
        assert (turned_on.actor, turned_on.channel) == (john, "web")
        assert turned_on.changes == {"confirmed": [False, True]}

        device.save()  # a code was checked: bookkeeping fields only
        assert len(entries_for(device)) == 1

        device_id = device.pk
        device.delete()
    removed = AuditEntry.objects.get(object_id=str(device_id), action="deleted")
    assert removed.object_repr == "Authenticator (John Smith)"
    assert removed.changes["confirmed"] == [True, None]
    assert "key" not in removed.changes
    assert device.key not in str(list(AuditEntry.objects.values_list("changes", flat=True)))


def test_abandoned_setup_leaves_no_trace(john):
    before = AuditEntry.objects.count()
    device = TOTPDevice.objects.create(user=john, name="Authenticator", confirmed=False)
    device.delete()
    assert AuditEntry.objects.count() == before


def test_recovery_codes_device_but_not_the_codes(john):
    with audit.acting_as(user=john, channel="web"):
        device = StaticDevice.objects.create(user=john, name="Recovery codes", confirmed=True)
        StaticToken.objects.create(device=device, token="abcd1234abcd1234")
    entry = last_entry(device)
    assert entry.action == "created"
    assert entry.changes["confirmed"] == [None, True]
    assert "abcd1234abcd1234" not in str(list(AuditEntry.objects.values_list("changes")))
