"""The fault suite: real `helpline worker` processes while PostgreSQL restarts or a worker dies.

Runs on the throwaway cluster of scripts/pg-throwaway.sh only (it restarts that cluster), in the
serial pass: a restart cuts every connection of the cluster, so no other test may run meanwhile.
Heartbeats and leases are short here (tests/health/workers.py), so the whole file takes seconds.
"""

import os
import socket
import subprocess
import threading
import time

import pytest
from django.db import connection
from django.tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from helpline.accounts.models import User
from helpline.health.models import RecoveryReason, TaskRecovery, Worker, WorkerState
from helpline.tickets import actions
from helpline.tickets.models import DeliveryState, Notification
from tests.databases import postgres_only
from tests.health.tasks import hold_first_time
from tests.health.workers import Workers, wait_for

pytestmark = [
    *postgres_only("restarts PostgreSQL: only on the cluster of scripts/pg-throwaway.sh"),
    pytest.mark.serial,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("PG_THROWAWAY_DIR"),
        reason="restarts PostgreSQL: only on the cluster of scripts/pg-throwaway.sh",
    ),
]

RECOVERY_LIMIT = 60  # seconds: the promise


def restart_postgres() -> None:
    """`pg_ctl restart -m fast` on the throwaway cluster (as its owner when we are root)."""
    cluster, user = os.environ["PG_THROWAWAY_DIR"], os.environ.get("PG_THROWAWAY_USER")
    command = [f"{os.environ['PG_BIN']}/pg_ctl", "-D", f"{cluster}/data", "-l", f"{cluster}/log",
               "-m", "fast", "-w", "-t", "60", "restart"]  # fmt: skip
    if user:
        command = ["runuser", "-u", user, "--", *command]
    subprocess.run(command, cwd=cluster, check=True, capture_output=True, timeout=90)


class Sink:
    """An SMTP server on loopback that keeps what it receives, with the time it came."""

    def __init__(self):
        self.received: list[float] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append(time.monotonic())
        return "250 OK"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        sink.port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def queue_in_database(settings):
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }


@pytest.fixture
def workers(tmp_path, queue_in_database):
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
        connection.close()  # this test's connection may be one the restart cut


def registered(*names: str) -> bool:
    return Worker.objects.filter(worker_id__in=names, state=WorkerState.RUNNING).count() == len(
        names
    )


def open_tickets(requester: User, count: int, label: str) -> None:
    for n in range(count):
        actions.open_ticket(requester, requester=requester, subject=f"{label} {n}", body="Help.")


def test_workers_outlive_a_database_restart_under_load(demo, workers, smtp, tmp_path):
    workers.env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port))
    workers.start("a")
    workers.start("b")
    wait_for(lambda: registered("a", "b"), 30, "both workers registered")
    karen = User.objects.get(username="karen")
    open_tickets(karen, 25, "Before")
    wait_for(lambda: smtp.received, 30, "the first mail before the restart")

    restart_started = time.monotonic()
    restart_postgres()
    database_up = time.monotonic()
    connection.close()
    open_tickets(karen, 25, "After")

    def all_sent():
        return not Notification.objects.filter(state=DeliveryState.QUEUED).exists()

    try:
        wait_for(all_sent, RECOVERY_LIMIT, "every notification sent after the restart", step=0.2)
    except AssertionError:
        print(
            list(
                Notification.objects.exclude(state=DeliveryState.SENT).values_list(
                    "pk", "state", "attempts", "error"
                )
            )
        )
        print(
            list(
                DBTaskResult.objects.exclude(status=TaskResultStatus.SUCCESSFUL).values_list(
                    "status", "worker_ids", "traceback"
                )
            )
        )
        print(workers.log("a"), workers.log("b"))
        raise
    drained = time.monotonic()
    assert workers.alive("a") and workers.alive("b"), workers.log("a") + workers.log("b")
    assert not DBTaskResult.objects.exclude(status=TaskResultStatus.SUCCESSFUL).exists()
    first_after = min(t for t in smtp.received if t > database_up)
    print(
        f"\nrestart took {database_up - restart_started:.2f} s; first mail after it "
        f"{first_after - database_up:.2f} s later; all {Notification.objects.count()} "
        f"notifications out of the queue {drained - database_up:.2f} s after it "
        f"({len(smtp.received)} mails received; reconnect lines: "
        f"{(workers.log('a') + workers.log('b')).count('reconnected')})"
    )
    assert first_after - database_up < RECOVERY_LIMIT
    assert "reconnected to the database" in workers.log("a") + workers.log("b")


def test_a_killed_workers_task_is_picked_up_by_another(workers, tmp_path):
    marker = tmp_path / "held"
    workers.start("a")
    result = hold_first_time.enqueue(str(marker))
    wait_for(marker.exists, 30, "worker a started the task")
    workers.start("b")
    wait_for(lambda: registered("b"), 30, "worker b registered")

    killed = time.monotonic()
    workers.kill("a")

    def finished():
        row = DBTaskResult.objects.get(pk=result.id)
        return row if row.status == TaskResultStatus.SUCCESSFUL else None

    row = wait_for(finished, RECOVERY_LIMIT, "the task re-run by worker b", step=0.2)
    print(f"\nkilled worker's task finished by another {time.monotonic() - killed:.2f} s later")
    assert row.worker_ids == ["a", "b"]
    assert row.return_value == "second run"
    recovery = TaskRecovery.objects.get(task_id=str(result.id))
    assert recovery.reason == RecoveryReason.WORKER_LOST
    assert (recovery.worker_id, recovery.recovered_by) == ("a", "b")
    assert "worker a" in recovery.note and "stopped beating at" in recovery.note
    assert Worker.objects.get(worker_id="a").state == WorkerState.LOST
    assert workers.alive("b")
