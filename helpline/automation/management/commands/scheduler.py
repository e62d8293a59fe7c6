"""`helpline scheduler`: enqueue the periodic jobs (overdue, auto-close …) once per period.

Run one or more (they agree through the database: each period of each job is enqueued once), next
to at least one `helpline db_worker` that runs the tasks. `--once` does a single pass (for tests,
or for cron every minute instead of a long-running process).
"""

import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from helpline.automation import jobs
from helpline.automation.scheduler import tick


class Command(BaseCommand):
    help = "Enqueue periodic jobs exactly once per period (run with `helpline db_worker`)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument(
            "--interval", type=float, default=20.0, help="Seconds between passes (default 20)."
        )

    def handle(self, *args, once: bool = False, interval: float = 20.0, **options):
        if once:
            self._pass()
            return
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        names = ", ".join(f"{j.name} every {j.every}" for j in jobs.all_jobs().values())
        self.stdout.write(f"Scheduler started: {names}")
        while not self.stopping:
            close_old_connections()
            try:
                self._pass()
            except Exception as exc:  # noqa: BLE001 - a database hiccup must not end the loop
                self.stderr.write(f"Scheduler pass failed: {exc}")
            slept = 0.0
            while slept < interval and not self.stopping:
                time.sleep(min(0.5, interval))
                slept += 0.5
        self.stdout.write("Scheduler stopped.")

    def _pass(self) -> None:
        for run in tick():
            self.stdout.write(f"Enqueued {run.job} for the period from {run.period_start:%H:%M}")

    def _stop(self, signum, frame) -> None:
        self.stopping = True
