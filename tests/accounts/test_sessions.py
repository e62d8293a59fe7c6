"""Session hygiene: sign out everywhere, password changes, new keys at sign-in, clean sign-out."""

import pytest
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from helpline.accounts import registration
from helpline.accounts.models import User
from tests.accounts.conftest import app_code

SECURITY = "/staff/security/"


def signed_in(password: str, username: str = "john") -> Client:
    """A separate browser signed in to the agent panel with the password."""
    browser = Client()
    response = browser.post("/staff/login/", {"username": username, "password": password})
    assert response.status_code == 302
    return browser


def session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


# ---------------------------------------------------------------------------------------------
# Sign out everywhere


def test_sign_out_everywhere_ends_other_sessions_and_keeps_this_one(john, password):
    laptop, phone = signed_in(password), signed_in(password)
    assert phone.get("/staff/").status_code == 200
    before = session_key(laptop)

    response = laptop.post("/staff/security/sign-out-everywhere/", follow=True)
    assert "Signed out everywhere else. This browser stays signed in." in (
        response.content.decode()
    )
    assert laptop.get("/staff/").status_code == 200
    assert session_key(laptop) != before
    response = phone.get("/staff/")
    assert response.status_code == 302 and response.url.startswith("/staff/login/")
    # And the phone can simply sign in again.
    assert signed_in(password).get("/staff/").status_code == 200


def test_sign_out_everywhere_keeps_this_browser_verified(john, john_2fa, password):
    device, _ = john_2fa
    laptop, phone = signed_in(password), signed_in(password)
    for browser in (laptop, phone):
        assert browser.post("/staff/login/verify/", {"code": app_code(device)}).status_code == 302
    laptop.post("/staff/security/sign-out-everywhere/")
    assert laptop.get("/staff/").status_code == 200
    assert phone.get("/staff/").url.startswith("/staff/login/")


def test_sign_out_everywhere_is_a_post(client, john):
    client.force_login(john)
    assert client.get("/staff/security/sign-out-everywhere/").status_code == 405


def test_existing_sessions_survive_until_the_first_sign_out_everywhere(john, password):
    # An empty epoch gives Django's own hash: deploying the new field signs nobody out.
    john.refresh_from_db()
    assert john.session_epoch == ""
    browser = signed_in(password)
    stored = SessionStore(session_key(browser)).load()[HASH_SESSION_KEY]
    djangos_own = salted_hmac(
        "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
        john.password,
        algorithm="sha256",
    ).hexdigest()
    assert stored == djangos_own
    john.end_all_sessions()
    assert john.session_epoch and john.get_session_auth_hash() != stored
    assert browser.get("/staff/").status_code == 302


def test_sessions_signed_with_an_old_secret_key_still_follow_the_epoch(john, password, settings):
    # SECRET_KEY_FALLBACKS: a key rotation keeps sessions, and sign out everywhere still ends them.
    john.end_all_sessions()
    browser = signed_in(password)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-for-this-test-" + "x" * 40
    assert browser.get("/staff/").status_code == 200
    User.objects.get(pk=john.pk).end_all_sessions()
    assert browser.get("/staff/").status_code == 302


def test_admin_action_signs_a_user_out_everywhere(admin_user, john, password):
    phone = signed_in(password)
    admin = Client()
    admin.force_login(admin_user)
    response = admin.post(
        "/admin/accounts/user/",
        {"action": "sign_out_everywhere", "_selected_action": [john.pk]},
        follow=True,
    )
    assert "Signed out everywhere: john." in response.content.decode()
    assert phone.get("/staff/").url.startswith("/staff/login/")
    assert admin.get("/admin/").status_code == 200


def test_admin_action_on_oneself_keeps_the_admin_signed_in_here(admin_user, password):
    here, elsewhere = signed_in(password, "admin"), signed_in(password, "admin")
    response = here.post(
        "/admin/accounts/user/",
        {"action": "sign_out_everywhere", "_selected_action": [admin_user.pk]},
    )
    assert response.status_code == 302
    assert here.get("/admin/").status_code == 200
    assert elsewhere.get("/admin/").status_code == 302


def test_admin_action_turns_off_two_factor_for_a_lost_phone(admin_user, john, john_2fa, password):
    admin = Client()
    admin.force_login(admin_user)
    response = admin.post(
        "/admin/accounts/user/",
        {"action": "turn_off_two_factor", "_selected_action": [john.pk]},
        follow=True,
    )
    assert "Two-factor sign-in turned off for john" in response.content.decode()
    assert signed_in(password).get("/staff/").status_code == 200


