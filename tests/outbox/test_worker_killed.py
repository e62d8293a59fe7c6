"""A worker SIGKILLed at each step of sending: every mail still arrives, and a mail sent twice
is sent with the same Message-ID (mail clients show it once).

Mail of every kind is queued by the real code paths, with the database task backend, so the
real worker (`helpline db_worker --batch`) runs the delivery tasks in a subprocess against a real
SMTP sink. The test hook HELPLINE_OUTBOX_PAUSE_AT stops the worker at one step, where it is
killed: before it connects to SMTP (rows claimed), after the server's 250 for the first message
(not yet marked sent), and after that mark. The lease (1 s here) then runs out and the sweep
(`helpline outbox --send`) sends what is left; a last worker run finds the killed worker's
remaining tasks and sends nothing twice.

The database is the test run's: on PostgreSQL the test database itself; on SQLite, where the test
database lives in memory, a file copy of it that is copied back before the counts.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from django.db import connection

from helpline.tickets.models import DeliveryState, Notification
from tests.databases import database_url
from tests.outbox.conftest import every_kind_of_mail, tally

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[2]
ON_POSTGRES = connection.vendor == "postgresql"
LEASE_SECONDS = 1.0
# Step → how many messages the sink may receive twice (the one in flight at the kill).
STEPS = {"before_connect": 0, "after_accept": 1, "after_mark": 0}


def _helpline() -> list[str]:
    script = Path(sys.executable).parent / "helpline"
    return [str(script)] if script.exists() else [sys.executable, "-m", "helpline.cli"]


class Worker:
    """Runs `helpline` commands on this test's database, with mail going to the sink."""

    def __init__(self, var_dir: Path, smtp_port: int):
        var_dir.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        self.env.pop("DATABASE_URL", None)
        self.env.pop("HELPLINE_OUTBOX_PAUSE_AT", None)
        self.env.update(
            HELPLINE_VAR_DIR=str(var_dir),
            MEDIA_ROOT=str(var_dir / "media"),
            DEBUG="1",  # the development secret key is accepted
            LOG_LEVEL="ERROR",
            PYTHONPATH=str(REPO),
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(smtp_port),
            HELPLINE_MAIL_LEASE_SECONDS=str(LEASE_SECONDS),
        )
        self.file = var_dir / "helpline.sqlite3"  # the settings' default under HELPLINE_VAR_DIR
        if ON_POSTGRES:
            self.env["DATABASE_URL"] = database_url()
        else:
            connection.ensure_connection()
            with closing(sqlite3.connect(self.file)) as target:
                connection.connection.backup(target)

    def run(self, *args: str) -> str:
        done = subprocess.run([*_helpline(), *args], cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, f"helpline {args[0]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def kill_at(self, step: str) -> None:
        """Start the worker, wait until it stops at `step`, SIGKILL it."""
        env = {**self.env, "HELPLINE_OUTBOX_PAUSE_AT": step}
        worker = subprocess.Popen([*_helpline(), "db_worker", "--batch", "--no-startup-delay"],
                                  cwd=REPO, env=env, stderr=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, text=True)  # fmt: skip
        seen = []
        try:
            deadline = time.monotonic() + 60
            for line in worker.stderr:
                seen.append(line)
                if f"outbox: paused at {step}" in line:
                    break
                assert time.monotonic() < deadline, "".join(seen)
            else:
                pytest.fail(f"the worker never reached {step}:\n{''.join(seen)}")
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL

    def copy_back(self) -> None:
        if not ON_POSTGRES:
            # Also reads what a killed process left in the write-ahead log.
            with closing(sqlite3.connect(self.file)) as source:
                source.backup(connection.connection)


@pytest.mark.parametrize("step", list(STEPS))
def test_a_worker_killed_at_each_step_loses_no_mail(
    step, settings, sink, org, john, karen, admin_user, tmp_path
):
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    sink.start()
    every_kind_of_mail(org, john, karen, admin_user)  # queued; the tasks wait for a worker
    worker = Worker(tmp_path / "var", sink.port)

    worker.kill_at(step)
    worker.copy_back()
    killed = tally(sink)
    assert killed["deliveries"] == (0 if step == "before_connect" else 1)
    assert killed["sent_rows"] == (1 if step == "after_mark" else 0)
    if step != "after_mark":
        # Left claimed, with the Message-ID every later attempt reuses.
        in_flight = Notification.objects.filter(state=DeliveryState.QUEUED, attempts=1)
        assert in_flight.exists() and all(row.message_id for row in in_flight)

    time.sleep(LEASE_SECONDS + 0.2)  # the killed worker's lease runs out
    worker.run("outbox", "--send")
    worker.run("db_worker", "--batch", "--no-startup-delay")  # its tasks left over: no resend
    worker.copy_back()

    counts = tally(sink)
    print(f"\nkilled {step}: {counts['rows']} mails, {counts['deliveries']} deliveries, "
          f"{counts['duplicates']} duplicate(s) with the same Message-ID")  # fmt: skip
    assert counts["sent_rows"] == counts["arrived"] == counts["rows"] > 10
    assert counts["unknown"] == []  # every delivery carries its row's one Message-ID
    assert counts["duplicates"] == STEPS[step]
    assert counts["deliveries"] == counts["rows"] + STEPS[step]
