"""The small steps every action is made of: lock, check, event, save, thread entries, SLA times,
status changes, and `_Change`, the shell the setters share."""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from helpline.accounts.models import Permission, User
from helpline.tickets import access, files, hooks, notify
from helpline.tickets.deadlines import compute_due_times
from helpline.tickets.models import (
    CLOSED_STATES,
    Attachment,
    EventKind,
    NotificationKind,
    SLAPause,
    State,
    Status,
    ThreadEntry,
    Ticket,
)
from helpline.tickets.models import Event as EventModel
from helpline.tickets.text import html_to_text, sanitize_html

SUBJECT_MAX = 255


class StaleTicket(Exception):
    """The ticket changed after the actor loaded it; nothing was written."""

    def __init__(self, ticket: Ticket):
        super().__init__(
            f"Ticket #{ticket.number} was changed by someone else meanwhile. "
            "Reload it to see the change; your input is kept."
        )
        self.ticket = ticket


@dataclass(frozen=True)
class NewAttachment:
    """A file arriving with a message, before it is stored."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"
    content_id: str = ""


# ---------------------------------------------------------------------------------------------
# Lock, check, event, save


def _lock(
    ticket: Ticket,
    expected_version: int | None = None,
    actor: User | None = None,
    permission=None,
) -> Ticket:
    """The ticket's row, locked until the transaction ends, read fresh.

    With a permission, access is checked again on the locked row: the caller checked the ticket
    it had, but a transfer committed while we waited for the lock may have taken it out of the
    actor's reach (the early check stays, so nothing is written before a plain refusal).
    """
    # Lock the row alone, then read it with its relations: a locking query with joins would be
    # re-checked by PostgreSQL against the old joined rows after waiting, and find nothing when
    # the writer before us changed a joined column (e.g. the status).
    Ticket.objects.select_for_update().filter(pk=ticket.pk).values_list("pk").get()
    locked = Ticket.objects.select_related(
        "department", "status", "priority", "sla_plan", "requester"
    ).get(pk=ticket.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleTicket(locked)
    if permission is not None:
        _check(actor, permission, locked)
    return locked


def _check(actor: User | None, permission, ticket: Ticket) -> None:
    if actor is not None:
        access.check(actor, permission, ticket)


def _event(
    ticket: Ticket,
    kind: str,
    actor: User | None,
    before=None,
    after=None,
    reason: str = "",
    at: datetime | None = None,
) -> EventModel:
    event = EventModel.objects.create(
        ticket=ticket,
        kind=kind,
        actor=actor,
        before=before,
        after=after,
        reason=reason[:500],
        created_at=at or timezone.now(),
    )
    hooks.event_recorded(event)
    return event


def _save(ticket: Ticket, fields: Iterable[str], at: datetime | None = None) -> None:
    ticket.updated_at = at or timezone.now()
    ticket.version += 1
    ticket.save(update_fields=sorted({*fields, "updated_at", "version"}))


def _ref(obj) -> dict | None:
    """How an object appears in an event's before/after: id and a readable name."""
    if obj is None:
        return None
    return {"id": obj.pk, "name": str(obj)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _sync(target: Ticket, source: Ticket) -> None:
    """Give the caller's ticket object the committed values of the locked copy."""
    for f in Ticket._meta.concrete_fields:
        setattr(target, f.attname, getattr(source, f.attname))
    target._state.fields_cache.clear()


class _Change:
    """One actor's change to one ticket: the shell every setter shares.

    Creating it checks access, before anything is written, so a refused call leaves nothing
    behind (not even files); the setter may validate its input next. `locked()` then opens the
    transaction, locks the row and checks access again on it (and the version, when the caller
    passed one), and stamps `at` after the lock so that stamps follow the commit order. Inside,
    the setter changes `ticket` (the locked copy) and calls `record()` and `save()`. When the
    block ends without an error, the caller's object gets the saved values.
    """

    def __init__(
        self,
        actor: User | None,
        ticket: Ticket,
        permission,
        expected_version: int | None = None,
    ):
        _check(actor, permission, ticket)
        self.actor = actor
        self.permission = permission
        self.expected_version = expected_version
        self.original = ticket
        self.ticket = ticket  # The locked copy, once locked() has begun.
        self.at: datetime | None = None

    @contextmanager
    def locked(self) -> Iterator["_Change"]:
        with transaction.atomic():
            self.ticket = _lock(self.original, self.expected_version, self.actor, self.permission)
            self.at = timezone.now()  # After the lock: stamps follow the commit order.
            yield self
        _sync(self.original, self.ticket)

    def record(self, kind: str, before=None, after=None, reason: str = "") -> EventModel:
        """The change's event, by the actor, stamped with the change's time."""
        return _event(self.ticket, kind, self.actor, before, after, reason, self.at)

    def save(self, fields: Iterable[str] = ()) -> None:
        """Save `fields` of the locked ticket; a new version even when `fields` is empty."""
        _save(self.ticket, fields, self.at)


def _changing(
    actor: User | None, ticket: Ticket, permission, expected_version: int | None = None
) -> AbstractContextManager[_Change]:
    """`_Change(...).locked()`, for setters with nothing to validate after the access check."""
    return _Change(actor, ticket, permission, expected_version).locked()


# ---------------------------------------------------------------------------------------------
# Messages and their files


def _validate_text(value: str, field: str, label: str, max_length: int | None = None) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: f"{label} cannot be empty."})
    if max_length and len(value) > max_length:
        raise ValidationError({field: f"{label} is too long ({len(value)} > {max_length})."})
    return value


