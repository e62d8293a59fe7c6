"""`helpline bench seed --tickets N` and `helpline bench run`: the scale benchmark.

seed  generates a realistic data set fast (bulk inserts, COPY on PostgreSQL), bypassing the
      action layer on purpose: it is test data, written directly. See helpline/bench/data.py.
run   starts gunicorn (2 workers) on 127.0.0.1 against the configured database and measures
      pages, searches, replies and the API over HTTP; writes a table and var/bench/*.json.

Never point either at a database you care about: both write to it.
"""

import sys

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Seed a benchmark data set or measure the running help desk (see --help of each)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        seed = sub.add_parser("seed", help="Generate tickets (bulk, with a progress bar).")
        seed.add_argument("--tickets", type=int, required=True, help="How many tickets to add.")
        seed.add_argument("--batch", type=int, default=5000, help="Tickets per transaction.")
        seed.add_argument("--seed", type=int, default=42, help="Random seed.")
        run = sub.add_parser("run", help="Measure over HTTP against gunicorn.")
        run.add_argument("--workers", type=int, default=2, help="gunicorn workers.")
        run.add_argument("--requests", type=int, default=60, help="Timed requests per case.")
        run.add_argument("--warmup", type=int, default=5, help="Untimed requests per case.")
        run.add_argument("--only", action="append", default=[], help="Run cases whose name "
                         "contains this (repeatable).")  # fmt: skip
        run.add_argument("--deep-page", type=int, default=500, help="The deep keyset page.")
        run.add_argument("--output", help="JSON file (default var/bench/run-<time>.json).")
        live = sub.add_parser("live", help="Idle cost of agents watching queues (live updates).")
        live.add_argument("--agents", type=int, default=200, help="Agents watching a queue.")
        live.add_argument("--rounds", type=int, default=5, help="Polls per agent.")

    def handle(self, *args, action: str, **options):
        if action == "seed":
            self._seed(**options)
        elif action == "live":
            from helpline.bench.live import run as live

            try:
                live(self.stdout, agents=options["agents"], rounds=options["rounds"])
            except ValueError as exc:
                raise CommandError(str(exc))
        else:
            self._run(**options)

    def _seed(self, tickets, batch, seed, **_):
        from helpline.bench.load import seed as load

        if not 1 <= tickets <= 20_000_000 or not 1 <= batch <= 100_000:
            raise CommandError("Use 1 ≤ --tickets ≤ 20,000,000 and 1 ≤ --batch ≤ 100,000.")
        try:
            meta = load(tickets, batch=batch, rng_seed=seed, out=sys.stderr)
        except ValueError as exc:
            raise CommandError(str(exc))
        seconds = meta["seconds"]
        self.stdout.write(
            f"Seeded {tickets} tickets, {meta['entries']} thread entries, {meta['events']} "
            f"events, {meta['attachments']} attachments in {seconds['total']} s "
            f"({', '.join(f'{k} {v} s' for k, v in seconds.items() if k != 'total')})."
        )

    def _run(self, **options):
        from helpline.bench.run import BenchError, run

        try:
            run(
                self.stdout,
                **{
                    k: options[k]
                    for k in ("workers", "requests", "warmup", "only", "deep_page", "output")
                },
            )
        except BenchError as exc:
            raise CommandError(str(exc))
