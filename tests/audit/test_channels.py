"""Who acted, and through which channel: command line, system, agent panel, API."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from helpline import audit
from helpline.accounts.models import Role
from helpline.api.models import ApiKey
from helpline.audit.context import CHANNELS, current_actor
from helpline.audit.middleware import channel_for
from helpline.audit.models import AuditEntry, Channel

from .conftest import entries_for, last_entry

pytestmark = pytest.mark.django_db


def test_api_key_created_and_revoked_on_the_command_line(john):
    call_command("apikey", "create", "john", "--name", "Nightly export", stdout=StringIO())
    key = ApiKey.objects.get(name="Nightly export")
    created = last_entry(key)
    assert created.action == "created"
    assert created.channel == "cli"
    assert created.actor is None
    assert created.actor_label.endswith("(helpline apikey create)")
    assert created.ip_address is None
    assert created.changes["name"] == [None, "Nightly export"]
    assert created.changes["key_hash"] == [None, "(changed)"]

    call_command("apikey", "revoke", f"hl_{key.prefix}", stdout=StringIO())
    key.refresh_from_db()
    assert key.revoked_at is not None
    revoked = last_entry(key)
    assert revoked.action == "changed"
    assert revoked.channel == "cli"
    assert revoked.actor_label.endswith("(helpline apikey revoke)")
    assert revoked.changes == {"revoked_at": [None, key.revoked_at.isoformat()]}


def test_revoking_an_unknown_key_records_nothing(demo):
    before = AuditEntry.objects.count()
    with pytest.raises(CommandError, match="No active key"):
        call_command("apikey", "revoke", "hl_doesnotexist", stdout=StringIO())
    assert AuditEntry.objects.count() == before


def test_demo_data_is_recorded_as_the_system(demo):
    support_role = Role.objects.get(name="Expanded Access")
    entry = last_entry(support_role)
    assert (entry.channel, entry.actor, entry.actor_label) == ("system", None, "Helpline (system)")
    assert entry.action == "created"
    assert not AuditEntry.objects.exclude(channel="system").exists()


def test_loading_the_demo_again_records_nothing(demo):
    from helpline.accounts.demo import load_demo

    before = AuditEntry.objects.count()
    load_demo()
    assert AuditEntry.objects.count() == before


def test_acting_as_names_the_actor_and_nests(admin_user):
    with audit.acting_as("nightly import", channel="cli"):
        Role.objects.create(name="Importer")
        with audit.acting_as(user=admin_user, channel="system"):
            Role.objects.create(name="Nested")
        assert current_actor().label == "nightly import"
    assert current_actor().channel == "system"
    importer = last_entry(Role.objects.get(name="Importer"))
    assert (importer.actor_label, importer.channel) == ("nightly import", "cli")
    nested = last_entry(Role.objects.get(name="Nested"))
    assert (nested.actor, nested.actor_label, nested.channel) == (admin_user, "admin", "system")


def test_unknown_channel_is_refused():
    with (
        pytest.raises(ValueError, match="Unknown audit channel"),
        audit.acting_as("x", channel="email"),
    ):
        pass


def test_channel_names_match_the_database_choices():
    assert set(CHANNELS) == set(Channel.values)


@pytest.mark.parametrize(
    ("path", "channel"),
    [
        ("/admin/accounts/role/1/change/", "admin"),
        ("/api/v1/tickets", "api"),
        ("/staff/tickets/123456/", "web"),
        ("/", "web"),
        ("/administrator/", "web"),
    ],
)
def test_channel_of_a_path(path, channel):
    assert channel_for(path) == channel


def test_changes_in_the_agent_panel_are_web(client, john):
    # John edits his own signature on his profile page: an agent-panel change, by him.
    client.force_login(john)
    response = client.post(
        "/staff/profile/",
        {"timezone": "", "signature": "John, Support"},
        REMOTE_ADDR="192.0.2.10",
    )
    assert response.status_code == 302
    entry = last_entry(john.agent)
    assert (entry.actor, entry.channel, entry.ip_address) == (john, "web", "192.0.2.10")
    assert entry.changes == {"signature": ["", "John, Support"]}
    assert entries_for(john.agent, channel="admin") == []
