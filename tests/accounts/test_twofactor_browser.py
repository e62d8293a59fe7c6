"""In Chromium: John turns on two-factor sign-in, signs in with a code, and signs out everywhere.

The codes his phone would show are computed here: the first from the secret the Security page
shows (as an authenticator app would read it), later ones from the device's key.
"""

import re
from base64 import b32decode

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from helpline.accounts.demo import DEMO_PASSWORD
from tests.accounts.conftest import app_code

pytestmark = [pytest.mark.browser]


def password_step(page: Page, site: str) -> None:
    page.goto(f"{site}/staff/login/")
    page.get_by_label("Username or email").fill("john")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def code_step(page: Page, code: str) -> None:
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def johns_device() -> TOTPDevice:
    return TOTPDevice.objects.get(user__username="john", confirmed=True)


def test_john_turns_on_two_factor_and_signs_out_everywhere(page: Page, site, browser):
    # John signs in with his password and opens the Security page from his profile.
    password_step(page, site)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.get_by_role("link", name=re.compile("Profile of")).click()
    page.get_by_role("link", name=re.compile("^Security")).click()
    expect(page.locator("#two-factor-status")).to_contain_text("Off")

    # Set up: a QR code and the key to type by hand; the app's first code turns it on.
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    expect(page.locator("figure.qr svg")).to_have_count(1)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    first_code = str(totp(b32decode(secret))).zfill(6)
    page.get_by_label("Code from the app").fill(first_code)
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in is on")).to_be_visible()
    expect(page.locator(".recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="I have saved them").click()
    expect(page.locator("#two-factor-status")).to_contain_text("On")
    expect(page.locator("#recovery-codes-left")).to_contain_text("10 recovery codes left")

    # Signing in again now takes the password and then a code.
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("heading", name="Agent sign in")).to_be_visible()
    password_step(page, site)
    expect(page).to_have_url(re.compile(r"/staff/login/verify/"))
    # Without the code the panel stays shut.
    page.goto(f"{site}/staff/queues/open/")
    expect(page).to_have_url(re.compile(r"/staff/login/verify/\?next="))
    page.get_by_label("Code", exact=True).fill("000000" if first_code != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#code-errors")).to_contain_text("Wrong code.")
    # Wait out the one-second throttle after a wrong code rather than be told to wait.
    TOTPDevice.objects.filter(user__username="john").update(throttling_failure_timestamp=None)
    page.get_by_label("Code", exact=True).fill(app_code(johns_device()))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Open")

    # Another browser, where John signed in too, works until he signs out everywhere.
    other_context = browser.new_context(viewport={"width": 1360, "height": 900})
    try:
        other = other_context.new_page()
        password_step(other, site)
        code_step(other, app_code(johns_device()))

        page.goto(f"{site}/staff/security/")
        page.get_by_role("button", name="Sign out everywhere else").click()
        expect(page.locator(".messages")).to_contain_text("Signed out everywhere else.")

        other.goto(f"{site}/staff/")
        expect(other.get_by_role("heading", name="Agent sign in")).to_be_visible()
        # This browser stays in, and stays verified.
        page.goto(f"{site}/staff/")
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    finally:
        other_context.close()
