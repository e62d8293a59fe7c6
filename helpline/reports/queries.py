"""The report figures, aggregated in SQL from tickets, their events and the reports' own tables.

Nothing here loads tickets into Python: each query groups and counts in the database and returns
one row per group (or per day, or per bucket). Every query starts from
`access.worked_tickets(user)`: a figure counts only the tickets the viewer works as an agent,
never one they may not see, nor one they only requested or are CC'd on (there they are a
requester).

Definitions (shown on the report page too):
- created: tickets opened in the period.
- resolved / reopened / transferred / became overdue: tickets with such an event in the period
  (each ticket counted once per figure; a merge is not a resolution).
- backlog: tickets open or pending at the end of the period (or now, for a period not yet over),
  replayed from the current state and the events since.
- first-response SLA met: of the tickets first answered in the period that had a first-response
  target, the share answered by it. Resolution SLA met: of the tickets (finally) resolved in the
  period that had a due time, the share with resolved_at <= due_at.
- times: median and 90th percentile from creation to the first reply / to the resolution, in
  wall-clock time and in business time of the ticket's SLA schedule (paused time excluded).
- satisfaction: surveys sent in the period, the share answered, the average rating.

Groups are a ticket's current department, team, agent, help topic, priority or source.
"""

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import F, IntegerField, Value
from django.utils import timezone

from helpline.accounts.models import Department, Team, User
from helpline.reports import dialect
from helpline.reports.periods import Period
from helpline.reports.sqlparts import Fragment, compose, fetch, from_queryset
from helpline.tickets import access
from helpline.tickets.models import HelpTopic, Priority, Source, Ticket

FRACTIONS = [0.5, 0.9]
DURATIONS = ("fr_wall", "fr_business", "res_wall", "res_business")
BUCKETS = (
    ("Under 1 h", 3600),
    ("1–4 h", 4 * 3600),
    ("4–8 h", 8 * 3600),
    ("8–24 h", 24 * 3600),
    ("1–3 days", 3 * 86400),
    ("3–7 days", 7 * 86400),
    ("7 days or more", None),
)


@dataclass
class Bucket:
    label: str
    wall: int = 0
    business: int = 0


@dataclass(frozen=True)
class Grouping:
    slug: str
    name: str
    column: str
    none_label: str


GROUPINGS: dict[str, Grouping] = {
    g.slug: g
    for g in (
        Grouping("department", "Department", "department_id", "No department"),
        Grouping("team", "Team", "team_id", "No team"),
        Grouping("agent", "Agent", "assignee_id", "Unassigned"),
        Grouping("help_topic", "Help topic", "help_topic_id", "No help topic"),
        Grouping("priority", "Priority", "priority_id", "No priority"),
        Grouping("source", "Source", "source", "Unknown source"),
    )
}


@dataclass
class Figures:
    """The figures of one group (or of all the viewer's tickets when `is_total`)."""

    key: Any
    label: str = ""
    is_total: bool = False
    created: int = 0
    resolved: int = 0
    reopened: int = 0
    transferred: int = 0
    overdue: int = 0
    backlog: int = 0
    fr_targets: int = 0
    fr_met: int = 0
    res_targets: int = 0
    res_met: int = 0
    # Seconds (float) or None, keyed "fr_wall_p50", "res_business_p90", …
    times: dict[str, float | None] = field(default_factory=dict)
    csat_sent: int = 0
    csat_answered: int = 0
    csat_sum: int = 0
    # Resolutions in the period by time taken (see BUCKETS).
    buckets: list = field(default_factory=list)

    @property
    def fr_met_pct(self) -> float | None:
        return _pct(self.fr_met, self.fr_targets)

    @property
    def res_met_pct(self) -> float | None:
        return _pct(self.res_met, self.res_targets)

    @property
    def csat_rate_pct(self) -> float | None:
        return _pct(self.csat_answered, self.csat_sent)

    @property
    def csat_average(self) -> float | None:
        return self.csat_sum / self.csat_answered if self.csat_answered else None


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


@dataclass
class GroupReport:
    grouping: Grouping | None
    period: Period
    rows: list[Figures]
    total: Figures


# ---------------------------------------------------------------------------------------------
# Building blocks


