"""The periodic jobs: what each does, how often, and with which settings.

Each job is a plain function returning how many items it handled; the scheduler claims one run
per period and enqueues `tasks.run_job`, which calls the function in a worker. Every job walks its
rows in keyset batches (tickets.sweeps), so a million open tickets never sit in memory.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from helpline.automation.models import AutomationSettings, DueReminder, JobRun
from helpline.tickets import notify, sweeps
from helpline.tickets.models import NotificationKind, State, Ticket

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[], int]
    description: str


def mark_overdue() -> int:
    return sweeps.mark_overdue_tickets()


def close_pending() -> int:
    config = AutomationSettings.load()
    if not config.close_pending_enabled:
        return 0
    return sweeps.close_stale_pending(days=config.pending_close_days)


def close_resolved() -> int:
    config = AutomationSettings.load()
    if not config.close_resolved_enabled:
        return 0
    return sweeps.close_resolved_tickets(days=config.resolved_close_days)


def reminder_kind() -> str | None:
    """The notification kind for due-time reminders, once tickets.models defines it."""
    return "due_reminder" if "due_reminder" in NotificationKind.values else None


def remind_before_due(now=None) -> int:
    """Alert the assignee (else the department manager) of open tickets due within the
    configured minutes; once per ticket and due time (a DueReminder row is the claim)."""
    minutes = AutomationSettings.load().remind_before_due_minutes
    kind = reminder_kind()
    if not minutes:
        return 0
    if kind is None:
        log.warning("Due reminders are on but NotificationKind has no due_reminder kind yet.")
        return 0
    now = now or timezone.now()
    soon = Ticket.objects.filter(
        state=State.OPEN,
        is_overdue=False,
        due_at__gt=now,
        due_at__lte=now + timedelta(minutes=minutes),
    ).select_related("assignee", "department__manager")
    sent = 0
    for batch in sweeps._batches(soon):
        for ticket in batch:
            try:
                with transaction.atomic():
                    DueReminder.objects.create(ticket=ticket, due_at=ticket.due_at)
                    person = ticket.assignee or ticket.department.manager
                    notify.queue(kind, ticket, [person] if person else [])
            except IntegrityError:
                continue  # Reminded already for this due time.
            sent += 1
    return sent


def expire_guest_links() -> int:
    return sweeps.purge_expired_guest_links(days=AutomationSettings.load().guest_link_days)


def purge_failed_mail(now=None) -> int:
    """Delete mail that could not be taken in, after the configured number of days."""
    from helpline.mail.models import FailedMail

    now = now or timezone.now()
    days = AutomationSettings.load().failed_mail_days
    old = FailedMail.objects.filter(received_at__lt=now - timedelta(days=days))
    return sweeps._delete_in_batches(old)


def retry_notifications() -> int:
    from helpline.tickets.delivery import retry_due

    return retry_due()


def retry_webhooks() -> int:
    from helpline.api.webhooks import retry_due

    return retry_due()


def prune_job_runs(now=None) -> int:
    now = now or timezone.now()
    days = AutomationSettings.load().job_runs_days
    return sweeps._delete_in_batches(
        JobRun.objects.filter(claimed_at__lt=now - timedelta(days=days))
    )


def _minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


DEFAULT_JOBS = (
    Job("mark_overdue", _minutes(1), mark_overdue, "Mark tickets past their due time overdue"),
    Job("remind_before_due", _minutes(5), remind_before_due, "Remind before a due time"),
    Job("close_pending", _minutes(60), close_pending, "Close tickets left pending"),
    Job("close_resolved", _minutes(60), close_resolved, "Close resolved tickets"),
    Job("retry_notifications", _minutes(1), retry_notifications, "Send mail waiting to retry"),
    Job("retry_webhooks", _minutes(1), retry_webhooks, "Retry webhook deliveries"),
    Job("expire_guest_links", _minutes(24 * 60), expire_guest_links, "Delete expired guest links"),
    Job("purge_failed_mail", _minutes(24 * 60), purge_failed_mail, "Delete old failed mail"),
    Job("prune_job_runs", _minutes(24 * 60), prune_job_runs, "Delete old scheduler runs"),
)


def all_jobs() -> dict[str, Job]:
    """The jobs by name; HELPLINE_JOB_MINUTES = {"mark_overdue": 2, ...} changes intervals and
    0 switches a job off."""
    minutes = settings.HELPLINE_JOB_MINUTES
    jobs = {}
    for job in DEFAULT_JOBS:
        if job.name in minutes:
            if not minutes[job.name]:
                continue
            job = Job(job.name, _minutes(minutes[job.name]), job.run, job.description)
        jobs[job.name] = job
    return jobs
