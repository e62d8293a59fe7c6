"""A sign-in name (username or email address) always means one account: usernames never
collide with another account's username or address, and an ambiguous name fails like a wrong
password instead of crashing."""

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core import mail
from django.core.cache import cache

from helpline.accounts.models import User
from helpline.accounts.people import get_or_create_requester

WRONG = "Please enter a correct username/email and password."
NEW_PASSWORD = "a-long-Passphrase-7"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Registrations are rate-limited per address and network in the cache: start with none."""
    cache.clear()
    yield
    cache.clear()


def register(client, email: str, capture) -> None:
    mail.outbox.clear()
    with capture(execute=True):
        client.post(
            "/register/",
            {
                "name": "Not Ken",
                "email": email,
                "password1": NEW_PASSWORD,
                "password2": NEW_PASSWORD,
            },
        )


def finish(client, message) -> None:
    link = re.search(r"https?://[^/\s]+(/register/\?\S+)", message.body).group(1)
    client.post("/register/", dict(parse_qsl(urlsplit(link).query)))


def test_registering_a_look_alike_address_leaves_kens_sign_in_alone(
    client, ken, password, django_capture_on_commit_callbacks
):
    register(client, "ken!@example.com", django_capture_on_commit_callbacks)
    other = User.objects.get(email="ken!@example.com")
    assert other.username.lower() != "ken@example.com" and "@" not in other.username
    finish(client, mail.outbox[0])
    client.post("/logout/")

    # Ken signs in with his address, as before.
    response = client.post("/login/", {"username": "ken@example.com", "password": password})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(ken.pk)
    client.post("/logout/")
    # The newcomer signs in with theirs.
    response = client.post("/login/", {"username": "ken!@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(other.pk)


def test_new_requesters_never_get_a_name_another_account_answers_to(demo, ken):
    # Someone already holds the plain choice for this address, in other capitals.
    User.objects.create(username="KEN_AT_example.com", email="old@example.org")
    user, created = get_or_create_requester("ken!@example.com")
    assert created and user.username.startswith("ken_at_example.com-")
    for other in User.objects.exclude(pk=user.pk):
        assert user.username.lower() not in (other.username.lower(), other.email.lower())


def test_an_address_already_used_as_a_username_gets_another_username(demo):
    User.objects.create(username="Sam@Example.org", email="someone@example.org")
    sam, created = get_or_create_requester("sam@example.org")
    assert created and sam.username.lower() != "sam@example.org" and "@" not in sam.username


def test_an_address_that_is_a_valid_username_stays_the_username(demo):
    user, _ = get_or_create_requester("nina@example.org")
    assert user.username == "nina@example.org"


@pytest.mark.parametrize("login_url", ["/login/", "/staff/login/", "/admin/login/"])
def test_a_name_two_accounts_answer_to_never_crashes_sign_in(client, ken, password, login_url):
    # Legacy data: an account whose username is Ken's address.
    squatter = User.objects.create(username="ken@example.com", email="squat@example.org")
    squatter.set_password("Squatter-passphrase-1")
    squatter.save()
    response = client.post(login_url, {"username": "ken@example.com", "password": password})
    assert response.status_code == 200  # a failed sign-in, not a server error
    assert "_auth_user_id" not in client.session


def test_the_exact_username_wins_over_an_address(client, ken, password):
    squatter = User.objects.create(username="ken@example.com", email="squat@example.org")
    squatter.set_password("Squatter-passphrase-1")
    squatter.save()
    response = client.post("/login/", {"username": "ken@example.com", "password": password})
    assert WRONG in response.content.decode()
    assert client.post("/login/", {"username": "ken", "password": password}).status_code == 302
    assert User.objects.get_by_natural_key("ken@example.com") == squatter
    assert User.objects.get_by_natural_key(" KEN@example.com ") == ken
    with pytest.raises(User.DoesNotExist):
        User.objects.get_by_natural_key("nobody@example.com")


@pytest.mark.parametrize(
    ("username", "email", "field", "message"),
    [
        ("ken@example.com", "", "username", "another account's email address"),
        ("KAREN", "", "username", None),  # Django's own case-insensitive check
        ("mia@example.org", "other@example.org", "username", "must be this account's own email"),
        ("mia", "GREG", "email", None),  # not an address: the email field refuses it
        ("mia@example.org", "mia@example.org", None, None),
    ],
)
def test_the_admin_refuses_colliding_names(admin_client, demo, username, email, field, message):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "username": username,
            "name": "Mia Wong",
            "email": email,
            "usable_password": "true",
            "password1": "Quite-long-passphrase-42",
            "password2": "Quite-long-passphrase-42",
            "agent-TOTAL_FORMS": "0",
            "agent-INITIAL_FORMS": "0",
            "agent-MIN_NUM_FORMS": "0",
            "agent-MAX_NUM_FORMS": "1",
        },
    )
    if field is None:
        assert response.status_code == 302
        return
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors
    if message:
        assert message in " ".join(errors[field])


def test_the_admin_refuses_an_email_that_is_another_accounts_username(admin_client, karen):
    User.objects.create(username="old@example.org", email="")
    url = f"/admin/accounts/user/{karen.pk}/change/"
    page = admin_client.get(url)
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        {
            "email": "OLD@example.org",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
            "agent-TOTAL_FORMS": "0",
            "agent-INITIAL_FORMS": "0",
            "agent-MIN_NUM_FORMS": "0",
            "agent-MAX_NUM_FORMS": "1",
        }
    )
    data.pop("date_joined", None)
    data.pop("last_login", None)
    data.pop("groups", None)
    data.pop("user_permissions", None)
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "Another account has this address as its username." in response.content.decode()
    karen.refresh_from_db()
    assert karen.email == "karen@example.com"