def _worked(user, grouping: Grouping | None) -> Fragment:
    """The tickets the user works, as a subquery with the columns reports need and the group
    as `grp`."""
    qs = access.worked_tickets(user)
    if qs.query.is_empty():
        # Someone who works no ticket counts nothing; an impossible id keeps the SQL valid.
        qs = Ticket.objects.filter(pk__lt=0)
    grp = F(grouping.column) if grouping else Value(None, output_field=IntegerField())
    qs = qs.annotate(grp=grp)
    return from_queryset(
        qs.values(
            "id", "grp", "created_at", "first_responded_at", "first_response_due_at",
            "resolved_at", "due_at", "merged_into_id", "state",
        ).order_by()
    )  # fmt: skip


_CLOSED_IDS = "SELECT id FROM tickets_status WHERE state IN ('resolved', 'closed')"


def _closing(event_alias: str = "e") -> str:
    after = dialect.json_int(f"{event_alias}.after", "id")
    before = dialect.json_int(f"{event_alias}.before", "id")
    return f"({after} IN ({_CLOSED_IDS}) AND COALESCE({before}, 0) NOT IN ({_CLOSED_IDS}))"


def _reopening(event_alias: str = "e") -> str:
    after = dialect.json_int(f"{event_alias}.after", "id")
    before = dialect.json_int(f"{event_alias}.before", "id")
    return f"({before} IN ({_CLOSED_IDS}) AND COALESCE({after}, 0) NOT IN ({_CLOSED_IDS}))"


def _in(column: str) -> str:
    return f"({column} >= {{start}} AND {column} < {{end}})"


def _key(row: dict) -> tuple[int, Any]:
    return (int(row["tot"]), row["g"])


# ---------------------------------------------------------------------------------------------
# The grouped figures


# Per ticket with an event in the period, one row of 0/1 flags and durations: every grouped
# figure is a sum, a count or a percentile over these rows (one pass, one statement on
# PostgreSQL). A ticket answered, resolved or surveyed in the period has an event in it.
FACT_SUMS = (
    "created", "resolved", "reopened", "transferred", "overdue", "fr_targets", "fr_met",
    "res_targets", "res_met", "csat_sent", "csat_sum",
)  # fmt: skip
FACT_COUNTS = ("csat_answered",)
EVENT_FLAGS = ("created", "resolved", "reopened", "transferred", "overdue")


def _facts(user, grouping: Grouping | None, period: Period) -> Fragment:
    vis = _worked(user, grouping)
    fr_in, res_in = _in("t.first_responded_at"), _in("t.resolved_at")
    resolved = f"{res_in} AND t.merged_into_id IS NULL"
    template = f"""
        SELECT t.grp AS grp,
          CASE WHEN {_in("t.created_at")} THEN 1 ELSE 0 END AS created,
          CASE WHEN t.merged_into_id IS NULL THEN COALESCE(ev.resolved, 0) ELSE 0 END
            AS resolved,
          COALESCE(ev.reopened, 0) AS reopened, COALESCE(ev.transferred, 0) AS transferred,
          COALESCE(ev.overdue, 0) AS overdue,
          CASE WHEN {fr_in} AND t.first_response_due_at IS NOT NULL THEN 1 ELSE 0 END
            AS fr_targets,
          CASE WHEN {fr_in} AND t.first_responded_at <= t.first_response_due_at THEN 1 ELSE 0 END
            AS fr_met,
          CASE WHEN {resolved} AND t.due_at IS NOT NULL THEN 1 ELSE 0 END AS res_targets,
          CASE WHEN {resolved} AND t.resolved_at <= t.due_at THEN 1 ELSE 0 END AS res_met,
          CASE WHEN {fr_in} THEN {dialect.seconds_between("t.created_at", "t.first_responded_at")}
            END AS fr_wall,
          CASE WHEN {fr_in} THEN m.first_response_business_seconds END AS fr_business,
          CASE WHEN {resolved} THEN {dialect.seconds_between("t.created_at", "t.resolved_at")}
            END AS res_wall,
          CASE WHEN {resolved} THEN m.resolution_business_seconds END AS res_business,
          CASE WHEN s.id IS NULL THEN 0 ELSE 1 END AS csat_sent,
          s.rating AS csat_answered, COALESCE(s.rating, 0) AS csat_sum
        FROM ({{vis}}) t
          LEFT JOIN (
            SELECT e.ticket_id,
              MAX(CASE WHEN e.kind = 'status' AND {_closing()} THEN 1 ELSE 0 END) AS resolved,
              MAX(CASE WHEN e.kind = 'reopened' THEN 1 ELSE 0 END) AS reopened,
              MAX(CASE WHEN e.kind = 'transferred' THEN 1 ELSE 0 END) AS transferred,
              MAX(CASE WHEN e.kind = 'overdue' THEN 1 ELSE 0 END) AS overdue
            FROM tickets_event e
            WHERE e.kind IN ('status', 'reopened', 'transferred', 'overdue')
              AND e.created_at >= {{start}} AND e.created_at < {{end}}
            GROUP BY e.ticket_id
          ) ev ON ev.ticket_id = t.id
          LEFT JOIN (
            SELECT mm.ticket_id, mm.first_response_business_seconds,
              mm.resolution_business_seconds
            FROM reports_ticketmetrics mm
            WHERE {_in("mm.first_responded_at")} OR {_in("mm.resolved_at")}
          ) m ON m.ticket_id = t.id
          LEFT JOIN reports_csatsurvey s ON s.ticket_id = t.id
            AND s.created_at >= {{start}} AND s.created_at < {{end}}
        WHERE {_in("t.created_at")} OR {fr_in} OR {res_in} OR ev.ticket_id IS NOT NULL
    """
    start, end = dialect.param(period.start), dialect.param(period.end)
    facts = compose(template, vis=vis, start=start, end=end)
    # The distribution of resolution times rides along: one 0/1 column per bucket and clock.
    # The fence computes each row's durations once instead of once per bucket test.
    fenced = compose(f"SELECT f.*, {_bucket_case('f.res_wall')} AS res_wall_bucket, "
                     f"{_bucket_case('f.res_business')} AS res_business_bucket "
                     f"FROM ({{facts}}{dialect.FENCE}) f", facts=facts)  # fmt: skip
    buckets = ", ".join(
        f"CASE WHEN b.{clock}_bucket = {i} THEN 1 ELSE 0 END AS {clock}_b{i}"
        for clock in ("res_wall", "res_business")
        for i in range(len(BUCKETS))
    )
    return compose(f"SELECT b.*, {buckets} FROM ({{fenced}}{dialect.FENCE}) b", fenced=fenced)


