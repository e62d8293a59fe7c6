"""Due times of a ticket from its SLA plan, its creation time and its pauses."""

from datetime import datetime

from helpline.sla.calendar import due_time
from helpline.tickets.models import SLAPause, Ticket


def closed_pauses(ticket: Ticket) -> list[tuple[datetime, datetime]]:
    return [
        (p.started_at, p.ended_at)
        for p in SLAPause.objects.filter(ticket=ticket, ended_at__isnull=False)
    ]


def compute_due_times(ticket: Ticket) -> tuple[datetime | None, datetime | None]:
    """(resolution due, first-response due) counted from creation in the plan's schedule.

    Time spent pending moves both later when the plan pauses there; an open pause is not yet
    counted (the ticket is not open, so it cannot be overdue meanwhile).
    """
    plan = ticket.sla_plan
    if plan is None:
        return None, None
    calendar = plan.calendar()
    pauses = closed_pauses(ticket) if plan.pause_when_pending else []
    due = due_time(calendar, ticket.created_at, plan.grace, pauses)
    first = None
    if plan.first_response_grace is not None:
        first = due_time(calendar, ticket.created_at, plan.first_response_grace, pauses)
    return due, first