def _validate_message(body: str, body_html: str, attachments: Sequence[NewAttachment]) -> None:
    """A message needs some text or a file, and its files must be within the limits."""
    if not (body or "").strip() and not html_to_text(body_html) and not attachments:
        raise ValidationError({"body": "The message cannot be empty."})
    limit = settings.HELPLINE_MAX_ATTACHMENT_BYTES
    if len(attachments) > settings.HELPLINE_MAX_ATTACHMENTS:
        raise ValidationError(
            {"attachments": f"At most {settings.HELPLINE_MAX_ATTACHMENTS} files per message."}
        )
    for a in attachments:
        if len(a.content) > limit:
            raise ValidationError(
                {"attachments": f"“{a.filename}” is larger than the limit of {limit // 2**20} MB."}
            )


def _safe_filename(name: str) -> str:
    # Keep only the last path component, no control characters, bounded length.
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return (name or "attachment")[-150:]


def _add_entry(
    ticket: Ticket,
    kind: str,
    author: User | None,
    body: str,
    body_html: str,
    attachments: Sequence[NewAttachment],
    source: str,
    message_id: str,
    at: datetime,
    threaded_by: str = "",
    full_text: str = "",
    verification: str = "",
) -> ThreadEntry:
    clean_html = sanitize_html(body_html)
    text = body if body.strip() else html_to_text(clean_html)
    entry = ThreadEntry.objects.create(
        ticket=ticket,
        kind=kind,
        author=author,
        author_name=author.display_name if author else "Helpline",
        body_text=text,
        body_html=clean_html,
        source=source,
        message_id=message_id[:255],
        created_at=at,
        threaded_by=threaded_by,
        full_text=full_text,
        verification=verification,
    )
    written: list[str] = []
    try:
        for a in attachments:
            stored = Attachment(
                entry=entry,
                filename=_safe_filename(a.filename),
                content_type=(a.content_type or "application/octet-stream")[:127],
                size=len(a.content),
                content_id=a.content_id[:255],
            )
            files.save_file(stored.file, stored.filename, a.content)
            written.append(stored.file.name)
            stored.save()
    except BaseException:
        files.forget(written)
        raise
    return entry


# ---------------------------------------------------------------------------------------------
# SLA times and status changes


def _update_due_times(ticket: Ticket, actor: User | None, reason: str) -> list[str]:
    """Recompute SLA due times; record a due event saying why if they moved."""
    due, first_due = compute_due_times(ticket)
    changed: list[str] = []
    before = {
        "due_at": _iso(ticket.due_at),
        "first_response_due_at": _iso(ticket.first_response_due_at),
    }
    if not ticket.due_at_manual and ticket.due_at != due:
        ticket.due_at = due
        changed.append("due_at")
    if ticket.first_response_due_at != first_due:
        ticket.first_response_due_at = first_due
        changed.append("first_response_due_at")
    if "due_at" in changed and ticket.is_overdue and (due is None or due > timezone.now()):
        ticket.is_overdue = False
        changed.append("is_overdue")
    if changed:
        after = {
            "due_at": _iso(ticket.due_at),
            "first_response_due_at": _iso(ticket.first_response_due_at),
        }
        _event(ticket, EventKind.DUE, actor, before, after, reason)
    return changed