def _bucket_case(value: str) -> str:
    limits = [limit for _, limit in BUCKETS if limit]
    whens = " ".join(f"WHEN {value} < {limit} THEN {i}" for i, limit in enumerate(limits))
    return f"(CASE WHEN {value} IS NULL THEN NULL {whens} ELSE {len(BUCKETS) - 1} END)"


def _bucket_columns() -> list[str]:
    return [f"{clock}_b{i}" for clock in ("res_wall", "res_business") for i in range(len(BUCKETS))]


def _backlog(user, grouping, at: datetime, now: datetime) -> list[dict]:
    """Open or pending tickets per group at `at`: the current backlog minus what came since."""
    vis = _worked(user, grouping)
    parts = [
        "SELECT t.grp AS grp, 1 AS backlog FROM ({vis}) t WHERE t.state IN ('open', 'pending')"
    ]
    if at < now:
        # Replay backwards: opened since → was not there; resolved since → was; reopened
        # since → was not.
        parts.append(
            "SELECT t.grp, -1 FROM tickets_event e JOIN ({vis}) t ON t.id = e.ticket_id "
            "WHERE e.kind = 'created' AND e.created_at >= {at}"
        )
        parts.append(
            f"SELECT t.grp, CASE WHEN {_closing()} THEN 1 WHEN {_reopening()} THEN -1 ELSE 0 END "
            "FROM tickets_event e JOIN ({vis}) t ON t.id = e.ticket_id "
            "WHERE e.kind = 'status' AND e.created_at >= {at}"
        )
    source = compose(" UNION ALL ".join(parts), vis=vis, at=dialect.param(at))
    return dialect.aggregate(source, ["backlog"], [], [], [])


def group_labels(grouping: Grouping, keys: set) -> dict[Any, str]:
    """Readable names of group keys (one small query; NULL gets the grouping's 'none' label)."""
    keys = {k for k in keys if k is not None}
    labels: dict[Any, str] = {None: grouping.none_label}
    models = {
        "department": Department, "team": Team, "help_topic": HelpTopic, "priority": Priority,
    }  # fmt: skip
    if grouping.slug in models:
        labels |= dict(models[grouping.slug].objects.filter(pk__in=keys).values_list("pk", "name"))
    elif grouping.slug == "agent":
        labels |= {u.pk: u.display_name for u in User.objects.filter(pk__in=keys)}
    elif grouping.slug == "source":
        choices = dict(Source.choices)
        labels |= {k: choices.get(k, k) for k in keys}
    return labels


