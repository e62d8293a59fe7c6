"""Fixtures for the client portal's tests."""

import pytest
from django.core.cache import cache

from helpline.tickets import actions


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def open_ticket_for(org):
    """Open a ticket directly through the actions (for tests about viewing, not opening)."""

    def make(requester, subject="Printer on fire", body="It smokes.", **kwargs):
        kwargs.setdefault("help_topic", org.topic("General Inquiry"))
        return actions.open_ticket(
            requester, requester=requester, subject=subject, body=body, **kwargs
        )

    return make