def _status_permission(status: Status) -> Permission:
    return Permission.CLOSE if status.state in CLOSED_STATES else Permission.STATUS


def _change_status(
    ticket: Ticket,
    actor: User | None,
    status: Status,
    at: datetime,
    reason: str = "",
    announce: bool = True,
) -> list[str]:
    """Move the ticket to `status`, with everything a state change implies. No access check."""
    old_status, old_state = ticket.status, ticket.state
    if status.pk == old_status.pk:
        return []
    fields = ["status", "state"]
    ticket.status, ticket.state = status, status.state
    _event(ticket, EventKind.STATUS, actor, _ref(old_status), _ref(status), reason, at)
    if old_state in CLOSED_STATES and status.state not in CLOSED_STATES:
        ticket.reopened_count += 1
        ticket.resolved_at = ticket.closed_at = None
        fields += ["reopened_count", "resolved_at", "closed_at"]
        _event(ticket, EventKind.REOPENED, actor, _ref(old_status), _ref(status), reason, at)
    fields += _stamp_state(ticket, at)
    fields += _run_sla_clock(ticket, actor, old_state, at)
    if announce:
        _announce_status(ticket, actor, old_state)
    return fields


def _stamp_state(ticket: Ticket, at: datetime) -> list[str]:
    """Resolved and closed times, and the overdue flag, as the ticket's new state implies."""
    fields = []
    if ticket.state == State.RESOLVED and ticket.resolved_at is None:
        ticket.resolved_at = at
        fields.append("resolved_at")
    if ticket.state == State.CLOSED:
        ticket.closed_at = at
        ticket.resolved_at = ticket.resolved_at or at
        fields += ["closed_at", "resolved_at"]
    if ticket.state != State.OPEN and ticket.is_overdue:
        ticket.is_overdue = False
        fields.append("is_overdue")
    return fields


def _run_sla_clock(ticket: Ticket, actor: User | None, old_state: str, at: datetime) -> list[str]:
    """The SLA clock stops while the ticket waits on the requester, if the plan says so."""
    pauses = ticket.sla_plan is not None and ticket.sla_plan.pause_when_pending
    if ticket.state == State.PENDING and pauses:
        _start_pause(ticket, at)
        return ["paused_at"]
    if old_state == State.PENDING and _end_pause(ticket, at):
        waited = at - old_status_since(ticket, at)
        why = f"SLA clock resumed after {_human(waited)} waiting on the requester"
        return ["paused_at", *_update_due_times(ticket, actor, why)]
    return []


def _announce_status(ticket: Ticket, actor: User | None, old_state: str) -> None:
    if ticket.state == State.RESOLVED:
        notify.queue(NotificationKind.RESOLVED, ticket, notify.requester_side(ticket), actor=actor)
    elif ticket.state == State.CLOSED and old_state != State.RESOLVED:
        notify.queue(NotificationKind.CLOSED, ticket, notify.requester_side(ticket), actor=actor)


def _start_pause(ticket: Ticket, at: datetime) -> None:
    if ticket.paused_at is None:
        ticket.paused_at = at
        SLAPause.objects.create(ticket=ticket, started_at=at)


def _end_pause(ticket: Ticket, at: datetime) -> bool:
    if ticket.paused_at is None:
        return False
    SLAPause.objects.filter(ticket=ticket, ended_at__isnull=True).update(ended_at=at)
    ticket.paused_at = None
    return True


def old_status_since(ticket: Ticket, default: datetime) -> datetime:
    """When the latest SLA pause began (`default` if the ticket never paused)."""
    pause = SLAPause.objects.filter(ticket=ticket).order_by("-started_at").first()
    return pause.started_at if pause else default


def _human(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days {hours % 24} h"
