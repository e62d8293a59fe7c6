"""Periodic sweeps over many tickets, in keyset batches so nothing loads everything at once."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from helpline.tickets import actions
from helpline.tickets.models import State, Ticket

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
        closed += sum(actions.close_after_waiting(t, days) for b in _batches(qs) for t in b)
    return closed
