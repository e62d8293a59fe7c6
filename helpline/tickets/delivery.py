"""The outbox: every mail the help desk sends is a Notification row, sent from here.

A row is claimed with a lease before anything is sent: in one short transaction the due rows are
selected (PostgreSQL: FOR UPDATE SKIP LOCKED, so workers pass each other by; SQLite: its single
writer serialises the claims), their attempt is counted, their Message-ID fixed if they have none
yet, and `next_attempt_at` moved to the end of the lease. Then, with no transaction open, the
messages go out over one SMTP connection, and right after the server's 250 for a message its
"sent" mark is committed on a database connection of its own (retried for a while if the
database is away), before the next message and before QUIT.

A failed attempt sets `next_attempt_at` to a capped exponential backoff (a deferred task when the
task backend can wait, and the `retry_notifications` sweep in any case); after
HELPLINE_MAIL_MAX_ATTEMPTS the row is failed with the last error. A worker that dies mid-send
leaves its rows leased: when the lease ends the sweep sends them again with the same Message-ID,
so a message that did reach the server before the crash shows as one message in mail clients.
Rows whose delivery task never ran are swept once they are a lease old. Nothing here raises into
the task that called it: a problem is logged and left on the row for the next try.
"""

import contextlib
import logging
import os
import sys
import time
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers, make_msgid
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.sql import UpdateQuery
from django.db.models.sql.constants import ROW_COUNT
from django.utils import timezone

from helpline.tickets.models import ComposedKind, DeliveryState, Notification

log = logging.getLogger(__name__)

