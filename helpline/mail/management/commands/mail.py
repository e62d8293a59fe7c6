"""`helpline mail pipe|import|check|bench`: mail from an MTA pipe or files, a dry run that says
what intake would do with a message (`check`, stores nothing), and the intake benchmark.

`pipe` exit codes follow sysexits.h so that the MTA does the right thing: 0 taken in (or safely
kept as failed mail), 66 no input, 67 unknown mailbox, 75 temporary failure (the MTA retries),
70 anything else.
"""

import mailbox as mbox_lib
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from helpline.mail.ingest import ingest
from helpline.mail.models import Mailbox
from helpline.tickets.files import StorageUnavailable

EX_NOINPUT, EX_NOUSER, EX_SOFTWARE, EX_TEMPFAIL = 66, 67, 70, 75


class Command(BaseCommand):
    help = "Mail intake: pipe one message from an MTA, import files, or run the benchmark."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        pipe = sub.add_parser("pipe", help="Read one raw message on stdin.")
        pipe.add_argument("--mailbox", help="Mailbox name (department, help topic).")
        files = sub.add_parser("import", help="Take in .eml files or mbox files.")
        files.add_argument("paths", nargs="+")
        files.add_argument("--mailbox")
        check = sub.add_parser(
            "check", help="Say what intake would do with .eml files, and why; store nothing."
        )
        check.add_argument("paths", nargs="+")
        check.add_argument("--mailbox")
        bench = sub.add_parser("bench", help="Measure parse + thread + store throughput.")
        bench.add_argument("--count", type=int, default=1000)
        bench.add_argument("--keep", action="store_true", help="Keep the benchmark database.")

    def handle(self, *args, **options):
        action = options["action"]
        if action == "bench":
            from helpline.mail.bench import run_benchmark

            run_benchmark(options["count"], self.stdout, keep=options["keep"])
            return
        mailbox = self._mailbox(options.get("mailbox"))
        if action == "pipe":
            self._pipe(mailbox)
        elif action == "check":
            self._check(options["paths"], mailbox)
        else:
            self._import(options["paths"], mailbox)

    def _mailbox(self, name: str | None) -> Mailbox | None:
        if not name:
            return None
        try:
            found = Mailbox.objects.filter(name=name).first()
        except DatabaseError as exc:
            raise CommandError(f"Database unavailable: {exc}", returncode=EX_TEMPFAIL)
        if found is None:
            raise CommandError(f"No mailbox named “{name}”.", returncode=EX_NOUSER)
        return found

    def _pipe(self, mailbox: Mailbox | None) -> None:
        raw = sys.stdin.buffer.read()
        if not raw.strip():
            raise CommandError("No message on standard input.", returncode=EX_NOINPUT)
        try:
            result = ingest(raw, mailbox)
        except DatabaseError as exc:
            raise CommandError(f"Database unavailable, try later: {exc}", returncode=EX_TEMPFAIL)
        except StorageUnavailable as exc:
            raise CommandError(f"{exc.reason}; try later.", returncode=EX_TEMPFAIL)
        except Exception as exc:  # noqa: BLE001 - the MTA needs an exit code, not a traceback
            raise CommandError(f"Intake failed: {exc}", returncode=EX_SOFTWARE)
        ticket = f" #{result.ticket.number}" if result.ticket else ""
        self.stdout.write(f"{result.outcome}{ticket} {result.reason}".strip())

    def _check(self, paths: list[str], mailbox: Mailbox | None) -> None:
        from helpline.mail.check import check

        try:
            messages = list(_read_paths(paths))
        except OSError as exc:
            raise CommandError(f"Cannot read {exc.filename}: {exc.strerror}", returncode=EX_NOINPUT)
        for i, (name, raw) in enumerate(messages):
            if i:
                self.stdout.write("")
            self.stdout.write(self.style.MIGRATE_HEADING(name))
            self.stdout.write(check(raw, mailbox).render())

    def _import(self, paths: list[str], mailbox: Mailbox | None) -> None:
        messages = list(_read_paths(paths))
        total = len(messages)
        counts: dict[str, int] = {}
        for done, (name, raw) in enumerate(messages, 1):
            result = ingest(raw, mailbox)
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
            if total >= 50 and (done % 50 == 0 or done == total):
                self.stderr.write(f"{done}/{total}")
            elif total < 50:
                self.stdout.write(f"{name}: {result.outcome} {result.reason}".rstrip())
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        self.stdout.write(self.style.SUCCESS(f"{total} messages: {summary or 'none'}"))


def _read_paths(paths: list[str]):
    for path in map(Path, paths):
        if path.is_dir():
            for child in sorted(path.glob("*.eml")):
                yield child.name, child.read_bytes()
        elif path.suffix == ".mbox":
            for i, message in enumerate(mbox_lib.mbox(path)):
                yield f"{path.name}#{i + 1}", message.as_bytes()
        else:
            yield path.name, path.read_bytes()