def group_report(
    user, period: Period, grouping: Grouping | str | None, now: datetime | None = None
) -> GroupReport:
    """Every figure per group for the period, plus the total line (only that without grouping)."""
    if isinstance(grouping, str):
        grouping = GROUPINGS[grouping]
    now = now or timezone.now()
    figures: dict[tuple[int, Any], Figures] = {}

    def row(key) -> Figures:
        if key not in figures:
            figures[key] = Figures(key=key[1], is_total=bool(key[0]))
        return figures[key]

    rows = dialect.aggregate(
        _facts(user, grouping, period),
        [*FACT_SUMS, *_bucket_columns()],
        FACT_COUNTS,
        list(DURATIONS),
        FRACTIONS,
    )
    for r in rows:
        f = row(_key(r))
        for name in (*FACT_SUMS, *FACT_COUNTS):
            setattr(f, name, int(r[name] or 0))
        f.buckets = [
            Bucket(label, int(r[f"res_wall_b{i}"] or 0), int(r[f"res_business_b{i}"] or 0))
            for i, (label, _) in enumerate(BUCKETS)
        ]
        for name in DURATIONS:
            for i, fraction in enumerate(FRACTIONS):
                value = r.get(f"{name}_p{i}")
                f.times[f"{name}_p{round(fraction * 100)}"] = (
                    None if value is None else round(float(value), 1)
                )
    for r in _backlog(user, grouping, min(period.end, now), now):
        if r["backlog"]:
            row(_key(r)).backlog = int(r["backlog"])
    total = figures.pop((1, None), None) or Figures(key=None, is_total=True)
    total.label = "All"
    if grouping is None:
        return GroupReport(grouping, period, [], total)
    labels = group_labels(grouping, {k for _, k in figures}) if grouping else {}
    rows = list(figures.values())
    for f in rows:
        f.label = labels.get(f.key, str(f.key))
    rows.sort(key=lambda f: (f.key is None, f.label.lower()))
    return GroupReport(grouping, period, rows, total)


# ---------------------------------------------------------------------------------------------
# Per day (charts)


@dataclass
class Day:
    day: date
    created: int = 0
    resolved: int = 0
    backlog: int | None = 0
    fr_targets: int = 0
    fr_met: int = 0
    res_targets: int = 0
    res_met: int = 0

    @property
    def fr_met_pct(self) -> float | None:
        return _pct(self.fr_met, self.fr_targets)

    @property
    def res_met_pct(self) -> float | None:
        return _pct(self.res_met, self.res_targets)


def daily(user, period: Period, now: datetime | None = None) -> list[Day]:
    """Created, resolved, backlog at the end of the day and SLA met, per day of the period.

    The backlog is replayed backwards from the current one: for each day, a window sum over the
    later days of the net flow (opened + reopened - resolved), subtracted from today's backlog.
    Days after today have no backlog yet (None).
    """
    now = now or timezone.now()
    rows = _daily_rows(user, period)
    row_days = sorted(rows)
    backlog_now = _backlog_total(user)
    today = timezone.localdate(now, period.tz)
    days = []
    for day in period.days:
        d = _day(day, rows.get(day))
        d.backlog = backlog_now - _later(day, rows, row_days) if day <= today else None
        days.append(d)
    return days


