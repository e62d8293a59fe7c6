import pytest
from django.db import transaction


@pytest.fixture(autouse=True)
def _after_commit_at_once(monkeypatch):
    """Tests run inside one transaction that never commits: run the work queued for "after
    commit" (event listeners: pulse counters, watchers, notifications) at once."""

    def now(func, using=None, robust=False):
        func()

    monkeypatch.setattr(transaction, "on_commit", now)
