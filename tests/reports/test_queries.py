"""Exact figures from a known history (see conftest.py), on SQLite and PostgreSQL alike."""

from datetime import date

import pytest

from helpline.reports import metrics, queries
from helpline.reports.models import TicketMetrics
from helpline.reports.periods import Period
from helpline.tickets import actions
from tests.reports.conftest import NY, ny

pytestmark = pytest.mark.django_db

H = 3600


def by_label(report):
    return {f.label: f for f in report.rows}


def test_business_time_is_stored_when_answered_and_resolved(february):
    t = february.tickets
    t1 = TicketMetrics.objects.get(ticket=t.t1)
    # Fri 15-17 (2 h), nothing on the weekend nor on Presidents' Day, Tue 08-09 (1 h).
    assert t1.first_response_business_seconds == 3 * H
    # Fri 2 h + Tue 9 h + Wed 08-11 3 h, minus the 3 h pending on Tuesday.
    assert t1.resolution_business_seconds == 11 * H
    t2 = TicketMetrics.objects.get(ticket=t.t2)
    assert (t2.first_response_business_seconds, t2.resolution_business_seconds) == (1800, 3 * H)
    # Open tickets have no resolution time yet.
    t4 = TicketMetrics.objects.filter(ticket=t.t4).first()
    assert t4 is None or t4.resolution_business_seconds is None


def test_due_time_moved_by_the_pause_and_sla_outcomes(february):
    t1 = february.tickets.t1
    # 8 business hours from Fri 15:00: Fri 2 h, Tue 08-10 and (after the pause) 13-17.
    assert t1.due_at == ny(17, 17)
    assert t1.first_response_due_at == ny(13, 17)
    assert t1.reopened_count == 1


def test_figures_per_department_for_the_administrator(february, admin_user):
    report = queries.group_report(admin_user, february.period, "department", now=february.now)
    rows = by_label(report)
    assert set(rows) == {"Support", "SysAdmins", "Online Banking"}

    support = rows["Support"]
    assert (support.created, support.resolved, support.reopened) == (3, 3, 1)
    assert (support.transferred, support.overdue) == (0, 0)
    # T6 was still open at the end of the period (it was resolved on 25 Feb).
    assert support.backlog == 1
    assert (support.fr_targets, support.fr_met) == (3, 1)
    assert (support.res_targets, support.res_met) == (3, 1)
    assert support.fr_met_pct == pytest.approx(100 / 3)
    # First responses: T2 0.5 h, T3 1.5 h, T1 90 h wall-clock / 3 h business.
    assert support.times["fr_wall_p50"] == 1.5 * H
    assert support.times["fr_wall_p90"] == 260280  # 5400 + 0.8 * (324000 - 5400)
    assert support.times["fr_business_p50"] == 1.5 * H
    assert support.times["fr_business_p90"] == 9720  # 5400 + 0.8 * (10800 - 5400)
    # Resolutions: T2 3 h, T3 6 h, T1 116 h wall-clock / 11 h business.
    assert support.times["res_wall_p50"] == 6 * H
    assert support.times["res_wall_p90"] == 338400  # 21600 + 0.8 * (417600 - 21600)
    assert support.times["res_business_p50"] == 6 * H
    assert support.times["res_business_p90"] == 36000  # 21600 + 0.8 * (39600 - 21600)

    sysadmins = rows["SysAdmins"]
    assert (sysadmins.created, sysadmins.overdue, sysadmins.backlog) == (1, 1, 1)
    assert sysadmins.fr_targets == 0 and sysadmins.fr_met_pct is None
    banking = rows["Online Banking"]
    assert (banking.created, banking.transferred, banking.backlog) == (1, 1, 1)

    total = report.total
    assert (total.created, total.resolved, total.reopened) == (5, 3, 1)
    assert (total.transferred, total.overdue, total.backlog) == (1, 1, 3)
    assert total.times["res_wall_p50"] == 6 * H


def test_john_sees_only_what_he_may_see(february, john):
    report = queries.group_report(john, february.period, "department", now=february.now)
    assert [f.label for f in report.rows] == ["Support"]
    total = report.total
    assert (total.created, total.resolved, total.transferred, total.overdue) == (3, 3, 0, 0)
    assert total.backlog == 1


