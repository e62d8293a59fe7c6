"""`helpline report_metrics`: compute business-time durations the event listener did not store.

Run after importing tickets or loading data past the action layer, or with `--all` after
changing a schedule's hours or holidays (durations are kept as computed at the time).
"""

from django.core.management.base import BaseCommand

from helpline.reports.metrics import backfill


class Command(BaseCommand):
    help = "Store business-time first-response and resolution durations for reports."

    def add_arguments(self, parser):
        parser.add_argument(
            "--all", action="store_true", help="Recompute every ticket, not only missing ones."
        )

    def handle(self, *args, all, **options):
        done = backfill(only_missing=not all)
        self.stdout.write(f"Report metrics stored for {done} tickets.")
