"""Shared helpers: the admin panel as the demo admin, and the audit entries of one object."""

import pytest
from django.contrib.contenttypes.models import ContentType

from helpline.audit.models import AuditEntry
from tests.admin_forms import admin_url, form_data  # noqa: F401  (used by the tests)

# A documentation address (RFC 5737): the requests of these tests come "from" it.
ADMIN_IP = "198.51.100.7"


def entries_for(obj, **filters) -> list[AuditEntry]:
    """The audit entries of one object, oldest first."""
    return list(
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(type(obj)),
            object_id=str(obj.pk),
            **filters,
        ).order_by("created_at", "id")
    )


def last_entry(obj, **filters) -> AuditEntry:
    found = entries_for(obj, **filters)
    assert found, f"no audit entry for {obj!r} with {filters}"
    return found[-1]


class AdminPanel:
    """The admin panel driven like a browser: open a page, change fields, save."""

    def __init__(self, client):
        self.client = client

    def change(self, obj, **changes):
        """Open obj's change page, post it back with `changes`; assert the save went through."""
        url = admin_url(type(obj), "change", obj.pk)
        data = form_data(self.client.get(url))
        data.update(changes)
        for key in [k for k, v in data.items() if v is None]:
            del data[key]  # None: untick a checkbox / leave a field out
        response = self.client.post(url, data, REMOTE_ADDR=ADMIN_IP)
        assert response.status_code == 302, _errors(response)
        return response

    def add(self, model, query: str = "", **values):
        url = admin_url(model, "add") + query
        data = form_data(self.client.get(url))
        data.update(values)
        for key in [k for k, v in data.items() if v is None]:
            del data[key]
        response = self.client.post(url, data, REMOTE_ADDR=ADMIN_IP)
        assert response.status_code == 302, _errors(response)
        return response

    def delete(self, obj):
        url = admin_url(type(obj), "delete", obj.pk)
        response = self.client.post(url, {"post": "yes"}, REMOTE_ADDR=ADMIN_IP)
        assert response.status_code == 302, response.content.decode()[:2000]
        return response


def _errors(response) -> str:
    context = response.context
    if context is None:
        return f"status {response.status_code}"
    errors = [str(context.get("errors"))]
    for inline in context.get("inline_admin_formsets") or []:
        errors.append(str(inline.formset.errors) + str(inline.formset.non_form_errors()))
    return " ".join(errors)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def panel(admin_client) -> AdminPanel:
    return AdminPanel(admin_client)


def assert_by_admin(entry: AuditEntry, admin_user, action: str = "changed") -> None:
    """The entry names the demo admin, the admin panel and the address of the request."""
    assert entry.actor == admin_user
    assert entry.actor_label == "admin"
    assert entry.channel == "admin"
    assert entry.ip_address == ADMIN_IP
    assert entry.action == action
