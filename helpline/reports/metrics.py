"""Business-time durations per ticket, stored in TicketMetrics so that reports aggregate in SQL.

Wall-clock durations come from ticket columns in SQL; business time needs the SLA schedule's
calendar (Python arithmetic), so it is computed here when a ticket is answered, resolved,
reopened or changes SLA plan. Time the SLA clock stood still (pending, when the plan pauses) is
not business time: the business durations are what the SLA measured.
"""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from helpline.reports.models import TicketMetrics
from helpline.sla.calendar import Calendar, business_time_between
from helpline.tickets.models import EventKind, SLAPause, Ticket

log = logging.getLogger(__name__)

# The events after which a ticket's durations may have changed.
RELEVANT_KINDS = {EventKind.REPLIED, EventKind.STATUS, EventKind.SLA, EventKind.MERGED}


def _paused_spans(ticket: Ticket) -> list[tuple[datetime, datetime]]:
    spans = []
    for pause in SLAPause.objects.filter(ticket=ticket).order_by("started_at"):
        # An open pause lasts until now (a pending ticket does not count against its SLA).
        end = pause.ended_at or timezone.now()
        if spans and pause.started_at <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        elif pause.started_at < end:
            spans.append((pause.started_at, end))
    return spans


def business_seconds(
    calendar: Calendar,
    start: datetime,
    end: datetime,
    pauses: Iterable[tuple[datetime, datetime]] = (),
) -> int:
    """Working seconds of `calendar` in [start, end), minus the working time inside `pauses`."""
    total = business_time_between(calendar, start, end)
    for paused, resumed in pauses:
        lo, hi = max(paused, start), min(resumed, end)
        if lo < hi:
            total -= business_time_between(calendar, lo, hi)
    return round(total.total_seconds())


def compute(ticket: Ticket) -> tuple[int | None, int | None]:
    """(first response, resolution) business seconds of a ticket; None where not applicable."""
    plan = ticket.sla_plan
    if plan is None or (ticket.first_responded_at is None and ticket.resolved_at is None):
        return None, None
    calendar = plan.calendar()
    if not calendar.has_working_time:
        return None, None
    pauses = _paused_spans(ticket) if plan.pause_when_pending else []
    first = resolution = None
    if ticket.first_responded_at is not None:
        first = business_seconds(calendar, ticket.created_at, ticket.first_responded_at, pauses)
    if ticket.resolved_at is not None:
        resolution = business_seconds(calendar, ticket.created_at, ticket.resolved_at, pauses)
    return first, resolution


def refresh(ticket_id: int) -> TicketMetrics | None:
    """Recompute and store one ticket's durations (idempotent). None if the ticket is gone."""
    ticket = Ticket.objects.select_related("sla_plan__schedule").filter(pk=ticket_id).first()
    if ticket is None:
        return None
    first, resolution = compute(ticket)
    metrics, _ = TicketMetrics.objects.update_or_create(
        ticket_id=ticket_id,
        defaults={
            "first_response_business_seconds": first,
            "resolution_business_seconds": resolution,
            "first_responded_at": ticket.first_responded_at,
            "resolved_at": ticket.resolved_at,
            "updated_at": timezone.now(),
        },
    )
    return metrics


def event_recorded(event) -> None:
    """Listener for `tickets.hooks.on_event`: refresh the ticket's durations when they moved.

    It runs after the action committed: a failure here is logged and must not turn the agent's
    successful change into an error page (`helpline report_metrics` repairs missing rows).
    """
    if event.kind not in RELEVANT_KINDS:
        return
    try:
        refresh(event.ticket_id)
    except Exception:  # noqa: BLE001
        log.exception("Could not refresh the report metrics of ticket %s", event.ticket_id)


def backfill(batch_size: int = 500, only_missing: bool = True) -> int:
    """Compute durations of answered or resolved tickets (all, or those with no metrics yet)."""
    tickets = Ticket.objects.filter(
        Q(first_responded_at__isnull=False) | Q(resolved_at__isnull=False)
    ).order_by("pk")
    if only_missing:
        tickets = tickets.filter(
            Q(metrics__isnull=True)
            | Q(first_responded_at__isnull=False, metrics__first_responded_at__isnull=True)
            | Q(resolved_at__isnull=False, metrics__resolved_at__isnull=True)
        )
    done = 0
    last = 0
    while True:
        ids = list(tickets.filter(pk__gt=last).values_list("pk", flat=True)[:batch_size])
        if not ids:
            return done
        for ticket_id in ids:
            refresh(ticket_id)
        done += len(ids)
        last = ids[-1]
