"""Two-factor helpers: the code John's phone would show, and people with two-factor already on."""

import time

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpline.accounts import twofactor

# The browser harness (Debian's Chromium, the demo help desk on the live server) for
# test_twofactor_browser.py, shared with tests/scenarios/.
from tests.scenarios.conftest import (  # noqa: F401
    _fail_on_page_errors,
    browser_context_args,
    browser_type_launch_args,
    site,
)


def app_code(device: TOTPDevice) -> str:
    """The code an authenticator app shows for `device`, one the device has not accepted yet.

    A device accepts each time step once (and one step either side of now): right after a code
    was used, the phone's next code is the following step's, which we compute here instead of
    waiting up to 30 seconds for it.
    """
    device.refresh_from_db()
    now_step = (int(time.time()) - device.t0) // device.step
    step = max(now_step + device.drift, device.last_t + 1)
    code = totp(device.bin_key, device.step, device.t0, device.digits, drift=step - now_step)
    return str(code).zfill(device.digits)


def wrong_code(device: TOTPDevice) -> str:
    """Six digits that no step near now produces for `device`."""
    near = {
        str(totp(device.bin_key, device.step, device.t0, device.digits, drift=drift)).zfill(6)
        for drift in range(device.drift - 3, device.drift + 4)
    }
    return next(c for c in (f"{n:06d}" for n in range(1, 100)) if c not in near)


def turn_on_two_factor(user) -> tuple[TOTPDevice, list[str]]:
    """Two-factor on for `user` the way the Security page does it; returns device and codes."""
    device = twofactor.start_setup(user)
    confirmed = twofactor.confirm_setup(user, app_code(device))
    assert confirmed is not None
    return confirmed


@pytest.fixture
def john_2fa(john):
    """John with two-factor sign-in on: (device, recovery codes)."""
    return turn_on_two_factor(john)