def _daily_template() -> str:
    """Per local day: created, resolved, SLA targets and met, and the net flow of the backlog.

    A ticket counts on the day it was created (k = 0), first answered (k = 1) and resolved
    (k = 2); status events add the resolutions and reopenings.
    """
    return f"""
        SELECT d.day AS day,
          COUNT(DISTINCT CASE WHEN d.what = 'created' THEN d.ticket_id END) AS created,
          COUNT(DISTINCT CASE WHEN d.what = 'resolved' THEN d.ticket_id END) AS resolved,
          SUM(d.fr_t) AS fr_targets, SUM(d.fr_m) AS fr_met,
          SUM(d.res_t) AS res_targets, SUM(d.res_m) AS res_met, SUM(d.net) AS net
        FROM (
          SELECT CASE k.k WHEN 0 THEN {{c_day}} WHEN 1 THEN {{fr_day}} ELSE {{res_day}} END AS day,
            CASE WHEN k.k = 0 THEN 'created' ELSE '' END AS what, t.id AS ticket_id,
            CASE WHEN k.k = 1 AND t.first_response_due_at IS NOT NULL THEN 1 ELSE 0 END AS fr_t,
            CASE WHEN k.k = 1 AND t.first_responded_at <= t.first_response_due_at
              THEN 1 ELSE 0 END AS fr_m,
            CASE WHEN k.k = 2 AND t.due_at IS NOT NULL THEN 1 ELSE 0 END AS res_t,
            CASE WHEN k.k = 2 AND t.resolved_at <= t.due_at THEN 1 ELSE 0 END AS res_m,
            CASE WHEN k.k = 0 THEN 1 ELSE 0 END AS net
          FROM (
            SELECT * FROM ({{vis}}) v
            WHERE v.created_at >= {{start}} OR {_in("v.first_responded_at")}
              OR {_in("v.resolved_at")}{dialect.FENCE}
          ) t CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) k
          WHERE (k.k = 0 AND t.created_at >= {{start}})
            OR (k.k = 1 AND {_in("t.first_responded_at")})
            OR (k.k = 2 AND {_in("t.resolved_at")} AND t.merged_into_id IS NULL)
          UNION ALL
          SELECT {{e_day}}, CASE WHEN {_closing()} AND t.merged_into_id IS NULL
              THEN 'resolved' ELSE '' END, e.ticket_id, 0, 0, 0, 0,
            CASE WHEN {_closing()} THEN -1 WHEN {_reopening()} THEN 1 ELSE 0 END
          FROM tickets_event e JOIN ({{vis}}) t ON t.id = e.ticket_id
          WHERE e.kind = 'status' AND e.created_at >= {{start}}
        ) d
        GROUP BY d.day
    """


# For each day, the net flow of all later days (rows ordered newest first).
_DAILY_WINDOWED = """
    SELECT g.*, COALESCE(SUM(g.net) OVER (
        ORDER BY g.day DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS later
    FROM ({grouped}) g
"""


def _daily_rows(user, period: Period) -> dict[date, dict]:
    """The grouped rows of the days with any activity, by day."""
    tzname = period.tzname
    vis = _worked(user, None)
    grouped = compose(
        _daily_template(),
        vis=vis,
        start=dialect.param(period.start),
        end=dialect.param(period.end),
        e_day=dialect.local_date("e.created_at", tzname),
        c_day=dialect.local_date("t.created_at", tzname),
        fr_day=dialect.local_date("t.first_responded_at", tzname),
        res_day=dialect.local_date("t.resolved_at", tzname),
    )
    with dialect.tuned():
        fetched = fetch(compose(_DAILY_WINDOWED, grouped=grouped))
    return {_as_date(r["day"]): r for r in fetched}


def _day(day: date, r: dict | None) -> Day:
    """The created, resolved and SLA figures of one day (r: its grouped row, if any)."""
    d = Day(day)
    if r is not None:
        d.created, d.resolved = int(r["created"]), int(r["resolved"])
        d.fr_targets, d.fr_met = int(r["fr_targets"] or 0), int(r["fr_met"] or 0)
        d.res_targets, d.res_met = int(r["res_targets"] or 0), int(r["res_met"] or 0)
    return d


def _later(day: date, rows: dict[date, dict], row_days: list[date]) -> int:
    """The net backlog flow of all days after `day`."""
    r = rows.get(day)
    if r is not None:
        return int(r["later"])
    # A quiet day ends with the backlog the next active day started with.
    i = bisect_right(row_days, day)
    nxt = rows[row_days[i]] if i < len(row_days) else None
    return int(nxt["later"]) + int(nxt["net"] or 0) if nxt else 0


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _backlog_total(user) -> int:
    return access.worked_tickets(user).filter(state__in=["open", "pending"]).count()


# ---------------------------------------------------------------------------------------------
# Distribution of resolution times, satisfaction comments


def resolution_distribution(user, period: Period) -> list[Bucket]:
    """How many tickets resolved in the period took how long (wall-clock and business time).

    Part of the grouped figures' single pass; this runs it without grouping.
    """
    total = group_report(user, period, None).total
    return total.buckets or [Bucket(label) for label, _ in BUCKETS]


def csat_comments(user, period: Period, limit: int = 50):
    """The latest answered surveys with a comment, of tickets the user works."""
    from helpline.reports.models import CsatSurvey

    return (
        CsatSurvey.objects.filter(
            ticket__in=access.worked_tickets(user).values("id"),
            responded_at__gte=period.start,
            responded_at__lt=period.end,
        )
        .exclude(comment="")
        .select_related("ticket", "ticket__requester", "ticket__department")
        .order_by("-responded_at", "-id")[:limit]
    )
