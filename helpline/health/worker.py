"""The task worker that runs unattended: django-tasks-db's loop, plus three things it lacks.

1. A lost database connection (PostgreSQL restarted, a network blip) never ends the process: the
   worker closes its connection, waits (capped exponential backoff, every attempt logged) and
   goes on. A task that died of the lost connection goes back in the queue; a finished task's
   outcome is written once the database is back, never dropped.
2. A heartbeat: a thread with its own connection writes `Worker.last_beat_at` every
   HELPLINE_WORKER_HEARTBEAT_SECONDS, also while a long task runs.
3. A lease: every living worker sweeps for RUNNING tasks whose worker has not beaten for
   HELPLINE_WORKER_LEASE_SECONDS, puts them back in the queue and records why (TaskRecovery).

Re-running a task is safe because every task claims its own rows first (notifications by a
conditional UPDATE, surveys by `sent_at IS NULL`, webhooks by their state): the worst case is a
mail sent twice when a worker died between the SMTP server's "250 OK" and the row's update.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.db.models.functions import Now
from django.dispatch import Signal
from django.tasks.base import TaskResultStatus
from django.utils import timezone
from django_tasks_db.compat import TaskContext, task_finished, task_started
from django_tasks_db.management.commands.db_worker import Worker as BaseWorker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from helpline.health.models import RecoveryReason, TaskRecovery, Worker, WorkerState

log = logging.getLogger("helpline.worker")
# Sent after a task was put back in the queue (kwargs: task, reason, worker_id): a listener may
# release what the dead run held, e.g. the outbox leases of the mail ids in task.args_kwargs,
# so that the re-run sends them now rather than when their own lease ends.
task_recovered = Signal()
CONNECTION_ERRORS = (OperationalError, InterfaceError)
ABANDONED = "helpline.health.worker.TaskAbandoned"


class TaskAbandoned(Exception):
    """Recorded on a task that lost its worker or its connection too often to be run again."""


def connection_error(exc: BaseException) -> bool:
    """Is a lost or broken database connection anywhere in `exc`'s chain? (A locked SQLite file
    is not: the connection is fine, the task simply failed.)"""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, CONNECTION_ERRORS) and not is_locked_database_exception(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def close_connections() -> None:
    """Drop this thread's database connections, broken or not, without raising."""
    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except DatabaseError:
            conn.connection = None


def connection_broke() -> bool:
    """Did a query or commit on this thread's connections fail since the last check, leaving the
    connection unusable? Django notes every database error on the wrapper (`errors_occurred`),
    also those a task caught and swallowed."""
    broke = False
    for conn in connections.all(initialized_only=True):
        if conn.errors_occurred:
            if conn.connection is None or not conn.is_usable():
                broke = True
                close_connections()
            conn.errors_occurred = False
    return broke


def database_answers() -> bool:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        close_connections()
        return False
    return True


class Backoff:
    """0.5 s, 1 s, 2 s … capped; `reset()` after a success."""

    def __init__(self, first: float, cap: float):
        self.first, self.cap, self.tries = first, max(first, cap), 0

    def next(self) -> float:
        delay = min(self.cap, self.first * 2**self.tries)
        self.tries += 1
        return delay

    def reset(self) -> None:
        self.tries = 0


# -- the lease sweep -------------------------------------------------------------------------


def requeue(task: DBTaskResult, reason: str, by: str, worker: Worker | None = None) -> bool:
    """Put a RUNNING task back in the queue (or fail it after too many recoveries) and record
    why. A conditional UPDATE on (status, started_at) makes two sweepers agree on one winner."""
    now = timezone.now()
    owner = worker.worker_id if worker else (task.worker_ids or [""])[-1]
    if reason == RecoveryReason.WORKER_LOST:
        beat = worker.last_beat_at if worker else None
        where = f" on {worker.host} (pid {worker.pid})" if worker else ""
        since = f" at {beat:%Y-%m-%d %H:%M:%S %Z}" if beat else " (never registered)"
        note = f"Re-queued: worker {owner}{where} stopped beating{since}."
    else:
        note = f"Re-queued: worker {owner} lost its database connection during the task."
    with transaction.atomic():
        earlier = TaskRecovery.objects.filter(task_id=str(task.pk)).count()
        give_up = earlier + 1 >= settings.HELPLINE_WORKER_MAX_RECOVERIES
        if give_up:
            note = note.replace("Re-queued", "Failed") + f" Recovered {earlier} times before."
            fields = dict(status=TaskResultStatus.FAILED, finished_at=now)
            fields.update(exception_class_path=ABANDONED)
        else:
            fields = dict(status=TaskResultStatus.READY, exception_class_path="")
            if reason == RecoveryReason.CONNECTION_LOST:
                # Not at once: a task that breaks the connection itself would spin.
                fields["run_after"] = now + timedelta(seconds=2**earlier)
        updated = DBTaskResult.objects.filter(
            pk=task.pk, status=TaskResultStatus.RUNNING, started_at=task.started_at
        ).update(traceback=note, **fields)
        if not updated:
            return False
        TaskRecovery.objects.create(
            task_id=str(task.pk),
            task_path=task.task_path,
            reason=reason,
            worker_id=owner,
            last_beat_at=worker.last_beat_at if worker else None,
            recovered_by=by,
            failed=give_up,
            note=note,
        )
    (log.error if give_up else log.warning)("%s (task %s, %s)", note, task.pk, task.task_path)
    if not give_up:
        task_recovered.send(sender=DBTaskResult, task=task, reason=reason, worker_id=owner)
    return True


