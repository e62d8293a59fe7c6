"""`helpline bench_reports`: how long the 90-day report takes, for all departments.

Works on the configured database (DATABASE_URL), e.g. under `scripts/pg-throwaway.sh`. With
`--seed N` it first adds N generated tickets through the Scale benchmark's loader
(`helpline.bench.load.seed`), then gives them report rows the way production would have them:
business-time metrics (the generated SLAs are wall-clock, so business time = wall-clock here)
and a satisfaction survey for half the resolved tickets, a third of them answered. Seeding
writes tickets: never point it at a database you care about.

Reported: the median and worst of `--repeat` runs of the grouped figures (the table) for the
administrator (every department) and for an agent (the visibility filter), and of the whole
page (tables, per-day series, distribution, comments).
"""

import json as json_module
import os
import statistics
import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from helpline.accounts.models import User
from helpline.reports import dialect, queries
from helpline.reports.periods import current_today, preset_period
from helpline.reports.views import build
from helpline.tickets.models import Ticket


def _metrics_sql() -> str:
    fr = dialect.seconds_between("t.created_at", "t.first_responded_at")
    res = dialect.seconds_between("t.created_at", "t.resolved_at")
    return f"""
        INSERT INTO reports_ticketmetrics
          (ticket_id, first_response_business_seconds, resolution_business_seconds,
           first_responded_at, resolved_at, updated_at)
        SELECT t.id, {fr}, {res}, t.first_responded_at, t.resolved_at, %s FROM tickets_ticket t
        WHERE (t.first_responded_at IS NOT NULL OR t.resolved_at IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM reports_ticketmetrics m WHERE m.ticket_id = t.id)
    """


SURVEYS_SQL = """
    INSERT INTO reports_csatsurvey
      (ticket_id, email, created_at, sent_at, rating, comment, responded_at, updated_at)
    SELECT t.id, 'bench@customer.example', t.resolved_at, t.resolved_at,
      CASE WHEN t.id % 3 = 0 THEN 1 + (t.id / 2) % 5 END,
      CASE WHEN t.id % 12 = 0 THEN 'Generated comment' ELSE '' END,
      CASE WHEN t.id % 3 = 0 THEN t.resolved_at END,
      CASE WHEN t.id % 3 = 0 THEN t.resolved_at END
    FROM tickets_ticket t
    WHERE t.resolved_at IS NOT NULL AND t.id % 2 = 0
      AND NOT EXISTS (SELECT 1 FROM reports_csatsurvey s WHERE s.ticket_id = t.id)
"""


class Command(BaseCommand):
    help = "Time the 90-day report for all departments (optionally seeding tickets first)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=0, help="Add this many tickets first.")
        parser.add_argument("--repeat", type=int, default=5)
        parser.add_argument("--days", type=int, default=90, choices=[7, 30, 90])
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")

    def handle(self, *args, seed, repeat, days, json, **options):
        if not 1 <= repeat <= 50:
            raise CommandError("--repeat is between 1 and 50.")
        if seed:
            self._seed(seed)
        admin = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
        agent = User.objects.filter(agent__is_active=True, is_superuser=False).order_by("pk")
        agent = agent.first()
        if admin is None:
            raise CommandError("No administrator: run `helpline demo` or seed first.")
        tz = timezone.get_current_timezone()
        period = preset_period(f"{days}d", current_today(tz), tz)
        tickets = Ticket.objects.count()
        in_period = Ticket.objects.filter(created_at__gte=period.start).count()
        results = {
            "vendor": connection.vendor,
            "tickets": tickets,
            "tickets_created_in_period": in_period,
            "period_days": days,
        }
        grouping = queries.GROUPINGS["department"]
        results["table_all_departments"] = self._time(
            lambda: queries.group_report(admin, period, grouping), repeat
        )
        if agent is not None:
            results[f"table_as_{agent.username}"] = self._time(
                lambda: queries.group_report(agent, period, grouping), repeat
            )
        results["whole_page_all_departments"] = self._time(
            lambda: build(admin, period, grouping), repeat
        )
        results["part_per_day_series"] = self._time(lambda: queries.daily(admin, period), repeat)
        results["load_average"] = [round(x, 2) for x in os.getloadavg()]
        if json:
            self.stdout.write(json_module.dumps(results, indent=2))
            return
        self.stdout.write(
            f"{tickets:,} tickets on {connection.vendor}, {in_period:,} created in the last "
            f"{days} days"
        )
        self.stdout.write(f"  load average (1, 5, 15 min): {results['load_average']}")
        for key, value in results.items():
            if isinstance(value, dict):
                self.stdout.write(
                    f"  {key:32} median {value['median_ms']:8.1f} ms   "
                    f"worst {value['worst_ms']:8.1f} ms"
                )

    def _time(self, run, repeat: int) -> dict:
        run()  # warm-up: plans, caches
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            run()
            times.append((time.perf_counter() - started) * 1000)
        return {"median_ms": round(statistics.median(times), 1), "worst_ms": round(max(times), 1)}

    def _seed(self, count: int) -> None:
        try:
            from helpline.bench.load import seed
        except ImportError as exc:
            raise CommandError(f"The benchmark loader is not available: {exc}") from exc
        meta = seed(count, out=self.stderr)
        self.stderr.write(f"seeded: {json_module.dumps(meta.get('seconds', {}))}")
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute(_metrics_sql(), [dialect.param(timezone.now())])
            cursor.execute(SURVEYS_SQL)
            cursor.execute("ANALYZE")
        took = timedelta(seconds=time.monotonic() - started)
        self.stderr.write(f"report rows (metrics, surveys) in {took.total_seconds():.1f} s")
