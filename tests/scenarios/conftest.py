"""Browser tests: Playwright drives Debian's Chromium against Django's live server.

Chromium comes from apt (`make test` installs it); Playwright never downloads a browser here.
A missing browser is a failure, not a skip.
"""

import os
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from helpline.accounts.demo import DEMO_PASSWORD, load_demo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Playwright's sync API runs an event loop in this thread; Django's ORM is fine with it here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`.")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1360, "height": 900}}


@pytest.fixture
def site(live_server, transactional_db, settings):
    """The demo help desk served by the live server; returns its base URL."""
    settings.SITE_URL = live_server.url
    # The portal's rate limits count in the cache, which outlives the test database.
    cache.clear()
    load_demo()
    return live_server.url


@pytest.fixture
def sign_in(page, site):
    """sign_in("john") signs in to the agent panel; sign_in("karen", portal=True) to the portal.

    Cookies are cleared first, so each call is a different person at the same browser.
    """

    def _sign_in(username: str, portal: bool = False):
        page.context.clear_cookies()
        page.goto(f"{site}/login/" if portal else f"{site}/staff/login/")
        page.get_by_label("Username or email").fill(username)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        # Landed somewhere past the sign-in page: the portal's tickets or the panel's dashboard.
        expect(page).not_to_have_url(re.compile(r"/login/"))

    return _sign_in


@pytest.fixture(autouse=True)
def _fail_on_page_errors(request):
    """Any uncaught script error or unexpected dialog in a page fails the test."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    yield
    assert not errors, errors