def requeue_abandoned(by: str, lease: timedelta) -> int:
    """Mark workers that stopped beating as lost; re-queue the RUNNING tasks of workers that
    are not alive. Returns how many tasks were recovered."""
    cutoff = Now() - lease
    stale = Worker.objects.filter(state=WorkerState.RUNNING, last_beat_at__lt=cutoff)
    stale.update(state=WorkerState.LOST, stopped_at=Now())
    workers = {w.worker_id: w for w in Worker.objects.exclude(state=WorkerState.STOPPED)}
    recovered = 0
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff)
    for task in running.only("id", "task_path", "args_kwargs", "worker_ids", "started_at"):
        owner = workers.get((task.worker_ids or [""])[-1])
        if owner is not None and owner.state == WorkerState.RUNNING:
            continue
        recovered += requeue(task, RecoveryReason.WORKER_LOST, by, owner)
    return recovered


def prune(now=None) -> int:
    """Forget workers gone for a week and recoveries older than 30 days."""
    now = now or timezone.now()
    gone = Worker.objects.exclude(state=WorkerState.RUNNING).filter(
        stopped_at__lt=now - timedelta(days=7)
    )
    old = TaskRecovery.objects.filter(recovered_at__lt=now - timedelta(days=30))
    return gone.delete()[0] + old.delete()[0]


# -- the heartbeat ---------------------------------------------------------------------------


class Heart(threading.Thread):
    """Beats for its worker and sweeps for dead ones, on its own connection, until stopped.

    It sweeps only after beating without a gap for a whole lease: right after an outage every
    worker's beat is old, and the living ones need a moment to be heard again."""

    def __init__(self, worker: HelplineWorker):
        super().__init__(name=f"heartbeat-{worker.worker_id}", daemon=True)
        self.worker = worker
        self.stopping = threading.Event()
        self.beating_since: float | None = None
        self.pruned_at = 0.0

    def run(self) -> None:
        interval = settings.HELPLINE_WORKER_HEARTBEAT_SECONDS
        lease = settings.HELPLINE_WORKER_LEASE_SECONDS
        try:
            while not self.stopping.wait(interval):
                try:
                    self.beat_and_sweep(lease)
                except DatabaseError as exc:
                    if self.beating_since is not None:
                        log.warning("Heartbeat of worker %s failed: %s", self.worker.worker_id, exc)
                    self.beating_since = None
                    close_connections()
        finally:
            close_connections()

    def beat_and_sweep(self, lease: float) -> None:
        self.worker.beat()
        now = time.monotonic()
        if self.beating_since is None:
            self.beating_since = now
            self.worker.database_back.set()
        if now - self.beating_since >= lease:
            requeue_abandoned(self.worker.worker_id, timedelta(seconds=lease))
            if now - self.pruned_at > 3600:
                prune()
                self.pruned_at = now

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


# -- the worker ------------------------------------------------------------------------------


