"""Signing in with two-factor on: password, then the code page; nothing else until the code."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpline.accounts import twofactor
from tests.accounts.conftest import app_code, turn_on_two_factor, wrong_code

LOGIN = "/staff/login/"
VERIFY = "/staff/login/verify/"


def password_step(client, username: str, password: str, **extra):
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def session_key(client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_password_alone_lands_on_the_code_page(client, john, john_2fa, password):
    response = password_step(client, "john", password)
    assert response.status_code == 302 and response.url == f"{VERIFY}?next=%2Fstaff%2F"
    page = client.get(response.url).content.decode()
    assert "Two-factor sign-in" in page and 'autocomplete="one-time-code"' in page
    # The code page shows no queues or counts: the sidebar is the panel's, not this page's.
    assert 'aria-label="Queues"' not in page


@pytest.mark.parametrize(
    "path",
    ["/staff/", "/staff/queues/open/", "/staff/profile/", "/staff/security/", "/admin/", "/"],
)
def test_until_the_code_every_page_sends_to_the_code_page(client, john, john_2fa, password, path):
    password_step(client, "john", password)
    response = client.get(path)
    assert response.status_code == 302
    assert response.url.startswith(VERIFY) and "next=" in response.url


def test_until_the_code_htmx_requests_are_redirected_and_the_api_answers_401(
    client, john, john_2fa, password
):
    password_step(client, "john", password)
    response = client.get(
        "/staff/queues/open/",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/staff/queues/open/"},
    )
    assert response["HX-Redirect"].startswith(VERIFY)
    response = client.get("/api/v1/tickets")
    assert response.status_code == 401
    assert "authenticator app" in response.json()["detail"]
    # Posting a form is refused the same way (no ticket is touched).
    response = client.post("/staff/security/sign-out-everywhere/")
    assert response.status_code == 302 and response.url == VERIFY


def test_the_right_code_signs_in_and_follows_next(client, john, john_2fa, password):
    device, _ = john_2fa
    response = password_step(client, "john", password, next="/staff/queues/mine/")
    assert response.url == f"{VERIFY}?next=%2Fstaff%2Fqueues%2Fmine%2F"
    before = session_key(client)
    response = client.post(VERIFY, {"code": app_code(device), "next": "/staff/queues/mine/"})
    assert response.status_code == 302 and response.url == "/staff/queues/mine/"
    # A step up in trust: a new session key, as at sign-in.
    assert session_key(client) != before
    assert client.get("/staff/").status_code == 200
    assert client.get("/api/v1/tickets").status_code == 200
    # Already verified: the code page just moves on.
    assert client.get(VERIFY).url == "/staff/"


def test_next_pointing_elsewhere_is_ignored(client, john, john_2fa, password):
    device, _ = john_2fa
    password_step(client, "john", password)
    response = client.post(VERIFY, {"code": app_code(device), "next": "https://evil.example/"})
    assert response.url == "/staff/"


def test_a_wrong_code_is_refused_plainly(client, john, john_2fa, password):
    device, _ = john_2fa
    password_step(client, "john", password)
    arabic_indic = app_code(device).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for code in [wrong_code(device), "abc", "", "9" * 32, arabic_indic]:
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
        StaticDevice.objects.filter(user=john).update(throttling_failure_timestamp=None)
        response = client.post(VERIFY, {"code": code})
        assert response.status_code == 400, code
        assert 'class="errorlist"' in response.content.decode()
    assert client.get("/staff/").status_code == 302


def test_repeated_wrong_codes_lock_the_code_page_for_a_while(client, john, john_2fa, password):
    device, _ = john_2fa
    password_step(client, "john", password)
    response = client.post(VERIFY, {"code": wrong_code(device)})
    assert "Wrong code." in response.content.decode()
    # Five wrong codes in a row: django-otp now waits 16 seconds before checking another.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=5, throttling_failure_timestamp=timezone.now()
    )
    response = client.post(VERIFY, {"code": app_code(device)})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Too many wrong codes in a row. Wait 16 seconds and try again." in page
    assert client.get("/staff/").status_code == 302
    # Once the wait is over, the right code works.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=17)
    )
    assert client.post(VERIFY, {"code": app_code(device)}).url == "/staff/"


def test_a_recovery_code_signs_in_once(client, john, john_2fa, password):
    _, codes = john_2fa
    password_step(client, "john", password)
    # Typed in capitals and without the dashes: still the same code.
    typed = codes[0].replace("-", " ").upper()
    response = client.post(VERIFY, {"code": typed}, follow=True)
    assert response.redirect_chain[-1][0] == "/staff/"
    assert "You signed in with a recovery code; 9 left." in response.content.decode()

    other = Client()
    password_step(other, "john", password)
    response = other.post(VERIFY, {"code": codes[0]})
    assert response.status_code == 400
    assert other.get("/staff/").status_code == 302


def test_a_requester_signs_in_on_the_portal_without_a_code(client, karen, password):
    response = client.post("/login/", {"username": "karen", "password": password})
    assert response.url == "/tickets/"
    assert client.get("/tickets/").status_code == 200
    assert client.get(VERIFY).url == "/staff/"


def test_an_agent_with_two_factor_off_is_not_asked_for_a_code(client, jane, john_2fa, password):
    response = password_step(client, "jane", password)
    assert response.url == "/staff/"
    assert client.get("/staff/").status_code == 200


def test_the_portal_sign_in_does_not_bypass_the_code(client, john, john_2fa, password):
    response = client.post("/login/", {"username": "john", "password": password})
    response = client.get(response.url)
    assert response.status_code == 302 and response.url.startswith(VERIFY)


def test_the_admin_sign_in_does_not_bypass_the_code(client, admin_user, password):
    device, _ = turn_on_two_factor(admin_user)
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "admin", "password": password, "next": "/admin/"},
    )
    assert response.status_code == 302
    for path in ["/admin/", "/admin/accounts/user/", "/admin/login/"]:
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith(VERIFY), path
    response = client.post(VERIFY, {"code": app_code(device), "next": "/admin/"})
    assert response.url == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_signing_out_from_the_code_page_works(client, john, john_2fa, password):
    password_step(client, "john", password)
    response = client.post("/staff/logout/")
    assert response.status_code == 302 and response.url == LOGIN
    assert "_auth_user_id" not in client.session
    assert client.get(VERIFY).url.startswith(LOGIN)


def test_turning_two_factor_on_elsewhere_stops_a_password_only_session(client, john, password):
    password_step(client, "john", password)
    assert client.get("/staff/").status_code == 200
    turn_on_two_factor(john)
    response = client.get("/staff/")
    assert response.status_code == 302 and response.url.startswith(VERIFY)


def test_has_two_factor_ignores_unconfirmed_set_up(john):
    twofactor.start_setup(john)
    assert not twofactor.has_two_factor(john)
    assert twofactor.authenticator(john) is None
