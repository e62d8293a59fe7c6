"""Fixtures for custom fields per help topic: the demo's Hardware fields, a topic with one field
of every kind, signed-in clients, an API client and the browser harness.

Small helpers are copied from tests/portal, tests/staff_ticket, tests/api and tests/scenarios
(their conftest fixtures are not visible from here).
"""

import json
import os
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client

from helpline.accounts.demo import DEMO_PASSWORD, load_demo
from helpline.api.models import ApiKey, Scope
from helpline.tickets import actions
from helpline.tickets.models import FieldKind, HelpTopic, HelpTopicField

READ_WRITE = [Scope.TICKETS_READ, Scope.TICKETS_WRITE]

# The demo's Hardware topic asks for these; "approved" is agents-only.
HARDWARE_FIELDS = ["asset_tag", "device", "approved"]
XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters (portal, API) live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def hardware(org):
    """The demo's Hardware topic (Support, public) with its fields loaded once."""
    return HelpTopic.objects.prefetch_related("fields").get(name="Hardware")


# One field of every kind, in this order; "budget_code" is agents-only, "serial" required.
LAB_FIELDS = [
    ("serial", "Serial number", FieldKind.TEXT, {"required": True}),
    ("notes", "Notes", FieldKind.TEXTAREA, {}),
    ("quantity", "Quantity", FieldKind.NUMBER, {}),
    ("colour", "Colour", FieldKind.CHOICE, {"choices": "Red\n  Green  \n\nBlue\n"}),
    ("urgent", "Urgent", FieldKind.CHECKBOX, {}),
    ("needed_by", "Needed by", FieldKind.DATE, {}),
    ("contact", "Contact address", FieldKind.EMAIL, {}),
    ("budget_code", "Budget code", FieldKind.TEXT, {"requester_can_see": False}),
]


@pytest.fixture
def lab(org):
    """A public Support topic "Lab equipment" with one custom field of every kind."""
    topic = HelpTopic.objects.create(
        name="Lab equipment",
        department=org.dept("Support"),
        priority=org.priority("normal"),
        sla_plan=org.sla("Sev-C"),
    )
    for order, (name, label, kind, extra) in enumerate(LAB_FIELDS):
        HelpTopicField.objects.create(
            help_topic=topic, name=name, label=label, kind=kind, order=order, **extra
        )
    return HelpTopic.objects.prefetch_related("fields").get(pk=topic.pk)


@pytest.fixture
def hardware_ticket(hardware, karen):
    """Karen's Hardware ticket with both requester-visible values filled in."""
    return actions.open_ticket(
        karen,
        requester=karen,
        subject="Laptop screen flickers",
        body="Since the last update.",
        help_topic=hardware,
        fields={"asset_tag": "HL-0042", "device": "Laptop"},
    )


@pytest.fixture
def client_for(db):
    """client_for(john) → a test client signed in as john."""

    def _client(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _client


@pytest.fixture
def ticket_form(org):
    """Valid portal "Open a new ticket" form data; keyword arguments override fields."""

    def make(**overrides):
        data = {
            "name": "Jane Doe",
            "email": "jane.doe@example.org",
            "phone": "",
            "help_topic": org.topic("General Inquiry").pk,
            "subject": "Laptop screen flickers",
            "message": "Since the last update.",
            "website": "",
        }
        data.update(overrides)
        return data

    return make


# ---------------------------------------------------------------------------------------------
# API


class Api:
    """A test client speaking JSON to /api/v1/ with one API key."""

    def __init__(self, key: str | None):
        self.key = key
        self.client = Client(REMOTE_ADDR="127.0.0.1")

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def get(self, path):
        return self.client.get(f"/api/v1{path}", headers=self._headers())

    def _send(self, method, path, data):
        body = data if isinstance(data, str | bytes) else json.dumps(data)
        return getattr(self.client, method)(
            f"/api/v1{path}", body, content_type="application/json", headers=self._headers()
        )

    def post(self, path, data):
        return self._send("post", path, data)

    def patch(self, path, data):
        return self._send("patch", path, data)


@pytest.fixture
def make_key(demo):
    """make_key(user, scopes=...) → the key in clear."""

    def make(user, scopes=READ_WRITE):
        _, key = ApiKey.issue(user, name=f"{user.username} test key", scopes=scopes)
        return key

    return make


@pytest.fixture
def api_as(make_key):
    """api_as(user) → an Api client with a fresh read/write key of that user."""

    def make(user, scopes=READ_WRITE):
        return Api(make_key(user, scopes))

    return make


# ---------------------------------------------------------------------------------------------
# Browser (copied from tests/scenarios/conftest.py)

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
    cache.clear()
    load_demo()
    return live_server.url


@pytest.fixture
def sign_in(page, site):
    """sign_in("john") to the agent panel; sign_in("karen", portal=True) to the portal."""
    from playwright.sync_api import expect

    def _sign_in(username: str, portal: bool = False):
        page.context.clear_cookies()
        page.goto(f"{site}/login/" if portal else f"{site}/staff/login/")
        page.get_by_label("Username or email").fill(username)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
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
