"""Queues: the agent panel's ticket lists as querysets, with sorting, keyset pages and counts.

Every queue starts from `access.visible_tickets(user)`, so a queue never shows a ticket the agent
may not see. Pages are keyset pages (the last row's sort value and id travel in an opaque, signed
cursor), never OFFSET, so page 200 costs what page 1 costs. Counts are capped ("999+") and all the
counts of a sidebar or a dashboard run as one SQL statement.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core import signing
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Expression, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Lower, NullIf
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from helpline.replica import reading
from helpline.tickets import access
from helpline.tickets.models import ACTIVE_STATES, CLOSED_STATES, Source, State, Ticket

PAGE_SIZE = 50
COUNT_CAP = 1000
CURSOR_SALT = "helpline.queues.cursor"
# The foreign keys a queue table shows: one join each instead of one query per row.
TABLE_RELATED = ("requester", "priority", "assignee", "team", "department", "status")


class InvalidCursor(ValueError):
    """The `after` cursor was not made by us for this sort order (tampered, stale or garbled)."""


class UnknownSort(ValueError):
    """The sort column is not one of SORT_COLUMNS."""


# ---------------------------------------------------------------------------------------------
# Default queues


def _team_ids(user) -> set[int]:
    profile = access.agent_profile(user)
    return profile.team_ids() if profile is not None else set()


def _overdue(now: datetime) -> Q:
    # The sweep sets is_overdue; due_at < now catches tickets it has not reached yet.
    return Q(state=State.OPEN) & (Q(is_overdue=True) | Q(due_at__lt=now))


@dataclass(frozen=True)
class Queue:
    """A named list of tickets: a condition on top of what the agent may see."""

    slug: str
    name: str
    condition: Callable[[Any, datetime], Q]
    default_sort: str = "-updated"
    in_sidebar: bool = True

    def tickets(self, user, filters: Mapping[str, Any] | None = None, now=None) -> QuerySet:
        """The tickets of this queue that `user` may see, narrowed by clean `filters`."""
        now = now or timezone.now()
        qs = access.visible_tickets(user).filter(self.condition(user, now))
        return apply_filters(qs, user, filters or {}, now)


DEFAULT_QUEUES: tuple[Queue, ...] = (
    Queue("open", "Open", lambda user, now: Q(state=State.OPEN), "due"),
    Queue("mine", "My tickets", lambda u, now: Q(assignee=u, state__in=ACTIVE_STATES), "due"),
    Queue(
        "teams",
        "My teams",
        lambda user, now: Q(team__in=_team_ids(user), state__in=ACTIVE_STATES),
        "due",
    ),
    Queue(
        "unassigned",
        "Unassigned",
        lambda user, now: Q(assignee__isnull=True, team__isnull=True, state=State.OPEN),
        "due",
    ),
    Queue("overdue", "Overdue", lambda user, now: _overdue(now), "due"),
    Queue("pending", "Pending", lambda user, now: Q(state=State.PENDING)),
    Queue("resolved", "Resolved", lambda user, now: Q(state=State.RESOLVED)),
    # Resolved and Closed are both closed states: the Closed queue shows them together.
    Queue("closed", "Closed", lambda user, now: Q(state__in=CLOSED_STATES)),
    # Not in the sidebar: the base of saved searches, search results and dashboard links.
    Queue("all", "All tickets", lambda user, now: Q(), in_sidebar=False),
)
QUEUES: dict[str, Queue] = {q.slug: q for q in DEFAULT_QUEUES}


def get_queue(slug: str) -> Queue | None:
    """The default queue with this slug, or None."""
    return QUEUES.get(slug)


def sidebar_queues() -> list[Queue]:
    return [q for q in DEFAULT_QUEUES if q.in_sidebar]


def saved_search_queue(filters: Any) -> Queue:
    """The queue a saved search narrows: its "queue" key, else all visible tickets."""
    slug = filters.get("queue") if isinstance(filters, dict) else None
    return QUEUES.get(slug if isinstance(slug, str) else "") or QUEUES["all"]


# ---------------------------------------------------------------------------------------------
# Filters
#
# Clean filters are plain values (ids, strings, dates) so that a saved search's JSON can be
# applied without looking anything up: a deleted department simply matches nothing.

FILTER_KEYS = (
    "department", "team", "assignee", "status", "state", "priority", "help_topic", "source",
    "due", "resolution", "created_from", "created_to", "updated_from", "updated_to",
    "resolved_from", "resolved_to", "text",
)  # fmt: skip
ID_FILTERS = ("department", "team", "status", "priority", "help_topic")
DATE_FILTERS = (
    "created_from", "created_to", "updated_from", "updated_to", "resolved_from", "resolved_to",
)  # fmt: skip
DUE_CHOICES = [
    ("overdue", "Overdue"),
    ("today", "Due today"),
    ("not_overdue", "Not overdue"),
    ("none", "No due time"),
]
RESOLUTION_CHOICES = [("met", "Resolved within SLA"), ("missed", "Resolved late")]


def text_matches(qs: QuerySet, text: str, user=None) -> QuerySet:
    """Tickets of `qs` matching the search box's `text`: full-text words, "phrases", -exclusions
    and field:value filters (helpline/search/query.py); words keep the most relevant matches.

    `qs` must already be limited to what `user` may see (every queue starts there).
    """
    from helpline.search.query import filter_tickets

    return filter_tickets(qs.using(reading()), text, user)  # lag-tolerant: the replica if any


def local_day_start(day: date, tz=None) -> datetime:
    """Midnight at the start of `day` in `tz` (the active time zone by default)."""
    tz = tz or timezone.get_current_timezone()
    return timezone.make_aware(datetime.combine(day, time.min), tz)


def _date_range(qs: QuerySet, field: str, start: date | None, end: date | None) -> QuerySet:
    # Dates are whole days in the viewer's time zone; `end` is inclusive.
    if start:
        qs = qs.filter(**{f"{field}__gte": local_day_start(start)})
    if end:
        qs = qs.filter(**{f"{field}__lt": local_day_start(end + timedelta(days=1))})
    return qs


def apply_filters(qs: QuerySet, user, filters: Mapping[str, Any], now=None) -> QuerySet:
    """Narrow `qs` by clean filters (see FILTER_KEYS); missing or empty values are ignored."""
    now = now or timezone.now()
    for key in ID_FILTERS:
        if filters.get(key):
            qs = qs.filter(**{f"{key}_id": filters[key]})
    assignee = filters.get("assignee")
    if assignee == "me":
        qs = qs.filter(assignee=user)
    elif assignee == "nobody":
        qs = qs.filter(assignee__isnull=True)
    elif assignee:
        qs = qs.filter(assignee_id=assignee)
    if filters.get("state"):
        qs = qs.filter(state=filters["state"])
    if filters.get("source"):
        qs = qs.filter(source=filters["source"])
    due = filters.get("due")
    if due == "overdue":
        qs = qs.filter(_overdue(now))
    elif due == "not_overdue":
        qs = qs.exclude(_overdue(now))
    elif due == "none":
        qs = qs.filter(due_at__isnull=True)
    elif due == "today":
        today = timezone.localdate(now)
        qs = qs.filter(
            state=State.OPEN,
            due_at__gte=local_day_start(today),
            due_at__lt=local_day_start(today + timedelta(days=1)),
        )
    resolution = filters.get("resolution")
    if resolution == "met":
        qs = qs.filter(resolved_at__isnull=False, resolved_at__lte=F("due_at"))
    elif resolution == "missed":
        qs = qs.filter(resolved_at__isnull=False, resolved_at__gt=F("due_at"))
    for field in ("created", "updated", "resolved"):
        qs = _date_range(
            qs, f"{field}_at", filters.get(f"{field}_from"), filters.get(f"{field}_to")
        )
    if filters.get("text"):
        qs = text_matches(qs, filters["text"], user)
    return qs


def filters_from_json(data: Any) -> dict[str, Any]:
    """Stored filters (a saved search's JSON) → clean filters, dropping what does not parse.

    No database look-ups, so a sidebar can count any number of saved searches cheaply.
    """
    if not isinstance(data, dict):
        return {}
    clean: dict[str, Any] = {}
    for key in ID_FILTERS:
        value = access.parse_id(data.get(key))
        if value:
            clean[key] = value
    assignee = data.get("assignee")
    if assignee in ("me", "nobody"):
        clean["assignee"] = assignee
    elif access.parse_id(assignee):
        clean["assignee"] = access.parse_id(assignee)
    choices = {
        "state": State.values,
        "source": Source.values,
        "due": [c for c, _ in DUE_CHOICES],
        "resolution": [c for c, _ in RESOLUTION_CHOICES],
    }
    for key, allowed in choices.items():
        if data.get(key) in allowed:
            clean[key] = data[key]
    for key in DATE_FILTERS:
        value = data.get(key)
        parsed = parse_date(value) if isinstance(value, str) else None
        if parsed:
            clean[key] = parsed
    if isinstance(data.get("text"), str) and data["text"].strip():
        clean["text"] = data["text"].strip()[:200]
    return clean


def filters_to_json(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Clean filters → JSON-safe values (dates as ISO strings), empty values left out."""
    out: dict[str, Any] = {}
    for key in FILTER_KEYS:
        value = filters.get(key)
        if value in (None, ""):
            continue
        out[key] = value.isoformat() if isinstance(value, date) else value
    return out


# ---------------------------------------------------------------------------------------------
# Sorting and keyset pages


@dataclass(frozen=True)
class SortColumn:
    key: str
    label: str
    expression: Callable[[], Expression]
    kind: str  # "text", "int" or "datetime": how the cursor carries the value
    nullable: bool = False  # nulls always sort last, whichever the direction


def _name_of(prefix: str) -> Expression:
    # What `display_name` shows, as SQL: the full name, else the username.
    return Coalesce(NullIf(F(f"{prefix}__name"), Value("")), F(f"{prefix}__username"))


SORT_COLUMNS: dict[str, SortColumn] = {
    c.key: c
    for c in (
        SortColumn("number", "Number", lambda: F("number"), "text"),
        SortColumn("updated", "Last updated", lambda: F("updated_at"), "datetime"),
        SortColumn("subject", "Subject", lambda: Lower("subject"), "text"),
        SortColumn("requester", "Requester", lambda: Lower(_name_of("requester")), "text"),
        SortColumn("priority", "Priority", lambda: F("priority__level"), "int"),
        SortColumn(
            "assignee",
            "Assigned to",
            lambda: Lower(Coalesce(_name_of("assignee"), F("team__name"))),
            "text",
            nullable=True,
        ),
        SortColumn("due", "Due", lambda: F("due_at"), "datetime", nullable=True),
        SortColumn("department", "Department", lambda: Lower("department__name"), "text"),
        SortColumn("status", "Status", lambda: F("status__order"), "int"),
        SortColumn("created", "Created", lambda: F("created_at"), "datetime"),
    )
}


def parse_sort(sort: str) -> tuple[SortColumn, bool]:
    """Parse "-due" into (the due column, descending); raise UnknownSort for anything else."""
    sort = (sort or "").strip()
    descending = sort.startswith("-")
    column = SORT_COLUMNS.get(sort.lstrip("-"))
    if column is None:
        raise UnknownSort(f"Cannot sort by “{sort[:40]}”.")
    return column, descending


def sorted_tickets(qs: QuerySet, sort: str) -> QuerySet:
    """Order by (sort value, id), nulls last; the value is annotated as `queue_sort`."""
    column, descending = parse_sort(sort)
    value = F("queue_sort")
    if column.nullable:
        first = value.desc(nulls_last=True) if descending else value.asc(nulls_last=True)
    else:
        # No NULLS LAST on a NOT NULL column: it would stop PostgreSQL using the index.
        first = value.desc() if descending else value.asc()
    return qs.annotate(queue_sort=column.expression()).order_by(
        first, "-id" if descending else "id"
    )


def _after(column: SortColumn, descending: bool, value, last_id: int) -> Q:
    op = "lt" if descending else "gt"
    if value is None:
        # Only the nulls tail is left: continue within it by id.
        return Q(queue_sort__isnull=True) & Q(**{f"id__{op}": last_id})
    after = Q(**{f"queue_sort__{op}": value}) | (Q(queue_sort=value) & Q(**{f"id__{op}": last_id}))
    if column.nullable:
        after |= Q(queue_sort__isnull=True)
    return after


def encode_cursor(sort: str, value, last_id: int) -> str:
    """An opaque, signed `after` token for the row (value, id) under `sort`."""
    if isinstance(value, datetime):
        value = value.isoformat()
    return signing.dumps([sort, value, last_id], salt=CURSOR_SALT, compress=True)


def decode_cursor(token: str, sort: str) -> tuple[Any, int]:
    """(sort value, id) from a cursor made for `sort`; raise InvalidCursor otherwise."""
    column, _ = parse_sort(sort)
    try:
        payload = signing.loads(token, salt=CURSOR_SALT)
        cursor_sort, value, last_id = payload
    except (signing.BadSignature, ValueError, TypeError):
        raise InvalidCursor("That page link is not valid any more.")
    if cursor_sort != sort or not isinstance(last_id, int) or isinstance(last_id, bool):
        raise InvalidCursor("That page link belongs to another sort order.")
    if value is None:
        if not column.nullable:
            raise InvalidCursor("That page link is not valid any more.")
        return None, last_id
    if column.kind == "datetime":
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:  # Well-formed but impossible, e.g. month 13.
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise InvalidCursor("That page link is not valid any more.")
        return parsed, last_id
    expected = int if column.kind == "int" else str
    if not isinstance(value, expected) or isinstance(value, bool):
        raise InvalidCursor("That page link is not valid any more.")
    return value, last_id


@dataclass
class Page:
    tickets: list[Ticket]
    next_cursor: str | None
    is_first: bool


def page(qs: QuerySet, sort: str, after: str | None = None, size: int = PAGE_SIZE) -> Page:
    """One keyset page of `qs` under `sort`, starting after the cursor `after`.

    One SQL query: the shown foreign keys are joined, one extra row tells if there is more.
    Raise UnknownSort or InvalidCursor on bad input.
    """
    column, descending = parse_sort(sort)
    qs = sorted_tickets(qs, sort).select_related(*TABLE_RELATED)
    if after:
        value, last_id = decode_cursor(after, sort)
        qs = qs.filter(_after(column, descending, value, last_id))
    rows = list(qs[: size + 1])
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = encode_cursor(sort, last.queue_sort, last.pk)
    return Page(rows, next_cursor, not after)


# ---------------------------------------------------------------------------------------------
# Counts


def capped_counts(querysets: Mapping[str, QuerySet], cap: int = COUNT_CAP) -> dict[str, int]:
    """Count each queryset up to `cap` rows, all in one SQL statement.

    Each count reads at most `cap` ids, so a count costs the same at a million tickets.
    """
    counts: dict[str, int] = {}
    parts: list[tuple[str, str, tuple]] = []
    for key, qs in querysets.items():
        try:
            sql, params = qs.order_by().values("pk")[:cap].query.sql_with_params()
        except EmptyResultSet:  # e.g. team__in=[]: Django knows there are no rows.
            counts[key] = 0
            continue
        parts.append((key, sql, params))
    if not parts:
        return counts
    select = ", ".join(
        f"(SELECT COUNT(*) FROM ({sql}) capped_{i})" for i, (_, sql, _) in enumerate(parts)
    )
    params = [p for _, _, part_params in parts for p in part_params]
    db = next(iter(querysets.values())).db
    with connections[db].cursor() as cursor:
        cursor.execute(f"SELECT {select}", params)
        row = cursor.fetchone()
    counts.update({key: int(n) for (key, _, _), n in zip(parts, row, strict=True)})
    return counts


def sidebar_counts(user, saved_searches=(), now=None) -> dict[str, int]:
    """Capped counts of the sidebar queues and the given saved searches (keys "search-<pk>")."""
    now = now or timezone.now()
    querysets = {q.slug: q.tickets(user, now=now) for q in sidebar_queues()}
    for search in saved_searches:
        querysets[f"search-{search.pk}"] = saved_search_queue(search.filters).tickets(
            user, filters_from_json(search.filters), now=now
        )
    return capped_counts(querysets)


def week_start(today: date) -> date:
    """The Monday of `today`'s week."""
    return today - timedelta(days=today.weekday())


def dashboard_counts(user, now=None) -> dict[str, int]:
    """Open, overdue, due today, unassigned and resolved-within-SLA-this-week, capped.

    Days and weeks are the viewer's (the active time zone). Like the reports, the figures count
    the tickets the agent works (`access.worked_tickets`): not those they only requested or are
    CC'd on in a department where they have no role.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    querysets = {
        "open": QUEUES["open"].tickets(user, now=now),
        "overdue": QUEUES["overdue"].tickets(user, now=now),
        "due_today": QUEUES["open"].tickets(user, {"due": "today"}, now=now),
        "unassigned": QUEUES["unassigned"].tickets(user, now=now),
        "resolved_in_sla": QUEUES["all"].tickets(
            user, {"resolution": "met", "resolved_from": week_start(today)}, now=now
        ),
    }
    return capped_counts({key: access.worked_tickets(user, qs) for key, qs in querysets.items()})