def test_grouping_by_agent_and_source(february, admin_user, john):
    report = queries.group_report(admin_user, february.period, "agent", now=february.now)
    rows = by_label(report)
    assert set(rows) == {john.display_name, "Unassigned"}
    assert rows[john.display_name].created == 1
    assert rows["Unassigned"].created == 4
    by_source = by_label(queries.group_report(admin_user, february.period, "source"))
    assert by_source["Web portal"].created == 5


def test_backlog_at_the_end_of_an_earlier_period_is_replayed_from_events(february, admin_user):
    # At the end of Tue 17 Feb only T6 was open: T1 and T3 were resolved, T2 too.
    period = Period(date(2026, 2, 17), date(2026, 2, 17), NY)
    report = queries.group_report(admin_user, period, "department", now=february.now)
    assert report.total.backlog == 1
    period = Period(date(2026, 2, 18), date(2026, 2, 18), NY)
    assert queries.group_report(admin_user, period, "priority").total.backlog == 2


def test_daily_series(february, admin_user):
    days = {d.day.day: d for d in queries.daily(admin_user, february.period, now=february.now)}
    assert len(days) == 14
    backlog = [days[n].backlog for n in range(9, 23)]
    assert backlog == [1, 1, 1, 1, 2, 2, 2, 2, 1, 2, 3, 3, 3, 3]
    created = [days[n].created for n in range(9, 23)]
    assert created == [0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0]
    assert [days[n].resolved for n in (16, 17, 18)] == [1, 2, 1]
    assert (days[16].fr_targets, days[16].fr_met) == (1, 1)
    assert (days[17].fr_targets, days[17].fr_met) == (2, 0)
    assert (days[17].res_targets, days[17].res_met, days[18].res_targets) == (1, 0, 1)
    assert days[16].res_met_pct == 100.0 and days[10].res_met_pct is None


def test_distribution_of_resolution_times(february, admin_user):
    buckets = {b.label: b for b in queries.resolution_distribution(admin_user, february.period)}
    assert (buckets["1–4 h"].wall, buckets["1–4 h"].business) == (1, 1)  # T2, 3 h
    assert (buckets["4–8 h"].wall, buckets["4–8 h"].business) == (1, 1)  # T3, 6 h
    assert (buckets["3–7 days"].wall, buckets["8–24 h"].business) == (1, 1)  # T1
    assert sum(b.wall for b in buckets.values()) == 3


def test_backfill_recomputes_lost_metrics(february):
    TicketMetrics.objects.all().delete()
    assert metrics.backfill() == 4  # T1, T2, T3 and T6 were answered or resolved
    t1 = TicketMetrics.objects.get(ticket=february.tickets.t1)
    assert t1.resolution_business_seconds == 11 * H


def test_the_command_stores_missing_metrics(february):
    from django.core.management import call_command

    TicketMetrics.objects.filter(ticket=february.tickets.t1).delete()
    call_command("report_metrics")
    assert TicketMetrics.objects.get(ticket=february.tickets.t1).first_response_business_seconds


def test_a_failing_listener_does_not_fail_the_action(timeline, org, admin_user, karen,
                                                     monkeypatch, caplog):  # fmt: skip
    def broken(ticket_id):
        raise RuntimeError("calendar exploded")

    monkeypatch.setattr(metrics, "refresh", broken)
    with timeline.at(ny(2, 9)):
        ticket = actions.open_ticket(admin_user, requester=karen, subject="x", body="y",
                                     department=org.dept("Support"))  # fmt: skip
    with timeline.at(ny(2, 10)):
        actions.reply(admin_user, ticket, "Answer")
    assert "Could not refresh the report metrics" in caplog.text


def test_anonymous_users_see_no_figures(february):
    from django.contrib.auth.models import AnonymousUser

    report = queries.group_report(AnonymousUser(), february.period, "department")
    assert report.rows == [] and report.total.created == 0


def test_bench_command_times_the_report(february, capsys):
    from django.core.management import call_command

    call_command("bench_reports", "--repeat", "1", "--json")
    out = capsys.readouterr().out
    assert '"table_all_departments"' in out and '"median_ms"' in out
