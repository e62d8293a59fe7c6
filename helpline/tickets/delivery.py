"""Turn outbox rows into email, with retries and backoff.

Each send first claims the row with a conditional UPDATE (state queued, attempts unchanged), so two
workers handed the same ids never send one notification twice. No transaction is held open while
talking to the SMTP server. A failed send is retried later (1, 5, 30, 120 minutes) through
`django.tasks` `run_after` when the task backend can defer, else by the `retry_notifications`
sweep; after MAX_ATTEMPTS the row is marked failed with the last error.
"""

import logging
from datetime import timedelta

from django.db.models import F, Q
from django.utils import timezone

from helpline.tickets.models import DeliveryState, Notification

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
BACKOFF_MINUTES = (1, 5, 30, 120)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try."""
    return timedelta(minutes=BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1])


def render(notification: Notification) -> tuple[str, str]:
    """(subject, plain-text body) of a notification, as it would be sent."""
    from helpline.mail.outbound import render as render_mail

    rendered = render_mail(notification)
    return rendered.subject, rendered.text


def _claim(notification: Notification) -> bool:
    claimed = Notification.objects.filter(
        pk=notification.pk, state=DeliveryState.QUEUED, attempts=notification.attempts
    ).update(attempts=F("attempts") + 1)
    if claimed:
        notification.attempts += 1
    return bool(claimed)


def _finish(notification: Notification, **fields) -> None:
    for name, value in fields.items():
        setattr(notification, name, value)
    Notification.objects.filter(pk=notification.pk).update(**fields)


def send_one(notification: Notification) -> bool:
    """Try to send one claimed notification; record the outcome. True if it went out."""
    from helpline.mail.outbound import Suppressed, build_message

    try:
        message, message_id = build_message(notification)
    except Suppressed as exc:
        _finish(notification, state=DeliveryState.SUPPRESSED, error=str(exc))
        return False
    except Exception as exc:  # noqa: BLE001 - a template or data problem: retrying won't help
        log.exception("Rendering notification %s failed", notification.pk)
        _finish(notification, state=DeliveryState.FAILED, error=f"Rendering failed: {exc}"[:2000])
        return False
    try:
        message.send()
    except Exception as exc:  # noqa: BLE001 - any transport error is retried later
        log.warning("Sending notification %s failed: %s", notification.pk, exc)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if notification.attempts >= MAX_ATTEMPTS:
            _finish(notification, state=DeliveryState.FAILED, error=error)
        else:
            _finish(notification, error=error)
            _schedule_retry(notification)
        return False
    _finish(
        notification,
        state=DeliveryState.SENT,
        sent_at=timezone.now(),
        message_id=message_id[:255],
        error="",
    )
    return True


def _schedule_retry(notification: Notification) -> None:
    from django.tasks import default_task_backend

    from helpline.tickets.tasks import deliver_notifications

    if not default_task_backend.supports_defer:
        return  # The retry_notifications sweep picks it up.
    when = timezone.now() + backoff(notification.attempts)
    deliver_notifications.using(run_after=when).enqueue([notification.pk])


def deliver(ids: list[int]) -> int:
    """Send the queued notifications among `ids`; returns how many went out."""
    sent = 0
    rows = Notification.objects.filter(pk__in=ids, state=DeliveryState.QUEUED).select_related(
        "ticket__department",
        "ticket__requester",
        "ticket__status",
        "ticket__priority",
        "ticket__assignee",
        "ticket__team",
        "ticket__help_topic",
        "entry",
        "recipient",
    )
    for notification in rows:
        if _claim(notification):
            sent += send_one(notification)
    return sent


# A notification never tried this long after it was queued lost its task (a process died
# between the commit and the hand-over to the worker): the sweep sends it.
STRANDED_AFTER = timedelta(minutes=10)


def retry_due(now=None) -> int:
    """Send queued notifications whose backoff has passed (the sweep when tasks can't defer),
    and those whose first delivery task never ran."""
    now = now or timezone.now()
    due = []
    waiting = Q(attempts__gt=0) | Q(attempts=0, created_at__lte=now - STRANDED_AFTER)
    for pk, attempts, created_at in Notification.objects.filter(
        waiting, state=DeliveryState.QUEUED
    ).values_list("pk", "attempts", "created_at")[:500]:
        if created_at + sum((backoff(n) for n in range(1, attempts + 1)), timedelta()) <= now:
            due.append(pk)
    return deliver(due) if due else 0
