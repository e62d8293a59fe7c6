"""Leases, reconnects and the health an admin sees (both databases; the real processes and the
PostgreSQL restart are in test_faults_pg.py)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.tasks.base import TaskResultStatus
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from helpline.health import status
from helpline.health.models import RecoveryReason, TaskRecovery, Worker, WorkerState
from helpline.health.worker import HelplineWorker, requeue_abandoned
from helpline.tickets import actions
from helpline.tickets.models import DeliveryState, Notification

LEASE = timedelta(seconds=30)


def _running_task(owner: str, path: str = "tests.health.tasks.succeed") -> DBTaskResult:
    return DBTaskResult.objects.create(
        status=TaskResultStatus.RUNNING,
        args_kwargs={"args": [], "kwargs": {}},
        task_path=path,
        backend_name="default",
        run_after=get_date_max(),
        started_at=timezone.now() - timedelta(minutes=5),
        worker_ids=[owner],
    )


def _worker(worker_id: str, beat_ago: timedelta) -> Worker:
    return Worker.objects.create(
        worker_id=worker_id, host="h1", pid=7, queues="default",
        last_beat_at=timezone.now() - beat_ago,
    )  # fmt: skip


@pytest.fixture
def queue_in_database(settings):
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }


@pytest.mark.django_db
def test_a_dead_workers_task_goes_back_to_the_queue_and_says_why():
    _worker("dead", beat_ago=timedelta(minutes=2))
    _worker("alive", beat_ago=timedelta(seconds=1))
    orphan, kept = _running_task("dead"), _running_task("alive")

    assert requeue_abandoned("sweeper", LEASE) == 1
    orphan.refresh_from_db()
    kept.refresh_from_db()
    assert orphan.status == TaskResultStatus.READY
    assert "worker dead on h1 (pid 7) stopped beating at" in orphan.traceback
    assert kept.status == TaskResultStatus.RUNNING
    recovery = TaskRecovery.objects.get()
    assert (recovery.reason, recovery.worker_id, recovery.recovered_by) == (
        RecoveryReason.WORKER_LOST, "dead", "sweeper",
    )  # fmt: skip
    assert Worker.objects.get(worker_id="dead").state == WorkerState.LOST
    assert requeue_abandoned("another sweeper", LEASE) == 0  # nothing twice


@pytest.mark.django_db
def test_a_task_of_an_unknown_worker_is_recovered_and_one_that_keeps_dying_fails(settings):
    settings.HELPLINE_WORKER_MAX_RECOVERIES = 2
    task = _running_task("never-registered")
    assert requeue_abandoned("sweeper", LEASE) == 1
    DBTaskResult.objects.filter(pk=task.pk).update(status=TaskResultStatus.RUNNING)
    assert requeue_abandoned("sweeper", LEASE) == 1
    task.refresh_from_db()
    assert task.status == TaskResultStatus.FAILED
    assert task.traceback.startswith("Failed: worker never-registered stopped beating")
    assert TaskRecovery.objects.filter(task_id=str(task.pk), failed=True).count() == 1


def _worker_process(**options) -> HelplineWorker:
    defaults = dict(
        queue_names=["default"], interval=0, batch=True, backend_name="default",
        startup_delay=False, max_tasks=None, worker_id="w1", excluded_queue_names=[],
    )  # fmt: skip
    worker = HelplineWorker(**(defaults | options))
    worker.register()
    return worker


@pytest.mark.django_db(transaction=True)
def test_a_task_that_lost_the_database_is_run_again_after_the_reconnect(queue_in_database):
    from tests.health.tasks import lose_connection, succeed

    lost, fine = lose_connection.enqueue(), succeed.enqueue()
    worker = _worker_process(max_tasks=2)
    worker.loop()

    lost_row = DBTaskResult.objects.get(pk=lost.id)
    assert lost_row.status == TaskResultStatus.READY  # back in the queue, not failed
    assert "lost its database connection" in lost_row.traceback
    assert DBTaskResult.objects.get(pk=fine.id).status == TaskResultStatus.SUCCESSFUL
    assert worker.reconnects == 1
    recovery = TaskRecovery.objects.get(task_id=str(lost.id))
    assert recovery.reason == RecoveryReason.CONNECTION_LOST


@pytest.mark.django_db(transaction=True)
def test_the_worker_waits_out_a_database_that_does_not_answer(queue_in_database, monkeypatch):
    from helpline.health import worker as worker_module
    from tests.health.tasks import succeed

    answers = iter([False, False, True])
    monkeypatch.setattr(worker_module, "database_answers", lambda: next(answers))
    monkeypatch.setattr(worker_module.time, "sleep", lambda s: None)
    worker = _worker_process()
    worker.backoff.first = worker.backoff.cap = 0.001
    calls = []
    real_claim = worker.claim_next

    def claim_once_broken():
        calls.append(1)
        if len(calls) == 1:
            raise worker_module.OperationalError("connection refused")
        return real_claim()

    worker.claim_next = claim_once_broken
    result = succeed.enqueue()
    worker.loop()  # batch: returns once the queue is empty
    assert worker.reconnects == 1
    assert DBTaskResult.objects.get(pk=result.id).status == TaskResultStatus.SUCCESSFUL


# -- what the admin sees --------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_home_and_dashboard_show_the_panel_to_admins_only(client, admin_user, john):
    client.force_login(admin_user)
    for url in (reverse("admin:index"), reverse("staff:dashboard")):
        page = client.get(url).content.decode()
        assert 'id="health-panel"' in page, url
        assert "Scheduler" in page and "No periodic job was started" in page
    client.force_login(john)
    assert 'id="health-panel"' not in client.get(reverse("staff:dashboard")).content.decode()


@pytest.mark.django_db
def test_the_panel_turns_red_with_a_reason_when_mail_waits(karen, queue_in_database):
    ticket = actions.open_ticket(karen, requester=karen, subject="Printer", body="It jams.")
    Notification.objects.filter(ticket=ticket).update(
        created_at=timezone.now() - timedelta(hours=1),
        attempts=2,
        error="SMTPServerDisconnected: Connection unexpectedly closed",
    )
    found = {c.name: c for c in status.checks(status.snapshot())}
    assert found["Outgoing mail queue"].level == status.RED
    assert "has waited 1" in found["Outgoing mail queue"].reason
    assert found["SMTP server"].level == status.RED
    assert "SMTPServerDisconnected" in found["SMTP server"].reason
    assert found["Task workers"].level == status.RED  # a queue, and nobody to run it
    _worker("w1", beat_ago=timedelta(seconds=1))
    assert status.check_workers(status.snapshot()).level == status.OK


@pytest.mark.django_db
def test_healthz_stays_cheap_and_deep_checks_workers_and_ages(
    client, django_assert_max_num_queries, queue_in_database
):
    with django_assert_max_num_queries(1):
        assert client.get("/healthz").json() == {"status": "ok"}
    deep = client.get("/healthz?deep=1")
    assert deep.status_code == 503
    assert deep.json()["workers"] == "failing" and deep.json()["storage"] == "ok"
    _worker("w1", beat_ago=timedelta(seconds=1))
    deep = client.get("/healthz?deep=1")
    assert deep.status_code == 200, deep.json()
    assert deep.json()["workers_alive"] == "1"


@pytest.mark.django_db
def test_metrics_need_the_token(client, settings, karen):
    assert client.get("/metrics").status_code == 404  # off without a token
    settings.HELPLINE_METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    client.get("/healthz")
    answer = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert answer.status_code == 200
    text = answer.content.decode()
    for name in (
        'helpline_http_requests_total{method="GET",status="200",view="healthz"}',
        "helpline_http_request_seconds_bucket",
        'helpline_tasks{state="ready"}',
        "helpline_outbox_oldest_seconds",
        "helpline_workers_alive",
        "helpline_scheduler_last_run_timestamp_seconds",
    ):
        assert name in text, name
    assert connection.vendor in ("sqlite", "postgresql")
    assert DeliveryState.QUEUED  # the outbox model is read, never written
