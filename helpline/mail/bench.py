"""`helpline mail bench`: parse + thread + store throughput over a generated corpus.

Runs against a throwaway database (a temporary SQLite file, or a test database on PostgreSQL)
loaded with the demo organisation, so it never touches real tickets. Outgoing mail goes to
memory; notification tasks are queued as in production.
"""

import random
import shutil
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from django.db import connections
from django.test.utils import override_settings, setup_databases, teardown_databases
from django.utils import timezone

WORDS = [
    *("printer", "laptop", "password", "reset", "invoice", "account", "login", "screen"),
    *("error", "network", "vpn", "access", "outlook", "calendar", "phone", "broken"),
    *("slow", "please", "help", "urgent", "today", "meeting", "report", "server"),
]


def _sentence(rng: random.Random, n: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def generate_corpus(count: int, seed: int = 5) -> list[bytes]:
    """`count` messages: 60% new requests (some HTML, some with attachments), 40% answers."""
    rng = random.Random(seed)
    sent: list[tuple[str, str, str]] = []  # (message id, sender, subject) of new requests
    corpus = []
    for i in range(count):
        msg = EmailMessage()
        msg["Date"] = format_datetime(timezone.now())
        msg["To"] = "help@helpline.example"
        msg["Message-ID"] = make_msgid(idstring=str(i), domain="bench.example")
        body = "\n".join(_sentence(rng) for _ in range(rng.randint(1, 6)))
        if sent and rng.random() < 0.4:
            parent_id, sender, subject = rng.choice(sent)
            msg["From"] = sender
            msg["Subject"] = f"Re: {subject}"
            msg["In-Reply-To"] = parent_id
            msg["References"] = parent_id
            quoted = "\n".join("> " + _sentence(rng) for _ in range(rng.randint(3, 30)))
            body += f"\n\nOn Mon, 2 Mar 2026 at 09:00, Helpline wrote:\n{quoted}\n"
        else:
            sender = f"Person {i % 300} <person{i % 300}@bench{i % 7}.example>"
            msg["From"] = sender
            msg["Subject"] = " ".join(rng.choice(WORDS) for _ in range(5)).capitalize()
            sent.append((msg["Message-ID"], sender, msg["Subject"]))
        msg.set_content(body + "\n-- \nSent from the bench\n")
        if rng.random() < 0.3:
            msg.add_alternative(f"<p>{body}</p><div class='gmail_quote'>old</div>", subtype="html")
        if rng.random() < 0.2:
            msg.add_attachment(
                rng.randbytes(rng.randint(1_000, 50_000)),
                maintype="application",
                subtype="octet-stream",
                filename="log.bin",
            )
        corpus.append(msg.as_bytes())
    return corpus


def run_benchmark(count: int, out, keep: bool = False) -> dict:
    """Generate `count` messages, take them in, and print messages per second."""
    from helpline.accounts.demo import load_demo
    from helpline.accounts.models import Department
    from helpline.mail.ingest import ingest
    from helpline.mail.models import Mailbox
    from helpline.mail.parse import parse_message
    from helpline.tickets.models import HelpTopic

    workdir = Path(tempfile.mkdtemp(prefix="helpline-bench-"))
    default = connections["default"].settings_dict
    if default["ENGINE"].endswith("sqlite3"):
        default.setdefault("TEST", {})["NAME"] = str(workdir / "bench.sqlite3")
    overrides = override_settings(
        MAILERS={"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}},
        MEDIA_ROOT=workdir / "media",
    )
    corpus = generate_corpus(count)
    started = time.perf_counter()
    for raw in corpus:
        parse_message(raw)
    parse_seconds = time.perf_counter() - started

    old_config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    try:
        with overrides:
            load_demo()
            mailbox = Mailbox.objects.create(
                name="Bench",
                address="help@helpline.example",
                department=Department.objects.get(name="Support"),
                help_topic=HelpTopic.objects.get(name="General Inquiry"),
            )
            outcomes: dict[str, int] = {}
            started = time.perf_counter()
            for raw in corpus:
                result = ingest(raw, mailbox)
                outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
            seconds = time.perf_counter() - started
    finally:
        if not keep:
            teardown_databases(old_config, verbosity=0)
            shutil.rmtree(workdir, ignore_errors=True)
    figures = {
        "messages": count,
        "parse_per_second": round(count / parse_seconds, 1),
        "ingest_per_second": round(count / seconds, 1),
        "outcomes": outcomes,
        "database": default["ENGINE"].rsplit(".", 1)[-1],
    }
    out.write(
        f"{count} messages on {figures['database']}: parse only {figures['parse_per_second']}/s, "
        f"parse + thread + store {figures['ingest_per_second']}/s ({outcomes})"
    )
    return figures
