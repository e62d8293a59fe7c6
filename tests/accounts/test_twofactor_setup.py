"""Turning two-factor sign-in on and off from the agent panel's Security page."""

import re
from base64 import b32decode

from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpline.accounts import twofactor
from tests.accounts.conftest import app_code, wrong_code

SECURITY = "/staff/security/"


def pending(user) -> TOTPDevice:
    return TOTPDevice.objects.get(user=user, confirmed=False)


def test_profile_links_to_the_security_page(client, john):
    client.force_login(john)
    assert f'href="{SECURITY}"' in client.get("/staff/profile/").content.decode()


def test_security_page_is_for_agents_only(client, karen):
    client.force_login(karen)
    response = client.get(SECURITY)
    assert response.status_code == 302 and response.url.startswith("/staff/login/")
    assert client.post("/staff/security/setup/").status_code == 302
    assert not TOTPDevice.objects.filter(user=karen).exists()


def test_set_up_shows_a_qr_code_and_the_secret_then_a_code_turns_it_on(client, john):
    client.force_login(john)
    page = client.get(SECURITY).content.decode()
    assert "Your password alone signs you in." in page

    response = client.post("/staff/security/setup/")
    assert response.status_code == 302 and response.url == SECURITY
    device = pending(john)
    page = client.get(SECURITY).content.decode()
    assert re.search(r"<svg [^>]*class=\"segno\"", page), "no inline SVG QR code"
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1)
    assert b32decode(secret.replace(" ", "")) == device.bin_key
    # Not on yet: signing in still needs the password only.
    assert not twofactor.has_two_factor(john)

    response = client.post("/staff/security/setup/confirm/", {"code": wrong_code(device)})
    assert response.status_code == 400
    assert "That code does not match" in response.content.decode()
    assert not twofactor.has_two_factor(john)

    # The throttle after the wrong code lasts a second: let it pass rather than sleep.
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
    response = client.post("/staff/security/setup/confirm/", {"code": app_code(device)})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Two-factor sign-in is on" in page
    codes = re.findall(r"<li>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</li>", page)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert twofactor.has_two_factor(john)
    # This browser gave the code: it stays in, without a second code.
    assert client.get("/staff/").status_code == 200
    page = client.get(SECURITY).content.decode()
    assert "10 recovery codes left" in page
    assert not any(code in page for code in codes), "recovery codes are shown only once"


def test_recovery_codes_are_stored_as_digests_only(john_2fa):
    _, codes = john_2fa
    stored = set(StaticToken.objects.values_list("token", flat=True))
    assert len(stored) == 10
    plain = {twofactor.normalise_recovery_code(c) for c in codes}
    assert not stored & (plain | set(codes))
    assert all(re.fullmatch(r"[0-9a-f]{16}", token) for token in stored)


def test_set_up_can_be_cancelled_and_started_again_with_a_new_secret(client, john):
    client.force_login(john)
    client.post("/staff/security/setup/")
    first = pending(john)
    client.post("/staff/security/setup/cancel/")
    assert not TOTPDevice.objects.filter(user=john).exists()
    client.post("/staff/security/setup/")
    client.post("/staff/security/setup/")
    assert TOTPDevice.objects.filter(user=john).count() == 1
    assert pending(john).key != first.key


def test_confirm_without_set_up_or_with_junk_is_refused_plainly(client, john):
    client.force_login(john)
    assert client.post("/staff/security/setup/confirm/", {"code": "123456"}).url == SECURITY
    client.post("/staff/security/setup/")
    for junk in ["", "abc", "1" * 40, "12345", "１２３４５６"]:
        response = client.post("/staff/security/setup/confirm/", {"code": junk})
        assert response.status_code == 400, junk
        TOTPDevice.objects.filter(user=john).update(throttling_failure_timestamp=None)
    assert not twofactor.has_two_factor(john)


def test_turning_off_needs_the_password_or_a_code(client, john, john_2fa, password):
    device, _ = john_2fa
    client.force_login(john)
    twofactor_login(client, device)
    response = client.post("/staff/security/off/", {"secret": "not my password"})
    assert response.status_code == 400
    assert "neither your password nor a current code" in response.content.decode()
    assert twofactor.has_two_factor(john)

    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
    response = client.post("/staff/security/off/", {"secret": password})
    assert response.status_code == 302
    assert not twofactor.has_two_factor(john)
    assert not StaticToken.objects.filter(device__user=john).exists()
    assert client.get("/staff/").status_code == 200
    # The password alone signs in again.
    other = Client()
    response = other.post("/staff/login/", {"username": "john", "password": password})
    assert response.url == "/staff/"


def test_turning_off_with_a_code_from_the_app(client, john, john_2fa):
    device, _ = john_2fa
    client.force_login(john)
    twofactor_login(client, device)
    response = client.post("/staff/security/off/", {"secret": app_code(device)})
    assert response.status_code == 302
    assert not twofactor.has_two_factor(john)


def test_new_recovery_codes_replace_the_old_ones(client, john, john_2fa, password):
    device, old_codes = john_2fa
    client.force_login(john)
    twofactor_login(client, device)
    response = client.post("/staff/security/recovery-codes/", {"secret": password})
    assert response.status_code == 200
    new_codes = re.findall(r"<li>([a-z2-7-]{14})</li>", response.content.decode())
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert twofactor.check_code(john, old_codes[0]) is None
    StaticDevice.objects.filter(user=john).update(throttling_failure_timestamp=None)
    assert twofactor.check_code(john, new_codes[0]) is not None
    # The session verified earlier stays verified: the recovery device was kept.
    assert client.get("/staff/").status_code == 200


def test_wrong_passwords_on_the_security_page_are_throttled(client, john, john_2fa, password):
    device, _ = john_2fa
    client.force_login(john)
    twofactor_login(client, device)
    client.post("/staff/security/off/", {"secret": "guess-1"})
    # Right away after a wrong guess, even the right password waits.
    response = client.post("/staff/security/off/", {"secret": password})
    assert response.status_code == 400
    assert "Too many wrong codes in a row. Wait" in response.content.decode()
    assert twofactor.has_two_factor(john)


def twofactor_login(client, device) -> None:
    """Give the code on the code page (the browser is already signed in with the password)."""
    response = client.post("/staff/login/verify/", {"code": app_code(device)})
    assert response.status_code == 302, response.content.decode()


def test_the_admin_user_list_shows_who_has_two_factor_on(client, admin_user, john_2fa):
    client.force_login(admin_user)
    page = client.get("/admin/accounts/user/").content.decode()

    def two_factor_cell(username: str) -> str:
        row = re.search(rf"<tr>(?:(?!</tr>).)*?>{username}</a>.*?</tr>", page, re.S).group(0)
        return re.search(r'class="field-two_factor">(.*?)</td>', row).group(1)

    assert 'alt="True"' in two_factor_cell("john")
    assert 'alt="False"' in two_factor_cell("jane")


def test_device_secrets_are_not_listed_in_the_admin(client, admin_user, john_2fa):
    client.force_login(admin_user)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert client.get("/admin/otp_static/staticdevice/").status_code == 404
