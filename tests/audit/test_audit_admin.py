"""The audit log in the admin panel: read-only, filterable, a diff per entry, cheap to list."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpline import audit
from helpline.accounts.models import Role, User
from helpline.audit.admin import AuditEntryAdmin
from helpline.audit.models import AuditEntry

from .conftest import AdminPanel, admin_url, last_entry

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/audit/auditentry/"


@pytest.fixture
def role_change(panel, org) -> AuditEntry:
    limited = org.role("Limited Access")
    panel.change(limited, can_assign="on")
    return last_entry(limited)


def test_nobody_may_add_change_or_delete_entries(admin_client, admin_user, role_change):
    model_admin = AuditEntryAdmin(AuditEntry, None)

    class Request:
        user = admin_user

    assert admin_user.is_superuser
    assert not model_admin.has_add_permission(Request)
    assert not model_admin.has_change_permission(Request, role_change)
    assert not model_admin.has_delete_permission(Request, role_change)

    change_url = admin_url(AuditEntry, "change", role_change.pk)
    assert admin_client.get(admin_url(AuditEntry, "add")).status_code == 403
    assert admin_client.post(admin_url(AuditEntry, "add"), {"action": "x"}).status_code == 403
    assert admin_client.post(change_url, {"actor_label": "someone else"}).status_code == 403
    delete_url = admin_url(AuditEntry, "delete", role_change.pk)
    assert admin_client.get(delete_url).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    # The bulk "delete selected" action is not offered, and posting it anyway deletes nothing.
    assert "delete_selected" not in admin_client.get(CHANGELIST).content.decode()
    admin_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [role_change.pk]}
    )
    role_change.refresh_from_db()
    assert role_change.actor_label == "admin"
    assert AuditEntry.objects.filter(pk=role_change.pk).exists()


def test_entry_page_shows_the_change_as_a_table(admin_client, role_change):
    page = admin_client.get(admin_url(AuditEntry, "change", role_change.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert '<table class="audit-changes">' in html
    assert '<th scope="row">can assign</th>' in html
    assert "<td>no</td>" in html and "<td>yes</td>" in html
    assert "198.51.100.7" in html
    assert "Admin panel" in html
    # A link to the role's own page and to every change made to it.
    assert admin_url(Role, "change", role_change.object_id) in html
    assert f"object_type=accounts.role&amp;object_id={role_change.object_id}" in html
    assert 'name="_save"' not in html  # read-only: no save button


def test_secret_rows_say_changed_only(admin_client, karen):
    with audit.acting_as("reset script"):
        karen.set_password("Another-Pa55")
        karen.save()
    entry = last_entry(karen)
    html = admin_client.get(admin_url(AuditEntry, "change", entry.pk)).content.decode()
    assert "changed (a secret: its value is never recorded)" in html
    assert "Another-Pa55" not in html


def test_values_are_escaped(admin_client, panel):
    role = Role.objects.create(name="Plain")
    panel.change(role, name="<script>alert(1)</script>")
    entry = last_entry(role)
    html = admin_client.get(admin_url(AuditEntry, "change", entry.pk)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_filters_and_search(admin_client, admin_user, role_change, org):
    with audit.acting_as("maintenance", channel="cli"):
        org.dept("Support").save()  # nothing changed: no entry
        Role.objects.create(name="Weekend")

    def listed(query: str) -> str:
        response = admin_client.get(CHANGELIST + query)
        assert response.status_code == 200, query
        return response.content.decode()

    everything = listed("")
    assert "Limited Access" in everything and "Weekend" in everything
    by_admin = listed("?channel=admin")
    assert "Limited Access" in by_admin and "Weekend" not in by_admin
    by_cli = listed("?channel=cli")
    assert "Weekend" in by_cli and "Limited Access" not in by_cli
    assert "Weekend" in listed("?actor=none&action=created&object_type=accounts.role")
    mine = listed(f"?actor={admin_user.pk}")
    assert "Limited Access" in mine and "Weekend" not in mine
    assert "Support" not in listed("?object_type=accounts.role")
    assert "Weekend" in listed("?q=weekend")
    assert "Limited Access" not in listed("?q=weekend")
    today = timezone.localdate()
    assert "Weekend" in listed(
        f"?created_at__year={today.year}&created_at__month={today.month}"
        f"&created_at__day={today.day}"
    )
    history = listed(f"?object_type=accounts.role&object_id={role_change.object_id}")
    assert "Limited Access" in history and "Weekend" not in history
    # Nonsense in the filters is ignored, never a 500.
    listed("?actor=abc&object_type=nope.nothing")


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(CHANGELIST).status_code == 200
    return len(captured)


def test_changelist_costs_the_same_for_more_entries(admin_client):
    with audit.acting_as("bulk"):
        for n in range(5):
            Role.objects.create(name=f"Role {n}")
    few = _list_queries(admin_client)
    with audit.acting_as("bulk"):
        for n in range(5, 60):
            Role.objects.create(name=f"Role {n}")
    many = _list_queries(admin_client)
    assert many == few
    assert many <= 12


def test_deleting_the_actor_keeps_their_name(panel, admin_user, org):
    deputy = User.objects.create_user("deputy", "deputy@helpline.example", "x", is_staff=True)
    deputy.is_superuser = True
    deputy.save()
    deputy_browser = Client()
    deputy_browser.force_login(deputy)
    AdminPanel(deputy_browser).change(org.role("View only"), can_note="on")
    entry = last_entry(org.role("View only"))
    assert (entry.actor, entry.actor_label) == (deputy, "deputy")

    panel.delete(deputy)
    entry.refresh_from_db()
    assert entry.actor is None
    assert entry.actor_label == "deputy"
    deleted = last_entry(deputy, action="deleted")
    assert deleted.actor == admin_user
    # The entry page still answers.
    assert panel.client.get(admin_url(AuditEntry, "change", entry.pk)).status_code == 200


def test_an_administrator_deleting_their_own_account(client, demo):
    mallory = User.objects.create_user("mallory", "mallory@helpline.example", "x")
    mallory.is_staff = mallory.is_superuser = True
    mallory.save()
    client.force_login(mallory)
    AdminPanel(client).delete(mallory)
    assert not User.objects.filter(username="mallory").exists()
    gone = AuditEntry.objects.filter(object_repr="mallory", action="deleted").get()
    assert (gone.actor, gone.actor_label, gone.channel) == (None, "mallory", "admin")
