"""Fixtures for custom fields per help topic: the demo's Hardware fields, a topic with one field
of every kind, signed-in clients, an API client and the browser harness.

Fixtures of tests/portal, tests/staff_ticket, tests/api and tests/scenarios are imported from
their conftest modules (pytest does not share a sibling package's fixtures by itself).
"""

import pytest
from django.core.cache import cache

from helpline.tickets import actions
from helpline.tickets.models import FieldKind, HelpTopic, HelpTopicField
from tests.api.conftest import READ_WRITE, Api, make_key  # noqa: F401
from tests.scenarios.conftest import (  # noqa: F401
    _fail_on_page_errors,
    browser_context_args,
    browser_type_launch_args,
    sign_in,
    site,
)
from tests.staff_ticket.conftest import client_for  # noqa: F401

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
def api_as(make_key):  # noqa: F811  (the fixture imported above)
    """api_as(user) → an Api client with a fresh read/write key of that user."""

    def make(user, scopes=READ_WRITE):
        return Api(make_key(user, scopes))

    return make