# ---------------------------------------------------------------------------------------------
# Password change


def test_changing_the_password_signs_out_other_sessions(john, password):
    laptop, phone = signed_in(password), signed_in(password)
    response = laptop.post(
        "/staff/password/",
        {
            "old_password": password,
            "new_password1": "Another-long-passphrase-42",
            "new_password2": "Another-long-passphrase-42",
        },
    )
    assert response.status_code == 302 and response.url == "/staff/password/done/"
    assert laptop.get("/staff/").status_code == 200
    assert phone.get("/staff/").url.startswith("/staff/login/")


@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("short1!", "This password is too short."),
        ("password123", "This password is too common."),
        ("8675309123456", "This password is entirely numeric."),
        ("johnsmith", "too similar to the"),
    ],
)
def test_password_change_rejects_weak_passwords(client, john, password, new_password, message):
    client.force_login(john)
    response = client.post(
        "/staff/password/",
        {"old_password": password, "new_password1": new_password, "new_password2": new_password},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    john.refresh_from_db()
    assert john.check_password(password)


@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("short1!", "This password is too short."),
        ("qwertyuiop", "This password is too common."),
        ("8675309123456", "This password is entirely numeric."),
        ("nina.newcomer", "too similar to the"),
    ],
)
def test_portal_registration_rejects_weak_passwords(client, demo, new_password, message):
    response = client.post(
        "/register/",
        {
            "name": "Nina Newcomer",
            "email": "nina.newcomer@example.org",
            "password1": new_password,
            "password2": new_password,
        },
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(email="nina.newcomer@example.org").exists()


# ---------------------------------------------------------------------------------------------
# New session and CSRF token at sign-in; nothing left at sign-out


def planted_session(client: Client) -> str:
    """A session key someone else chose for this browser before it signed in (fixation)."""
    store = SessionStore()
    store["planted"] = True
    store.create()
    client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    return store.session_key


@pytest.mark.parametrize(
    ("login_url", "username"), [("/staff/login/", "john"), ("/login/", "karen")]
)
def test_signing_in_gives_a_new_session_key(client, demo, password, login_url, username):
    planted = planted_session(client)
    response = client.post(login_url, {"username": username, "password": password})
    assert response.status_code == 302
    assert session_key(client) != planted
    assert not SessionStore().exists(planted), "the planted session must be gone"
    assert SessionStore(session_key(client)).load()[SESSION_KEY]


def test_registering_gives_a_new_session_key(client, demo):
    client.post(
        "/register/",
        {
            "name": "Nina New",
            "email": "nina@example.org",
            "password1": "a-long-Passphrase-7",
            "password2": "a-long-Passphrase-7",
        },
    )
    # Registration signs in when the link from the mail is confirmed.
    nina = User.objects.get(email="nina@example.org")
    finish = {
        "account": urlsafe_base64_encode(force_bytes(nina.pk)),
        "token": registration.tokens.make_token(nina),
    }
    planted = planted_session(client)
    response = client.post("/register/", finish)
    assert response.status_code == 302 and SessionStore(session_key(client)).load()[SESSION_KEY]
    assert session_key(client) != planted and not SessionStore().exists(planted)


@pytest.mark.parametrize(
    ("login_url", "username"), [("/staff/login/", "john"), ("/login/", "karen")]
)
def test_signing_in_gives_a_new_csrf_token(demo, password, login_url, username):
    browser = Client(enforce_csrf_checks=True)
    browser.get(login_url)
    before = browser.cookies[settings.CSRF_COOKIE_NAME].value
    response = browser.post(
        login_url,
        {"username": username, "password": password, "csrfmiddlewaretoken": before},
    )
    assert response.status_code == 302
    after = browser.cookies[settings.CSRF_COOKIE_NAME].value
    assert after and after != before


@pytest.mark.parametrize(
    ("login_url", "logout_url", "username", "home"),
    [
        ("/staff/login/", "/staff/logout/", "john", "/staff/"),
        ("/login/", "/logout/", "karen", "/tickets/"),
    ],
)
def test_signing_out_clears_the_session(demo, password, login_url, logout_url, username, home):
    browser = Client()
    browser.post(login_url, {"username": username, "password": password})
    key = session_key(browser)
    assert browser.get(home).status_code == 200
    assert browser.post(logout_url).status_code == 302
    assert not SessionStore().exists(key)
    assert SESSION_KEY not in browser.session
    assert browser.get(home).status_code == 302
    # The old key, replayed, is worth nothing.
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert replay.get(home).status_code == 302
