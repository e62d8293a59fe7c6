"""A ticket's life: status changes and reopening by people; overdue flags, auto-close and bounces
by the help desk itself (actor None)."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from helpline.accounts.models import User
from helpline.tickets import notify
from helpline.tickets.actions._core import (
    _change_status,
    _changing,
    _event,
    _iso,
    _lock,
    _save,
    _status_permission,
    _sync,
)
from helpline.tickets.models import EventKind, NotificationKind, State, Status, Ticket


def set_status(
    actor: User | None,
    ticket: Ticket,
    status: Status,
    *,
    reason: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """Change the status (closing needs the close permission, anything else change-status)."""
    with _changing(actor, ticket, _status_permission(status), expected_version) as c:
        fields = _change_status(c.ticket, actor, status, c.at, reason)
        if fields:
            c.save(fields)
    return ticket


def reopen(actor: User, ticket: Ticket, *, reason: str = "") -> Ticket:
    """Back to the default open status (counted as a reopen if it was resolved or closed)."""
    return set_status(actor, ticket, Status.default_for(State.OPEN), reason=reason)


# The help desk's own changes below lock the row like every action, but have no actor to check,
# and only change the caller's object when they change the ticket.


def mark_overdue(ticket: Ticket, now: datetime | None = None) -> bool:
    """Flag an open ticket past its due time once, with an event and alerts. Idempotent."""
    now = now or timezone.now()
    with transaction.atomic():
        t = _lock(ticket)
        # Stamped after the lock, like every action: a reply committed while we waited comes
        # first in the history too.
        now = max(now, timezone.now())
        if t.is_overdue or not t.overdue_now(now):
            return False
        t.is_overdue = True
        _event(t, EventKind.OVERDUE, None, None, {"due_at": _iso(t.due_at)}, "", now)
        t.save(update_fields=["is_overdue"])
        recipients = [u for u in (t.assignee, t.department.manager) if u is not None]
        notify.queue(NotificationKind.OVERDUE_ALERT, t, recipients)
    _sync(ticket, t)
    return True


def record_bounce(ticket: Ticket, reason: str, message_id: str = "") -> None:
    """A delivery-status notification about mail of this ticket: one event, no state change.

    Recorded by the help desk itself; the version is not bumped, so no agent's form goes stale
    and a bounce never reopens a ticket.
    """
    with transaction.atomic():
        t = _lock(ticket)
        after = {"message_id": message_id[:255]} if message_id else None
        _event(t, EventKind.BOUNCE, None, None, after, reason)


def close_after_waiting(ticket: Ticket, days: int, now: datetime | None = None) -> bool:
    """Close a ticket left Pending past `days`, with a note to the requester. Idempotent.

    `now` is the sweep's clock; whether the ticket has waited long enough is checked again under
    the row lock, so a ticket set Pending anew after the sweep picked it is spared.
    """
    with transaction.atomic():
        t = _lock(ticket)
        at = timezone.now()  # After the lock: stamps follow the commit order.
        if t.state != State.PENDING:
            return False
        if (t.paused_at or t.updated_at) > (now or at) - timedelta(days=days):
            return False
        reason = f"No answer from the requester for {days} days"
        closed = Status.default_for(State.CLOSED)
        fields = _change_status(t, None, closed, at, reason, announce=False)
        _save(t, fields, at)
        notify.queue(NotificationKind.PENDING_AUTO_CLOSED, t, notify.requester_side(t))
    _sync(ticket, t)
    return True
