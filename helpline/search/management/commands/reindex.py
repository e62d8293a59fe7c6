"""`helpline reindex`: rebuild the full-text search index from the tickets (batches of ids)."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction

from helpline.search import index
from helpline.tickets.models import Ticket


class Command(BaseCommand):
    help = "Rebuild the search index of every ticket (or of --from..--to ids)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=index.BATCH, help="Tickets per batch.")
        parser.add_argument("--from", dest="first", type=int, help="First ticket id.")
        parser.add_argument("--to", dest="last", type=int, help="Last ticket id.")
        parser.add_argument("--database", default="default")

    def handle(self, *args, batch, first, last, database, **options):
        if not 1 <= batch <= 100000:
            raise CommandError("--batch must be between 1 and 100000.")
        if connections[database].vendor not in ("postgresql", "sqlite"):
            raise CommandError("Full-text search needs PostgreSQL or SQLite.")
        tickets = Ticket.objects.using(database)
        first = first or tickets.order_by("pk").values_list("pk", flat=True).first() or 1
        last = last or tickets.order_by("-pk").values_list("pk", flat=True).first() or 0
        started = time.monotonic()
        removed = index.remove_orphans(using=database)
        total = max(0, last - first + 1)
        for start in range(first, last + 1, batch):
            with transaction.atomic(using=database):
                index.index_range(start, min(last, start + batch - 1), using=database)
            done = min(last, start + batch - 1) - first + 1
            sys.stderr.write(f"\rreindex: {done}/{total} ids ({100 * done // total}%)")
        if total:
            sys.stderr.write("\n")
        self.stdout.write(
            f"Reindexed ticket ids {first}..{last} in {time.monotonic() - started:.1f} s; "
            f"removed {removed} orphaned documents."
        )
