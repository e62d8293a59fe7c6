"""API keys: hashing, scopes, IP rules, expiry, revocation, rate limit, the CLI, and the session."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django.utils.crypto import get_random_string

from helpline.api.models import ApiKey, Scope, hash_key
from tests.api.conftest import Api

pytestmark = pytest.mark.django_db


def test_only_a_hash_of_the_key_is_stored(john):
    row, key = ApiKey.issue(john, name="CRM")
    stored = ApiKey.objects.get(pk=row.pk)
    assert key.startswith("hl_") and len(key) > 40
    assert stored.key_hash == hash_key(key) != key
    assert key not in {str(v) for v in stored.__dict__.values()}
    assert key.startswith(f"hl_{stored.prefix}")


def test_a_key_acts_as_its_user(john_api, john):
    response = john_api.get("/me")
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "john"
    assert response.json()["scopes"] == ["tickets:read", "tickets:write"]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer nonsense",
        "Bearer hl_abcdefghijklmnopqrstuvwxyz0123456789",
        "Basic x",
    ],
)
def test_missing_or_wrong_keys_get_401_json(demo, header):
    client = Client()
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/tickets", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"]
    assert response.json()["errors"] == {}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_key_with_the_right_prefix_but_wrong_secret_is_refused(john):
    _, key = ApiKey.issue(john)
    forged = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    assert Api(forged).get("/me").status_code == 401


def test_revoked_and_expired_keys_are_refused(john):
    row, key = ApiKey.issue(john)
    assert Api(key).get("/me").status_code == 200
    row.revoked_at = timezone.now()
    row.save()
    assert Api(key).get("/me").json()["detail"] == "Unknown or revoked API key."

    past = timezone.now() - timedelta(minutes=1)
    _, expired = ApiKey.issue(john, expires_at=past)
    response = Api(expired).get("/me")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_deactivated_users_key_stops_working(john):
    _, key = ApiKey.issue(john)
    john.is_active = False
    john.save()
    assert Api(key).get("/me").status_code == 401


def test_read_only_key_cannot_write(api_as, john):
    api = api_as(john, scopes=[Scope.TICKETS_READ])
    assert api.get("/tickets").status_code == 200
    response = api.post("/tickets", {"subject": "x", "body": "y"})
    assert response.status_code == 403
    assert "tickets:write" in response.json()["detail"]


def test_write_only_key_cannot_read(api_as, john):
    api = api_as(john, scopes=[Scope.TICKETS_WRITE])
    response = api.get("/tickets")
    assert response.status_code == 403
    assert "tickets:read" in response.json()["detail"]


def test_admin_read_scope_and_admin_role_are_both_needed_for_webhooks(api_as, admin_user, john):
    assert api_as(admin_user).get("/webhooks").status_code == 403  # no admin:read scope
    assert api_as(admin_user, scopes=[Scope.ADMIN_READ]).get("/webhooks").status_code == 200
    assert api_as(john, scopes=[Scope.ADMIN_READ]).get("/webhooks").status_code == 403


@pytest.mark.parametrize(
    ("rule", "address", "allowed"),
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("10.1.0.0/16", "10.1.200.3", True),
        ("10.1.0.0/16", "10.2.0.1", False),
        ("192.0.2.7\n2001:db8::/32", "2001:db8::5", True),
        ("192.0.2.7, 198.51.100.0/24", "198.51.100.9", True),
        ("192.0.2.7", "192.0.2.8", False),
    ],
)
def test_ip_rules(api_as, john, rule, address, allowed):
    api = api_as(john, remote_addr=address, allowed_ips=rule)
    response = api.get("/me")
    assert response.status_code == (200 if allowed else 403)
    if not allowed:
        assert "address" in response.json()["detail"]


def test_an_invalid_ip_rule_is_refused_when_creating(john):
    with pytest.raises(Exception, match="not an IP address"):
        ApiKey.issue(john, allowed_ips="10.0.0.300")


def test_rate_limit_answers_429_with_retry_after(api_as, john):
    api = api_as(john, rate_limit=3)
    assert [api.get("/me").status_code for _ in range(3)] == [200, 200, 200]
    response = api.get("/me")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 61
    assert "Rate limit" in response.json()["detail"]
    # The limit is per key: another key of the same user is not affected.
    assert api_as(john).get("/me").status_code == 200


def test_last_used_is_recorded(john):
    row, key = ApiKey.issue(john)
    assert row.last_used_at is None
    Api(key).get("/me")
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_cli_prints_the_key_alone_on_its_last_line(john):
    out, err = StringIO(), StringIO()
    call_command(
        "apikey", "create", "john", "--scope", "tickets:read", "--allow-ip", "127.0.0.0/8",
        stdout=out, stderr=err,
    )  # fmt: skip
    key = out.getvalue().strip().splitlines()[-1]
    assert key.startswith("hl_") and " " not in key
    row = ApiKey.objects.get(user=john)
    assert row.matches(key) and row.scopes == ["tickets:read"]
    assert row.allowed_ips == "127.0.0.0/8"
    assert Api(key).get("/me").status_code == 200

    listing = StringIO()
    call_command("apikey", "list", stdout=listing)
    assert f"hl_{row.prefix}" in listing.getvalue() and key not in listing.getvalue()
    call_command("apikey", "revoke", f"hl_{row.prefix}", stdout=StringIO())
    assert Api(key).get("/me").status_code == 401


def test_session_auth_needs_the_csrf_token_for_writes(john):
    client = Client(enforce_csrf_checks=True)
    client.force_login(john)
    assert client.get("/api/v1/tickets").status_code == 200
    body = {"subject": "From the panel", "body": "Typed in the agent panel."}
    refused = client.post("/api/v1/tickets", body, content_type="application/json")
    assert refused.status_code == 403
    token = get_random_string(32)
    client.cookies["csrftoken"] = token
    accepted = client.post(
        "/api/v1/tickets", body, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 201, accepted.content


def test_admin_creates_a_key_and_shows_it_once(admin_user, john):
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/api/apikey/add/",
        {"user": john.pk, "name": "CRM", "scopes": ["tickets:read"], "allowed_ips": ""},
        follow=True,
    )
    assert response.status_code == 200
    (shown,) = [str(m) for m in response.context["messages"] if "shown only" in str(m)]
    key = shown.rsplit(" ", 1)[-1]
    row = ApiKey.objects.get(user=john)
    assert row.matches(key) and row.scopes == ["tickets:read"]
    assert Api(key).get("/me").json()["scopes"] == ["tickets:read"]
    assert key not in client.get(f"/admin/api/apikey/{row.pk}/change/").content.decode()
    assert client.get("/admin/api/webhookdelivery/").status_code == 200
    assert client.get("/admin/api/webhook/add/").status_code == 200
