"""The reports page and its CSV exports (agents only; figures of the tickets they work only)."""

from dataclasses import dataclass

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import SafeString

from helpline.reports import charts, queries, tables
from helpline.reports.forms import ReportForm
from helpline.reports.periods import Period
from helpline.reports.queries import GROUPINGS, Grouping
from helpline.tickets.views.staff import agent_required


@dataclass
class Chart:
    slug: str
    title: str
    svg: SafeString
    table: str  # the slug of the table holding the same data


@dataclass
class ReportPage:
    period: Period
    grouping: Grouping
    tables: dict[str, tables.Table]
    charts: list[Chart]


def _day_label(day) -> str:
    return f"{day.day} {day:%b}"


def build(user, period: Period, grouping: Grouping, now=None) -> ReportPage:
    """Every table and chart of the page, from a handful of grouped queries."""
    now = now or timezone.now()
    report = queries.group_report(user, period, grouping, now=now)
    days = queries.daily(user, period, now=now)
    buckets = report.total.buckets
    comments = queries.csat_comments(user, period)
    all_tables = [
        *tables.group_tables(report),
        tables.daily_table(days),
        tables.distribution_table(buckets),
        tables.comments_table(comments),
    ]
    return ReportPage(
        period, grouping, {t.slug: t for t in all_tables}, _charts(report, days, buckets)
    )


def table_for(user, period: Period, grouping: Grouping, slug: str, now=None) -> tables.Table:
    """Just one table of the page (the CSV export runs only the queries it needs)."""
    now = now or timezone.now()
    if slug == "daily":
        return tables.daily_table(queries.daily(user, period, now=now))
    if slug == "distribution":
        return tables.distribution_table(queries.resolution_distribution(user, period))
    if slug == "comments":
        return tables.comments_table(queries.csat_comments(user, period))
    report = queries.group_report(user, period, grouping, now=now)
    return {t.slug: t for t in tables.group_tables(report)}[slug]


def _charts(report: queries.GroupReport, days, buckets) -> list[Chart]:
    """The report's charts, each with a text summary and the table that has its numbers."""
    span = report.period.label
    day_labels = [_day_label(d.day) for d in days]
    sla_per_day = _sla_per_day_chart(span, days, day_labels)
    distribution = _distribution_chart(span, buckets)
    return [
        Chart("sla-by-group", "SLA compliance", _sla_by_group_chart(report), "sla"),
        Chart("volume", "Volume", _volume_chart(report, days, day_labels), "daily"),
        Chart("backlog", "Backlog", _backlog_chart(span, days, day_labels), "daily"),
        Chart("sla-per-day", "SLA compliance over time", sla_per_day, "daily"),
        Chart("distribution", "Resolution times", distribution, "distribution"),
    ]


def _sla_by_group_chart(report: queries.GroupReport) -> SafeString:
    total = report.total
    fr, res = tables.pct(total.fr_met_pct) or "no", tables.pct(total.res_met_pct) or "no"
    return charts.hbar_chart(
        f"SLA compliance by {report.grouping.name.lower()}, {report.period.label}",
        f"Share of first responses and resolutions within the SLA, per "
        f"{report.grouping.name.lower()}. Overall: first response {fr} %, resolution {res} %. "
        "The numbers are in the table “SLA compliance”.",
        [f.label for f in report.rows],
        [
            charts.Series("First response met", [f.fr_met_pct for f in report.rows]),
            charts.Series("Resolution met", [f.res_met_pct for f in report.rows]),
        ],
        suffix="%",
        x_max=100,
    )


def _volume_chart(report: queries.GroupReport, days, day_labels: list[str]) -> SafeString:
    total = report.total
    return charts.bar_chart(
        f"Tickets created and resolved per day, {report.period.label}",
        f"{total.created} created and {total.resolved} resolved in the period. "
        "The numbers are in the table “Per day”.",
        day_labels,
        [
            charts.Series("Created", [d.created for d in days]),
            charts.Series("Resolved", [d.resolved for d in days]),
        ],
    )


def _backlog_chart(span: str, days, day_labels: list[str]) -> SafeString:
    known = [d.backlog for d in days if d.backlog is not None]
    return charts.line_chart(
        f"Backlog at the end of each day, {span}",
        f"Open and pending tickets at the end of each day: from {known[0] if known else 0} "
        f"to {known[-1] if known else 0}. The numbers are in the table “Per day”.",
        day_labels,
        [charts.Series("Backlog", [d.backlog for d in days])],
    )


def _sla_per_day_chart(span: str, days, day_labels: list[str]) -> SafeString:
    return charts.line_chart(
        f"SLA compliance per day, {span}",
        "Share of the day's first responses and resolutions within the SLA; days without any "
        "have no point. The numbers are in the table “Per day”.",
        day_labels,
        [
            charts.Series("First response met", [d.fr_met_pct for d in days]),
            charts.Series("Resolution met", [d.res_met_pct for d in days]),
        ],
        suffix="%",
        y_max=100,
    )


def _distribution_chart(span: str, buckets) -> SafeString:
    return charts.bar_chart(
        f"How long resolutions took, {span}",
        "Tickets resolved in the period by time to resolution, in wall-clock and in business "
        "time. The numbers are in the table “Resolution times”.",
        [b.label for b in buckets],
        [
            charts.Series("Wall-clock", [b.wall for b in buckets]),
            charts.Series("Business time", [b.business for b in buckets]),
        ],
    )


def _form_and_choice(request: HttpRequest) -> tuple[ReportForm, Period, Grouping]:
    form = ReportForm(request.GET or None)
    period = form.report_period(timezone.get_current_timezone())
    return form, period, GROUPINGS[form.grouping_slug()]


@agent_required
def report(request: HttpRequest) -> HttpResponse:
    form, period, grouping = _form_and_choice(request)
    page = build(request.user, period, grouping)
    query = request.GET.urlencode() if form.is_bound and form.is_valid() else ""
    context = {
        "form": form,
        "page": page,
        "group_tables": [page.tables[s] for s in ("volume", "sla", "times", "satisfaction")],
        "query": query,
        "active_queue": "reports",
        "viewer_timezone": timezone.get_current_timezone_name(),
    }
    return render(request, "staff/reports/report.html", context, status=400 if form.errors else 200)


@agent_required
def export_csv(request: HttpRequest, table: str) -> HttpResponse:
    """One of the page's tables as CSV, for the same period and grouping."""
    if table not in {"volume", "sla", "times", "satisfaction", "daily", "distribution",
                     "comments"}:  # fmt: skip
        raise Http404("No such table.")
    form, period, grouping = _form_and_choice(request)
    chosen = table_for(request.user, period, grouping, table)
    response = HttpResponse(tables.to_csv(chosen), content_type="text/csv; charset=utf-8")
    name = f"helpline-{table}-{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
