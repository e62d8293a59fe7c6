"""What an admin needs to see to know the help desk runs: one snapshot of the figures, and the
checks that turn them green, amber or red with a reason.

Every query here uses an index (the partial ones on queued mail, ready/running/failed tasks, the
worker registry) or a bounded window, so the panel and /metrics stay cheap at a million rows.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django.tasks.base import TaskResultStatus
from django.utils import timezone
from django.utils.timesince import timesince
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult, get_date_max

from helpline.health.models import TaskRecovery, Worker, WorkerState

OK, WARN, RED = "ok", "warn", "red"
# Failed mail is counted among this many most recent outbox rows (an index range on the key).
RECENT_MAIL = 20_000
# Below this share of free space the storage check turns red.
MIN_FREE_SHARE = 0.05


@dataclass
class Check:
    name: str
    level: str
    summary: str
    reason: str = ""
    rows: list[dict] = field(default_factory=list)


@dataclass
class Snapshot:
    """The figures, read once."""

    now: datetime
    uses_workers: bool
    workers: list[Worker]
    alive: list[Worker]
    tasks_ready: int
    oldest_ready_at: datetime | None
    tasks_running: int
    tasks_failed_day: int
    recoveries_day: int
    recent_recoveries: list[TaskRecovery]
    outbox_queued: int
    oldest_queued_at: datetime | None
    retrying: int
    last_mail_error: str
    last_sent_at: datetime | None
    mail_failed_recent: int
    mail_by_state: dict[str, int]
    inbound_failed_day: int
    mailboxes: list
    last_job_at: datetime | None
    job_errors_day: int
    jobs_waiting: int


def _age(now: datetime, then: datetime | None) -> float | None:
    return (now - then).total_seconds() if then else None


def _oldest_ready(now: datetime) -> datetime | None:
    """When the longest-waiting ready task became ready (enqueued, or its run_after)."""
    ready = DBTaskResult.objects.ready()
    undated = ready.filter(run_after=get_date_max()).order_by("enqueued_at")
    dated = ready.exclude(run_after=get_date_max()).order_by("run_after")
    times = [
        *undated.values_list("enqueued_at", flat=True)[:1],
        *dated.values_list("run_after", flat=True)[:1],
    ]
    return min(times) if times else None


def snapshot(now: datetime | None = None) -> Snapshot:
    from helpline.automation.models import JobRun
    from helpline.mail.models import FailedMail, Mailbox
    from helpline.tickets.models import DeliveryState, Notification

    now = now or timezone.now()
    day = now - timedelta(days=1)
    lease = timedelta(seconds=settings.HELPLINE_WORKER_LEASE_SECONDS)
    workers = list(Worker.objects.order_by("-last_beat_at")[:50])
    alive = [w for w in workers if w.state == WorkerState.RUNNING and w.last_beat_at >= now - lease]
    tasks = DBTaskResult.objects
    queued = Notification.objects.filter(state=DeliveryState.QUEUED)
    last_pk = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    recent = Notification.objects.filter(pk__gt=last_pk - RECENT_MAIL)
    by_state = dict(recent.order_by().values_list("state").annotate(n=Count("pk")))
    last_error = (
        queued.exclude(error="").order_by("-created_at").values_list("error", flat=True).first()
    )
    return Snapshot(
        now=now,
        uses_workers=isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend),
        workers=workers,
        alive=alive,
        tasks_ready=tasks.ready().count(),
        oldest_ready_at=_oldest_ready(now),
        tasks_running=tasks.filter(status=TaskResultStatus.RUNNING).count(),
        tasks_failed_day=tasks.filter(status=TaskResultStatus.FAILED, finished_at__gte=day).count(),
        recoveries_day=TaskRecovery.objects.filter(recovered_at__gte=day).count(),
        recent_recoveries=list(TaskRecovery.objects.order_by("-recovered_at")[:5]),
        outbox_queued=queued.count(),
        oldest_queued_at=queued.order_by("created_at").values_list("created_at", flat=True).first(),
        retrying=queued.exclude(error="").count(),
        last_mail_error=last_error or "",
        last_sent_at=recent.filter(state=DeliveryState.SENT)
        .order_by("-pk")
        .values_list("sent_at", flat=True)
        .first(),
        mail_failed_recent=by_state.get(DeliveryState.FAILED, 0),
        mail_by_state=by_state,
        inbound_failed_day=FailedMail.objects.filter(received_at__gte=day).count(),
        mailboxes=list(Mailbox.objects.filter(active=True).exclude(host="").order_by("name")),
        last_job_at=JobRun.objects.order_by("-claimed_at")
        .values_list("claimed_at", flat=True)
        .first(),
        job_errors_day=JobRun.objects.filter(claimed_at__gte=day).exclude(error="").count(),
        jobs_waiting=JobRun.objects.filter(
            claimed_at__lt=now - timedelta(minutes=10),
            claimed_at__gte=day,
            finished_at__isnull=True,
        ).count(),
    )


# -- the checks ------------------------------------------------------------------------------


def _ago(now: datetime, then: datetime | None) -> str:
    return f"{timesince(then, now)} ago" if then else "never"


def check_workers(s: Snapshot) -> Check:
    rows = [
        {
            "name": f"{w.host}:{w.pid}",
            "state": w.get_state_display(),
            "last_beat": _ago(s.now, w.last_beat_at),
            "alive": w in s.alive,
            "detail": f"{w.tasks_done} done, {w.tasks_failed} failed, "
            f"{w.reconnects} reconnects"
            + (f"; running {w.current_task_id}" if w.current_task_id else ""),
        }
        for w in s.workers[:10]
    ]
    if not s.uses_workers:
        return Check("Task workers", OK, "Tasks run inside the web process (no queue).", rows=rows)
    summary = f"{len(s.alive)} alive"
    if not s.alive:
        last = s.workers[0].last_beat_at if s.workers else None
        return Check(
            "Task workers",
            RED,
            summary,
            f"No worker has beaten within {settings.HELPLINE_WORKER_LEASE_SECONDS:g} s (last beat "
            f"{_ago(s.now, last)}): mail, webhooks and periodic jobs wait. "
            "Start `helpline worker`.",
            rows,
        )
    return Check("Task workers", OK, summary, rows=rows)


def check_tasks(s: Snapshot) -> Check:
    age = _age(s.now, s.oldest_ready_at)
    summary = (
        f"{s.tasks_ready} waiting"
        + (f" (oldest {timesince(s.oldest_ready_at, s.now)})" if s.oldest_ready_at else "")
        + f", {s.tasks_running} running, {s.tasks_failed_day} failed and "
        f"{s.recoveries_day} recovered from dead workers in 24 h"
    )
    rows = [{"name": r.recovered_at, "detail": r.note} for r in s.recent_recoveries]
    if age is not None and age > settings.HELPLINE_HEALTH_TASK_AGE_SECONDS:
        return Check(
            "Task queue",
            RED,
            summary,
            f"The oldest task has waited {timesince(s.oldest_ready_at, s.now)}: the workers "
            "do not keep up or do not run.",
            rows,
        )
    return Check("Task queue", WARN if s.tasks_failed_day else OK, summary, rows=rows)


def check_outbox(s: Snapshot) -> Check:
    age = _age(s.now, s.oldest_queued_at)
    summary = f"{s.outbox_queued} mails queued" + (
        f" (oldest {timesince(s.oldest_queued_at, s.now)})" if s.oldest_queued_at else ""
    )
    if age is not None and age > settings.HELPLINE_HEALTH_OUTBOX_AGE_SECONDS:
        return Check(
            "Outgoing mail queue",
            RED,
            summary,
            f"A mail has waited {timesince(s.oldest_queued_at, s.now)} to go out.",
        )
    return Check("Outgoing mail queue", OK, summary)


def check_smtp(s: Snapshot) -> Check:
    backend = settings.MAILERS["default"]["BACKEND"].rsplit(".", 2)[-2]
    summary = f"{backend} backend; last mail sent {_ago(s.now, s.last_sent_at)}"
    if backend == "console":
        summary += " (no SMTP_HOST: mail is printed, not sent)"
    quiet = s.last_sent_at is None or s.now - s.last_sent_at > timedelta(minutes=5)
    if s.retrying and quiet:
        return Check(
            "SMTP server",
            RED,
            summary,
            f"{s.retrying} mails wait for a retry and none went out in 5 minutes; "
            f"last error: {s.last_mail_error[:300]}",
        )
    if s.retrying:
        return Check(
            "SMTP server",
            WARN,
            summary,
            f"{s.retrying} mails wait for a retry; last error: {s.last_mail_error[:300]}",
        )
    return Check("SMTP server", OK, summary)


def check_failed_mail(s: Snapshot) -> Check:
    summary = (
        f"{s.mail_failed_recent} outgoing failed (of the last {RECENT_MAIL:,}); "
        f"{s.inbound_failed_day} incoming could not be taken in (24 h)"
    )
    if s.mail_failed_recent or s.inbound_failed_day:
        return Check("Failed mail", WARN, summary, "Some mail failed: see the lists in the admin.")
    return Check("Failed mail", OK, summary)


def check_mailboxes(s: Snapshot) -> Check:
    stale_after = timedelta(minutes=settings.HELPLINE_HEALTH_FETCH_MINUTES)
    rows, reasons = [], []
    for box in s.mailboxes:
        stale = box.last_fetched_at is None or s.now - box.last_fetched_at > stale_after
        rows.append(
            {
                "name": box.name,
                "last_beat": _ago(s.now, box.last_fetched_at),
                "alive": not (stale or box.last_error),
                "detail": box.last_error[:300],
            }
        )
        if box.last_error:
            reasons.append(f"{box.name}: {box.last_error[:200]}")
        elif stale:
            reasons.append(f"{box.name}: no fetch for {_ago(s.now, box.last_fetched_at)}")
    summary = f"{len(s.mailboxes)} mailboxes fetched over IMAP"
    if reasons:
        return Check("Mailboxes", RED, summary, "; ".join(reasons), rows)
    return Check("Mailboxes", OK, summary, rows=rows)


def check_scheduler(s: Snapshot) -> Check:
    summary = (
        f"last run {_ago(s.now, s.last_job_at)}; {s.job_errors_day} failed runs in 24 h"
        f", {s.jobs_waiting} waiting for a worker"
    )
    limit = timedelta(minutes=settings.HELPLINE_HEALTH_SCHEDULER_MINUTES)
    if s.last_job_at is None or s.now - s.last_job_at > limit:
        return Check(
            "Scheduler",
            RED,
            summary,
            f"No periodic job was started for {_ago(s.now, s.last_job_at)}: overdue marking, "
            "auto-close and mail retries stop. Start `helpline scheduler`.",
        )
    if s.job_errors_day or s.jobs_waiting:
        return Check("Scheduler", WARN, summary, "See Scheduled job runs in the admin.")
    return Check("Scheduler", OK, summary)


def check_storage() -> Check:
    """MEDIA_ROOT takes a file and has room."""
    root = settings.MEDIA_ROOT
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".healthz-"):
            pass
        usage = shutil.disk_usage(root)
    except OSError as exc:
        return Check("Attachment storage", RED, "not writable", f"MEDIA_ROOT: {exc.strerror}")
    free = usage.free / usage.total if usage.total else 1.0
    summary = f"writable, {free:.0%} free"
    if free < MIN_FREE_SHARE:
        return Check("Attachment storage", RED, summary, "Less than 5% of the disk is free.")
    return Check("Attachment storage", OK, summary)


def checks(s: Snapshot) -> list[Check]:
    return [
        check_workers(s),
        check_tasks(s),
        check_outbox(s),
        check_smtp(s),
        check_failed_mail(s),
        check_mailboxes(s),
        check_scheduler(s),
        check_storage(),
    ]


def deep(now: datetime | None = None) -> tuple[bool, dict[str, str]]:
    """For /healthz?deep=1: workers, task and outbox age, storage. Only levels and our own
    words with numbers, never an error text (the endpoint is public)."""
    s = snapshot(now)
    found = {
        "workers": check_workers(s),
        "tasks": check_tasks(s),
        "outbox": check_outbox(s),
        "storage": check_storage(),
    }
    result = {name: ("ok" if c.level != RED else "failing") for name, c in found.items()}
    result["workers_alive"] = str(len(s.alive))
    result["oldest_task_seconds"] = str(int(_age(s.now, s.oldest_ready_at) or 0))
    result["oldest_mail_seconds"] = str(int(_age(s.now, s.oldest_queued_at) or 0))
    return all(c.level != RED for c in found.values()), result
