"""Periodic sweeps over many tickets, in keyset batches so nothing loads everything at once."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from helpline.tickets import actions
from helpline.tickets.models import GuestAccess, State, Status, Ticket

BATCH = 500


def _batches(queryset):
    last_id = 0
    while True:
        batch = list(queryset.filter(pk__gt=last_id).order_by("pk")[:BATCH])
        if not batch:
            return
        yield batch
        last_id = batch[-1].pk


def mark_overdue_tickets(now=None) -> int:
    """Flag open tickets past their due time (uses the partial index on open, not-overdue)."""
    now = now or timezone.now()
    due = Ticket.objects.filter(state=State.OPEN, is_overdue=False, due_at__lt=now)
    return sum(actions.mark_overdue(t, now) for batch in _batches(due) for t in batch)


def close_stale_pending(now=None, days: int | None = None) -> int:
    """Close tickets left Pending longer than the configured number of days."""
    now = now or timezone.now()
    days = settings.HELPLINE_PENDING_AUTO_CLOSE_DAYS if days is None else days
    stale = Ticket.objects.filter(state=State.PENDING, paused_at__lt=now - timedelta(days=days))
    # Pending tickets whose plan does not pause have no paused_at: fall back to last update.
    stale_unpaused = Ticket.objects.filter(
        state=State.PENDING, paused_at__isnull=True, updated_at__lt=now - timedelta(days=days)
    )
    closed = 0
    for qs in (stale, stale_unpaused):
        closed += sum(actions.close_after_waiting(t, days, now) for b in _batches(qs) for t in b)
    return closed


def close_resolved_tickets(now=None, days: int | None = None) -> int:
    """Close tickets Resolved for longer than `days` (the help desk acting: actor None).

    Each ticket is closed only if it has not changed since it was read (expected_version), so a
    requester's answer arriving meanwhile (which reopens it) wins over the sweep.
    """
    now = now or timezone.now()
    days = settings.HELPLINE_RESOLVED_AUTO_CLOSE_DAYS if days is None else days
    resolved = Ticket.objects.filter(
        state=State.RESOLVED, resolved_at__lt=now - timedelta(days=days)
    )
    closed_status = None
    closed = 0
    for batch in _batches(resolved):
        closed_status = closed_status or Status.default_for(State.CLOSED)
        for ticket in batch:
            try:
                actions.set_status(
                    None,
                    ticket,
                    closed_status,
                    reason=f"Resolved for more than {days} days",
                    expected_version=ticket.version,
                )
            except actions.StaleTicket:
                continue
            closed += 1
    return closed


def _delete_in_batches(queryset) -> int:
    """Delete the rows of `queryset` BATCH at a time, walking the primary key (keyset)."""
    deleted = 0
    last_id = 0
    while True:
        ids = list(
            queryset.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return deleted
        deleted += (
            queryset.model.objects.filter(pk__in=ids).delete()[1].get(queryset.model._meta.label, 0)
        )
        last_id = ids[-1]


def purge_expired_guest_links(now=None, days: int = 1) -> int:
    """Delete guest links expired (or revoked) more than `days` ago; they no longer open
    anything, and keeping fewer token hashes keeps the table small."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    expired = GuestAccess.objects.filter(expires_at__lt=cutoff)
    revoked = GuestAccess.objects.filter(revoked_at__lt=cutoff)
    return _delete_in_batches(expired) + _delete_in_batches(revoked)
