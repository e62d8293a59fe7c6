"""Report tables: the figures formatted once, as text, for the page and the CSV export alike.

Both the HTML table and the CSV file are written from the same `Table` rows, so the numbers on
screen and in the export are the same strings.
"""

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils import timezone

from helpline.reports.queries import Bucket, Day, GroupReport

EMPTY = ""


@dataclass
class Table:
    slug: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    total: list[str] | None = None
    note: str = ""

    def all_rows(self) -> list[list[str]]:
        return self.rows + ([self.total] if self.total else [])


def count(value: int | None) -> str:
    return EMPTY if value is None else str(value)


def pct(value: float | None) -> str:
    return EMPTY if value is None else f"{value:.1f}"


def hours(seconds: float | None) -> str:
    return EMPTY if seconds is None else f"{seconds / 3600:.2f}"


def average(value: float | None) -> str:
    return EMPTY if value is None else f"{value:.2f}"


def _group_tables(report: GroupReport) -> list[tuple[str, str, list[str], callable]]:
    return [
        (
            "volume",
            "Volume and backlog",
            ["Created", "Resolved", "Reopened", "Transferred", "Became overdue", "Backlog at end"],
            lambda f: [count(f.created), count(f.resolved), count(f.reopened),
                       count(f.transferred), count(f.overdue), count(f.backlog)],
        ),
        (
            "sla",
            "SLA compliance",
            ["First responses with a target", "First response SLA met",
             "First response SLA met (%)", "Resolutions with a due time", "Resolution SLA met",
             "Resolution SLA met (%)"],
            lambda f: [count(f.fr_targets), count(f.fr_met), pct(f.fr_met_pct),
                       count(f.res_targets), count(f.res_met), pct(f.res_met_pct)],
        ),
        (
            "times",
            "Response and resolution times (hours)",
            ["First response median, business", "First response p90, business",
             "First response median, wall-clock", "First response p90, wall-clock",
             "Resolution median, business", "Resolution p90, business",
             "Resolution median, wall-clock", "Resolution p90, wall-clock"],
            lambda f: [hours(f.times.get(k)) for k in (
                "fr_business_p50", "fr_business_p90", "fr_wall_p50", "fr_wall_p90",
                "res_business_p50", "res_business_p90", "res_wall_p50", "res_wall_p90")],
        ),
        (
            "satisfaction",
            "Customer satisfaction",
            ["Surveys sent", "Answered", "Response rate (%)", "Average rating (1-5)"],
            lambda f: [count(f.csat_sent), count(f.csat_answered), pct(f.csat_rate_pct),
                       average(f.csat_average)],
        ),
    ]  # fmt: skip


def group_tables(report: GroupReport) -> list[Table]:
    """The four per-group tables, each with a total line."""
    tables = []
    for slug, title, columns, cells in _group_tables(report):
        table = Table(slug, title, [report.grouping.name, *columns])
        table.rows = [[f.label, *cells(f)] for f in report.rows]
        table.total = [report.total.label, *cells(report.total)]
        tables.append(table)
    return tables


def daily_table(days: Iterable[Day]) -> Table:
    table = Table(
        "daily",
        "Per day",
        ["Day", "Created", "Resolved", "Backlog at end of day", "First response SLA met (%)",
         "Resolution SLA met (%)"],
    )  # fmt: skip
    table.rows = [
        [d.day.isoformat(), count(d.created), count(d.resolved), count(d.backlog),
         pct(d.fr_met_pct), pct(d.res_met_pct)]
        for d in days
    ]  # fmt: skip
    return table


def distribution_table(buckets: Iterable[Bucket]) -> Table:
    table = Table(
        "distribution",
        "Resolution times",
        ["Resolution time", "Tickets (wall-clock)", "Tickets (business time)"],
    )
    table.rows = [[b.label, count(b.wall), count(b.business)] for b in buckets]
    return table


def comments_table(surveys) -> Table:
    table = Table(
        "comments",
        "Satisfaction comments",
        ["Ticket", "Department", "Requester", "Rating", "Comment", "Answered"],
    )
    table.rows = [
        [f"#{s.ticket.number}", str(s.ticket.department), s.ticket.requester.display_name,
         str(s.rating), s.comment, timezone.localtime(s.responded_at).strftime("%Y-%m-%d %H:%M")]
        for s in surveys
    ]  # fmt: skip
    return table


def _safe_cell(value: str) -> str:
    # A spreadsheet runs cells starting with = + - @ as formulas; numbers stay as they are.
    if value[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(value):
        return "'" + value
    return value


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    for row in table.all_rows():
        writer.writerow([_safe_cell(cell) for cell in row])
    return out.getvalue()
