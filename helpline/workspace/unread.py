"""Unread: entries by someone else after the agent last looked at the ticket (never looked:
every entry by someone else counts), and what queue rows and the sidebar show of it."""

from datetime import UTC, datetime

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import CharField, Exists, Func, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Concat, NullIf
from django.utils import timezone

from helpline.tickets import access
from helpline.tickets.models import ACTIVE_STATES, ThreadEntry
from helpline.workspace.models import LastSeen, Notification, Presence
from helpline.workspace.pulse import PRESENCE_WINDOW

NEVER = datetime(1970, 1, 1, tzinfo=UTC)
COUNT_CAP = 100


def _newer_entries(user, ticket_ref=None) -> QuerySet:
    seen = LastSeen.objects.filter(user=user, ticket=OuterRef("ticket_id")).values("seen_at")[:1]
    entries = (
        ThreadEntry.objects.all()
        if ticket_ref is None
        else ThreadEntry.objects.filter(ticket=ticket_ref)
    )
    return entries.exclude(author=user).filter(
        created_at__gt=Coalesce(Subquery(seen), Value(NEVER))
    )


def only_unread(qs: QuerySet, user) -> QuerySet:
    """Narrow a ticket queryset to the tickets with entries `user` has not read."""
    return qs.filter(Exists(_newer_entries(user, OuterRef("pk"))))


def _unread_subqueries(user) -> tuple[QuerySet, QuerySet]:
    """Unread open tickets the agent works, and unread notifications about tickets they still
    see: both as capped id subqueries."""
    tickets = only_unread(access.worked_tickets(user).filter(state__in=ACTIVE_STATES), user)
    inbox = Notification.objects.filter(
        user=user, read_at__isnull=True, ticket__in=access.visible_tickets(user)
    )
    return tickets.values("pk")[:COUNT_CAP], inbox.values("pk")[:COUNT_CAP]


def _figures_sql(user) -> tuple[list[str], list]:
    """Two scalar subqueries: unread open tickets the agent works, and unread notifications
    about tickets they still see (both capped)."""
    tickets, inbox = _unread_subqueries(user)
    parts, params = [], []
    for qs in (tickets, inbox):
        try:
            sql, p = qs.query.sql_with_params()
        except EmptyResultSet:
            parts.append("0")
            continue
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) c{len(parts)})")
        params += p
    return parts, params


def sidebar_figures(user) -> dict[str, int]:
    """The unread open tickets the agent works (capped) and their unread notifications: one
    statement."""
    parts, params = _figures_sql(user)
    with connections[Presence.objects.db].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        unread, notifications = cursor.fetchone()
    return {"unread": int(unread), "notifications": int(notifications)}


def annotate_rows(qs: QuerySet, user, now=None) -> QuerySet:
    """Add to a page query what its rows show of the workspace, so a queue page costs no extra
    statement: unread (an EXISTS on the thread's (ticket, created_at) index), one other agent
    with the ticket open ("name|state"), and the sidebar's figures (uncorrelated: computed once
    per statement). Only the page's rows are computed when the sort is an index scan."""
    now = now or timezone.now()
    present = (
        Presence.objects.filter(ticket=OuterRef("pk"), seen_at__gt=now - PRESENCE_WINDOW)
        .exclude(user=user)
        .order_by("-state", "user__username")
        .annotate(
            label=Concat(Coalesce(NullIf("user__name", Value("")), "user__username"),
                         Value("|"), "state", output_field=CharField())
        )
        .values("label")[:1]
    )  # fmt: skip
    tickets, inbox = _unread_subqueries(user)
    return qs.annotate(
        ws_unread=Exists(_newer_entries(user, OuterRef("pk"))),
        ws_presence=Subquery(present),
        ws_figure_unread=_count(tickets),
        ws_figure_inbox=_count(inbox),
    )


def _count(qs: QuerySet):
    return Subquery(
        qs.model.objects.filter(pk__in=qs).order_by().values(n=Func("pk", function="COUNT"))[:1]
    )


def read_rows(tickets: list, request) -> None:
    """Move the annotations onto each row (`unread`, `presence`) and the figures onto the
    request (the bell and sidebar read them there)."""
    for t in tickets:
        t.unread = bool(t.ws_unread)
        name, _, state = (t.ws_presence or "").partition("|")
        t.presence = [(name, state)] if name else []
    if tickets:
        request._workspace_figures = {
            "unread": int(tickets[0].ws_figure_unread or 0),
            "notifications": int(tickets[0].ws_figure_inbox or 0),
        }