# Rows claimed at once: one SMTP connection sends them, all within one lease.
BATCH = 50
# Batches one sweep sends at most (the next sweep takes the rest).
SWEEP_BATCHES = 10
# How long a worker keeps trying to record "sent" while the database is unreachable.
MARK_RETRY_SECONDS = 30.0
# Mail whose body holds a working secret (a reset or confirmation link): the body is wiped
# once the row is sent or failed, so the outbox does not keep usable links.
SECRET_KINDS = {ComposedKind.PASSWORD_RESET, ComposedKind.REGISTER_CONFIRM, ComposedKind.GUEST_LINK}
# Tests only (tests/outbox/test_worker_killed.py): the sending step at which to stop and wait
# to be killed: before_connect, after_accept (the server said 250, not yet marked), after_mark.
PAUSE_AT_ENV = "HELPLINE_OUTBOX_PAUSE_AT"
RELATED = (
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


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try: the first retry delay, doubling,
    capped (HELPLINE_MAIL_RETRY_SECONDS, HELPLINE_MAIL_RETRY_MAX_SECONDS)."""
    seconds = settings.HELPLINE_MAIL_RETRY_SECONDS * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.HELPLINE_MAIL_RETRY_MAX_SECONDS))


def lease() -> timedelta:
    return timedelta(seconds=settings.HELPLINE_MAIL_LEASE_SECONDS)


def render(notification: Notification) -> tuple[str, str]:
    """(subject, plain-text body) of a notification, as it would be sent."""
    if notification.kind in ComposedKind.values:
        return notification.subject, notification.body_text
    from helpline.mail.outbound import render as render_mail

    rendered = render_mail(notification)
    return rendered.subject, rendered.text


# ---------------------------------------------------------------------------------------------
# Claiming


def _claimable(now) -> Q:
    return Q(state=DeliveryState.QUEUED) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def _new_message_id(row: Notification) -> str:
    from helpline.mail.threading import mail_domain, make_message_id

    if row.ticket_id:
        return make_message_id(row.ticket, row.email)[:255]
    return make_msgid(domain=mail_domain())[:255]


def claim(candidates: QuerySet, limit: int = BATCH) -> list[Notification]:
    """Lease up to `limit` of the `candidates` to this worker; the rows, with their Message-IDs.

    The candidates must already be restricted to claimable rows; rows another worker holds are
    skipped (PostgreSQL) or were claimed before this transaction could start (SQLite).
    """
    with transaction.atomic():
        ids = list(
            candidates.select_for_update(skip_locked=True)
            .order_by("created_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        Notification.objects.filter(pk__in=ids).update(
            attempts=F("attempts") + 1, next_attempt_at=timezone.now() + lease()
        )
        rows = list(
            Notification.objects.filter(pk__in=ids).select_related(*RELATED).order_by("created_at")
        )
        for row in rows:
            if not row.message_id:
                # Fixed before the first attempt: every resend carries the same one.
                row.message_id = _new_message_id(row)
                Notification.objects.filter(pk=row.pk).update(message_id=row.message_id)
    return rows


# ---------------------------------------------------------------------------------------------
# Sending


def build(row: Notification) -> EmailMultiAlternatives:
    """The email for one claimed row, with the row's Message-ID. Raises Suppressed when the
    ticket notification's template is switched off."""
    if row.kind in ComposedKind.values:
        message = EmailMultiAlternatives(
            subject=row.subject,
            body=row.body_text,
            from_email=row.from_email or settings.DEFAULT_FROM_EMAIL,
            to=[row.email],
            headers={**(row.headers or {}), "Message-ID": row.message_id},
        )
        if row.body_html:
            message.attach_alternative(row.body_html, "text/html")
        return message
    from helpline.mail.outbound import build_message

    message, _ = build_message(row)
    message.extra_headers["Message-ID"] = row.message_id
    return message


def _pause_if_asked(step: str) -> None:
    """Test hook: stop at `step` and wait to be killed (PAUSE_AT_ENV names the step)."""
    if os.environ.get(PAUSE_AT_ENV) == step:
        print(f"outbox: paused at {step}", file=sys.stderr, flush=True)
        time.sleep(3600)


def _update(using, pk: int, fields: dict) -> int:
    """UPDATE one row on the given connection (which need not be one of `connections`)."""
    query = UpdateQuery(Notification)
    query.add_update_values(fields)
    query.add_q(Q(pk=pk))
    return query.get_compiler(connection=using).execute_sql(ROW_COUNT)


class MarkConnection:
    """Where "sent" marks are committed: a connection of the outbox's own, in autocommit, so a
    mark commits the moment it is written whatever the worker's connection is doing.

    SQLite has one writer per file, so a second connection would only queue behind the first:
    there the worker's own connection is used (in autocommit in a worker). Inside a transaction
    (tests that deliver within one) the caller's connection is used, which sees its rows.
    """

    def __init__(self):
        self.own = None

    def __enter__(self) -> "MarkConnection":
        self.warm()
        return self

    def __exit__(self, *exc) -> None:
        self.drop()

    def _shared(self) -> bool:
        return connection.vendor == "sqlite" or connection.in_atomic_block

    def warm(self) -> None:
        """Open it before talking to SMTP, so that marking costs no connection set-up."""
        try:
            self.get().ensure_connection()
        except DatabaseError:
            self.drop()  # Tried again when marking.

    def get(self):
        if self._shared():
            return connection
        if self.own is None:
            self.own = connections.create_connection(DEFAULT_DB_ALIAS)
        return self.own

    def drop(self) -> None:
        if self.own is not None:
            with contextlib.suppress(DatabaseError):
                self.own.close()
            self.own = None

    def commit(self, pk: int, fields: dict) -> bool:
        """Write the mark, retrying on a lost database for MARK_RETRY_SECONDS; False if it could
        not be written (the row then comes back after its lease, with the same Message-ID)."""
        deadline = time.monotonic() + MARK_RETRY_SECONDS
        delay = 0.05
        while True:
            try:
                _update(self.get(), pk, fields)
                return True
            except DatabaseError as exc:
                if self._shared() and connection.in_atomic_block:
                    raise  # The caller's transaction is broken; it must see that.
                log.warning("Recording notification %s as sent failed: %s", pk, exc)
                self.drop()
                if self._shared():
                    connection.close()  # Reconnects on next use.
                if time.monotonic() + delay > deadline:
                    log.error("Notification %s was sent but could not be marked", pk)
                    return False
                time.sleep(delay)
                delay = min(delay * 2, 2.0)


def _sent_fields(row: Notification) -> dict:
    fields = {
        "state": DeliveryState.SENT,
        "sent_at": timezone.now(),
        "error": "",
        "next_attempt_at": None,
    }
    if row.kind in SECRET_KINDS:
        fields.update(body_text="", body_html="")
    return fields


def _save(row: Notification, **fields) -> None:
    for name, value in fields.items():
        setattr(row, name, value)
    Notification.objects.filter(pk=row.pk).update(**fields)


def _failed(
    row: Notification, exc: BaseException, retry: list[Notification], quiet: bool = False
) -> None:
    """Record a failed attempt: retry after the backoff, or give up after the last attempt."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if not quiet:
        log.warning("Sending notification %s failed: %s", row.pk, error)
    if row.attempts >= settings.HELPLINE_MAIL_MAX_ATTEMPTS:
        fields = {"state": DeliveryState.FAILED, "error": error, "next_attempt_at": None}
        if row.kind in SECRET_KINDS:
            fields.update(body_text="", body_html="")
        _save(row, **fields)
    else:
        _save(row, error=error, next_attempt_at=timezone.now() + backoff(row.attempts))
        retry.append(row)


def _reopen(backend) -> bool:
    with contextlib.suppress(Exception):  # The connection is broken already.
        backend.close()
    try:
        backend.open()
    except Exception:  # noqa: BLE001 - reported by the next send
        return False
    return True


def send_claimed(rows: list[Notification]) -> int:
    """Send rows this worker claimed over one SMTP connection; returns how many went out."""
    from helpline.mail.outbound import Suppressed

    ready = []
    for row in rows:
        try:
            ready.append((row, build(row)))
        except Suppressed as exc:
            _save(row, state=DeliveryState.SUPPRESSED, error=str(exc), next_attempt_at=None)
        except Exception as exc:  # noqa: BLE001 - a template or data problem: retrying won't help
            log.exception("Rendering notification %s failed", row.pk)
            error = f"Rendering failed: {exc}"[:2000]
            _save(row, state=DeliveryState.FAILED, error=error, next_attempt_at=None)
    if not ready:
        return 0
    sent, retry = 0, []
    backend = mailers.default
    with MarkConnection() as marks:
        _pause_if_asked("before_connect")
        try:
            backend.open()
        except Exception as exc:  # noqa: BLE001 - server down or refusing: every row waits
            log.warning("The mail server is unreachable (%d mails wait): %s", len(ready), exc)
            for row, _ in ready:
                _failed(row, exc, retry, quiet=True)
            _schedule_retry(retry)
            return 0
        try:
            for row, message in ready:
                try:
                    backend.send_messages([message])
                except Exception as exc:  # noqa: BLE001 - any transport error is retried later
                    _failed(row, exc, retry)
                    _reopen(backend)
                    continue
                _pause_if_asked("after_accept")
                fields = _sent_fields(row)
                if marks.commit(row.pk, fields):
                    for name, value in fields.items():
                        setattr(row, name, value)
                _pause_if_asked("after_mark")
                sent += 1
        finally:
            with contextlib.suppress(Exception):  # QUIT after the marks: nothing to lose.
                backend.close()
    _schedule_retry(retry)
    return sent


def _schedule_retry(rows: list[Notification]) -> None:
    """One deferred task for the rows waiting to retry, when the task backend can wait (the
    sweep takes them otherwise, and in any case if the task is lost)."""
    if not rows:
        return
    try:
        from django.tasks import default_task_backend

        from helpline.tickets.tasks import deliver_notifications

        if not default_task_backend.supports_defer:
            return
        when = max(row.next_attempt_at for row in rows)
        deliver_notifications.using(run_after=when).enqueue([row.pk for row in rows])
    except Exception:  # noqa: BLE001 - the sweep retries them
        log.exception("Scheduling the retry of %d notifications failed", len(rows))


# ---------------------------------------------------------------------------------------------
# Entry points: the delivery task and the sweep


def deliver(ids: list[int]) -> int:
    """Send the claimable notifications among `ids`; returns how many went out. Never raises:
    a row left claimed by a problem here is swept when its lease ends."""
    sent = 0
    try:
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            candidates = Notification.objects.filter(_claimable(timezone.now()), pk__in=chunk)
            sent += send_claimed(claim(candidates))
    except Exception:  # noqa: BLE001 - never lost: the lease brings the rows back
        log.exception("Delivering notifications %s failed", ids[:20])
    return sent


def retry_due(now=None) -> int:
    """The sweep: send queued notifications whose backoff or lease has ended, and those whose
    delivery task never ran (a lease after they were queued). Returns how many went out."""
    now = now or timezone.now()
    due = Q(next_attempt_at__lte=now) | Q(
        next_attempt_at__isnull=True, created_at__lte=now - lease()
    )
    sent, seen = 0, []
    try:
        for _ in range(SWEEP_BATCHES):
            candidates = Notification.objects.filter(due, state=DeliveryState.QUEUED).exclude(
                pk__in=seen
            )
            rows = claim(candidates)
            if not rows:
                break
            seen += [row.pk for row in rows]
            sent += send_claimed(rows)
    except Exception:  # noqa: BLE001 - the next sweep tries again
        log.exception("The notification sweep failed")
    return sent