class HelplineWorker(BaseWorker):
    """django-tasks-db's Worker with reconnects, a heartbeat and a lease (see the module)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.host, self.pid = socket.gethostname()[:255], os.getpid()
        self.current_task_id = ""
        self.done = self.failed = self.reconnects = 0
        self.last_reconnect_at = None
        self.backoff = Backoff(
            settings.HELPLINE_WORKER_RECONNECT_MIN_SECONDS,
            settings.HELPLINE_WORKER_RECONNECT_MAX_SECONDS,
        )
        self.database_back = threading.Event()
        self.heart: Heart | None = None

    # The registry row.
    def register(self) -> None:
        self.until_written(
            lambda: Worker.objects.update_or_create(
                worker_id=self.worker_id,
                defaults=dict(
                    host=self.host,
                    pid=self.pid,
                    queues=",".join(self.queue_names)[:255],
                    state=WorkerState.RUNNING,
                    started_at=timezone.now(),
                    last_beat_at=Now(),
                    stopped_at=None,
                    note="",
                ),
            )
        )

    def beat(self) -> None:
        fields = dict(
            last_beat_at=Now(),
            current_task_id=self.current_task_id,
            tasks_done=self.done,
            tasks_failed=self.failed,
            reconnects=self.reconnects,
            last_reconnect_at=self.last_reconnect_at,
        )
        mine = Worker.objects.filter(worker_id=self.worker_id)
        if not mine.filter(state=WorkerState.RUNNING).update(**fields):
            # Marked lost while this process could not reach the database: alive after all.
            mine.update(state=WorkerState.RUNNING, stopped_at=None, note="Beating again.", **fields)

    def sign_off(self) -> None:
        try:
            Worker.objects.filter(worker_id=self.worker_id).update(
                state=WorkerState.STOPPED,
                stopped_at=Now(),
                current_task_id="",
                tasks_done=self.done,
                tasks_failed=self.failed,
                reconnects=self.reconnects,
            )
        except DatabaseError as exc:
            log.warning("Worker %s could not record its stop: %s", self.worker_id, exc)

    # The loop.
    def run(self) -> None:
        log.info("Starting worker %s on %s (pid %s)", self.worker_id, self.host, self.pid)
        self.register()
        self.heart = Heart(self)
        self.heart.start()
        try:
            self.loop()
        finally:
            self.heart.stop()
            self.sign_off()
            close_connections()

    def loop(self) -> None:
        while self.running:
            try:
                task = self.claim_next()
            except DatabaseError as exc:
                if isinstance(exc, OperationalError) and is_locked_database_exception(exc):
                    time.sleep(self.interval)
                    continue
                self.wait_for_database(exc)
                continue
            if task is not None:
                self.run_task(task)
            elif self.batch:
                log.info("No more tasks for worker %s: exiting.", self.worker_id)
                return
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                log.info("Worker %s ran %d tasks: exiting.", self.worker_id, self._run_tasks)
                return
            if self.running and task is None:
                time.sleep(self.interval)

    def claim_next(self) -> DBTaskResult | None:
        """Lock the next ready task (SKIP LOCKED), mark it running as this worker's, and note it
        on the registry row, in one transaction."""
        from django.db import close_old_connections

        close_old_connections()
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        with exclusive_transaction(tasks.db):
            task = tasks.get_locked()
            if task is not None:
                task.claim(self.worker_id)
                Worker.objects.filter(worker_id=self.worker_id).update(current_task_id=str(task.pk))
                self.current_task_id = str(task.pk)
        return task

    def run_task(self, db_task_result: DBTaskResult) -> None:
        """Run one claimed task and record its outcome, whatever the database does meanwhile."""
        self.running_task = True
        try:
            try:
                value = self.call(db_task_result)
                if connection_broke():
                    # The task caught the error itself; its work may be half done: run it again.
                    raise OperationalError("the database connection broke during the task")
            except BaseException as exc:  # noqa: BLE001 - recorded on the row, as the base does
                if connection_error(exc) and not isinstance(exc, KeyboardInterrupt | SystemExit):
                    self.wait_for_database(exc)
                    self.until_written(
                        lambda: requeue(
                            db_task_result, RecoveryReason.CONNECTION_LOST, self.worker_id
                        )
                    )
                    return
                self.failed += 1
                self.until_written(partial(db_task_result.set_failed, exc))
                self.finished(db_task_result)
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                return
            try:
                self.until_written(partial(db_task_result.set_successful, value))
                self.done += 1
            except Exception as exc:  # noqa: BLE001 - e.g. a return value JSON cannot hold
                self.failed += 1
                self.until_written(partial(db_task_result.set_failed, exc))
            self.finished(db_task_result)
        finally:
            self.running_task = False
            self.current_task_id = ""
            self._run_tasks += 1

    def call(self, db_task_result: DBTaskResult):
        task = db_task_result.task
        task_result = db_task_result.task_result
        task_started.send(sender=type(task.get_backend()), task_result=task_result)
        if task.takes_context:
            context = TaskContext(task_result=task_result)
            return task.call(context, *task_result.args, **task_result.kwargs)
        return task.call(*task_result.args, **task_result.kwargs)

    def finished(self, db_task_result: DBTaskResult) -> None:
        try:
            sender = type(db_task_result.task.get_backend())
            task_finished.send(sender=sender, task_result=db_task_result.task_result)
        except Exception:  # noqa: BLE001 - a listener's error must not stop the worker
            log.exception("Task id=%s: task_finished listeners failed", db_task_result.pk)

    # Surviving the database.
    def until_written(self, write):
        """Run a database write, waiting out any number of lost connections."""
        while True:
            try:
                return write()
            except CONNECTION_ERRORS as exc:
                if not connection_error(exc):
                    raise
                self.wait_for_database(exc)

    def wait_for_database(self, exc: BaseException) -> None:
        """Close the broken connection and try again with backoff until the database answers.
        Returns at once, without a reconnect, if a shutdown was asked for meanwhile."""
        log.warning("Worker %s lost the database: %s", self.worker_id, str(exc).strip())
        close_connections()
        lost_at = time.monotonic()
        self.backoff.reset()
        self.database_back.clear()
        while True:
            delay = self.backoff.next()
            # The heartbeat thread wakes us as soon as it gets through.
            self.database_back.wait(delay)
            if not self.running:
                raise SystemExit(0)
            if database_answers():
                break
            log.warning(
                "Worker %s: database still unreachable (attempt %d, next in %.1f s)",
                self.worker_id,
                self.backoff.tries,
                min(self.backoff.cap, self.backoff.first * 2**self.backoff.tries),
            )
        self.reconnects += 1
        self.last_reconnect_at = timezone.now()
        log.warning(
            "Worker %s reconnected to the database after %.1f s (reconnect %d)",
            self.worker_id,
            time.monotonic() - lost_at,
            self.reconnects,
        )
