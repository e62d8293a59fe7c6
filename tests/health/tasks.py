"""A task for the fault tests: its first run holds on (to be killed), a re-run returns at once."""

import time
from pathlib import Path

from django.tasks import task


@task()
def hold_first_time(marker: str) -> str:
    path = Path(marker)
    if path.exists():
        return "second run"
    path.write_text("first run started")
    time.sleep(120)
    return "first run"


@task()
def lose_connection() -> str:
    """Fails as a task does when PostgreSQL restarts under it."""
    from django.db import OperationalError

    raise OperationalError("server closed the connection unexpectedly")


@task()
def succeed() -> str:
    return "done"
