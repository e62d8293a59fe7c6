import pytest
from django.db import transaction

# Chromium from apt and the demo on the live server, as the scenario tests have them.
from tests.scenarios.conftest import (  # noqa: F401
    browser_context_args,
    browser_type_launch_args,
    site,
)


@pytest.fixture(autouse=True)
def _after_commit_at_once(request, monkeypatch):
    """Tests run inside one transaction that never commits: run the work queued for "after
    commit" (event listeners: pulse counters, watchers, notifications) at once."""

    if "live_server" in request.fixturenames:
        return  # the browser tests commit for real

    def now(func, using=None, robust=False):
        func()

    monkeypatch.setattr(transaction, "on_commit", now)
