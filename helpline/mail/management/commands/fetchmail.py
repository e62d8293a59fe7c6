"""`helpline fetchmail [--mailbox NAME] [--loop --interval N]`: fetch mailboxes over IMAP.

Safe to kill at any moment (SIGKILL included): a message is marked on the server only after it
is stored, and re-reading a stored one is a no-op (see helpline/mail/fetch.py). A single run
exits with status 1 when a mailbox could not be fetched, so cron or a systemd timer notices.
"""

import time

from django.core.management.base import BaseCommand, CommandError

from helpline.mail.fetch import FetchReport, fetch_all


class Command(BaseCommand):
    help = "Fetch every active mailbox once (or keep fetching with --loop)."

    def add_arguments(self, parser):
        parser.add_argument("--mailbox", action="append", help="Only this mailbox (repeatable).")
        parser.add_argument("--loop", action="store_true", help="Keep fetching until stopped.")
        parser.add_argument(
            "--interval", type=float, default=60, help="Seconds between rounds with --loop."
        )

    def handle(self, *args, **options):
        while True:
            reports = fetch_all(options["mailbox"], progress=self._progress)
            for report in reports:
                style = self.style.ERROR if report.error else self.style.SUCCESS
                self.stdout.write(style(report.summary()))
            if not reports:
                self.stdout.write("No active IMAP mailbox is configured.")
            if not options["loop"]:
                failed = [r.mailbox for r in reports if r.error]
                if failed:
                    # The messages not fetched stay on the server for the next run.
                    raise CommandError(f"Could not fetch: {', '.join(failed)}", returncode=1)
                return
            time.sleep(max(options["interval"], 1))

    def _progress(self, report: FetchReport) -> None:
        # A backlog shows where it is; a handful of messages stays quiet.
        if report.total >= 50 and (report.done % 50 == 0 or report.done == report.total):
            self.stderr.write(f"{report.mailbox}: {report.done}/{report.total}")
