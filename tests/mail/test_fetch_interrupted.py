"""`helpline fetchmail` killed mid-batch: the next run stores every message exactly once.

Forty messages wait in a real Dovecot mailbox: new requests, answers threaded by In-Reply-To
(some answering answers), a message delivered twice, one without a Message-ID and one with no
readable sender (kept as failed mail). The real console command fetches them in a subprocess and
is SIGKILLed at a chosen point, then run again to completion.

The kill points are exact, with no hook in the fetcher: the fetcher talks to Dovecot through
`ImapTap`, a loopback relay that holds back one chosen IMAP command (the FETCH of message k, the
STORE/MOVE that marks it after it was stored, the EXPUNGE of a deleted one). Once the command is
held the fetcher is blocked waiting for the answer, so the test knows exactly what is committed
when it kills the process, and checks that before the second run.

The database is the test run's: on PostgreSQL the test database itself (the subprocess gets its
DATABASE_URL); on SQLite, where the test database lives in memory, a file copy of it that is
copied back before each check.
"""

import hashlib
import imaplib
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import closing, suppress
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from helpline.mail.models import AfterFetch
from tests.databases import database_url

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[2]
ON_POSTGRES = connection.vendor == "postgresql"
MESSAGES = 40
NEW_COLLEAGUE = "new.colleague@example.org"
TRUSTED_MX = "mx.helpline.example"
MAILBOXES = {mode: f"kill-test-{mode}" for mode in AfterFetch.values}


# ---------------------------------------------------------------------------------------------
# The forty messages


@dataclass(frozen=True)
class Planned:
    """One message in the mailbox and what it must become."""

    raw: bytes
    kind: str  # new | reply | repeat | no_id | unparseable
    message_id: str  # "" when the message has none
    root: str  # Message-ID of the request that opened its ticket ("" if none)
    subject: str
    attachments: int = 0

    @property
    def key(self) -> str:
        """What identifies the message once taken in (its Message-ID, else its subject)."""
        return self.message_id or self.subject


def _mail(sender, subject, body, message_id="", answers=None, cc="", attachment=False) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Helpline <help@helpline.example>"
    if cc:
        msg["Cc"] = cc
        # Cc'd people join only from a verified sender: our receiving MTA vouches for this one.
        domain = sender.rpartition("@")[2]
        msg["Authentication-Results"] = f"{TRUSTED_MX}; dmarc=pass header.from={domain}"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    if message_id:
        msg["Message-ID"] = message_id
    if answers:
        msg["In-Reply-To"] = answers[-1]
        msg["References"] = " ".join(answers)
    msg.set_content(body)
    if attachment:
        msg.add_attachment(b"%PDF-1.4 " + subject.encode(), maintype="application",
                           subtype="pdf", filename="screenshot.pdf")  # fmt: skip
    return msg.as_bytes(policy=SMTP)


def plan_messages() -> list[Planned]:
    """Requests, answers (to requests and to answers), and the odd ones at fixed places."""
    plan: list[Planned] = []
    thread: dict[str, list[str]] = {}  # root Message-ID -> Message-IDs in the thread so far
    requester: dict[str, str] = {}
    roots: list[Planned] = []

    def answer(root: Planned, n: int, cc: str = "") -> Planned:
        mid = f"<answer-{n}@example.org>"
        subject = f"Re: {root.subject}"
        raw = _mail(requester[root.message_id], subject, f"Answer {n} to {root.subject}.", mid,
                    thread[root.message_id], cc=cc)  # fmt: skip
        thread[root.message_id].append(mid)
        return Planned(raw, "reply", mid, root.message_id, subject)

    for t in range(17):
        mid = f"<request-{t}@example.org>"
        sender = f"requester{t % 6}@example.org"
        subject = f"Request {t}: printer {t} jams"
        with_file = t % 5 == 0
        raw = _mail(sender, subject, f"Printer {t} jams again.", mid, attachment=with_file)
        root = Planned(raw, "new", mid, mid, subject, attachments=int(with_file))
        thread[mid], requester[mid] = [mid], sender
        plan.append(root)
        roots.append(root)
        if t >= 1:
            plan.append(answer(roots[t - 1], len(plan)))
        if t >= 3 and t % 3 == 0:
            plan.append(answer(roots[t - 3], len(plan)))  # answers the answer before
    # The odd ones, at places the kill points below do not all share.
    plan.insert(14, Planned(b"\x00\x01 no sender here\r\n", "unparseable", "", "", ""))
    no_id = "Request without a Message-ID"
    plan.insert(22, Planned(_mail("requester9@example.org", no_id, "Scanner broken."),
                            "no_id", "", "", no_id))  # fmt: skip
    repeat = roots[2]
    again = b"Received: from relay.example.org; " + format_datetime(timezone.now()).encode()
    plan.insert(27, Planned(again + b"\r\n" + repeat.raw, "repeat", repeat.message_id,
                            repeat.root, repeat.subject))  # fmt: skip
    plan.insert(31, answer(roots[4], 100, cc=f"New Colleague <{NEW_COLLEAGUE}>"))
    repeated_answer = next(p for p in plan[:20] if p.kind == "reply")
    plan.insert(35, Planned(repeated_answer.raw, "repeat", repeated_answer.message_id,
                            repeated_answer.root, repeated_answer.subject))  # fmt: skip
    plan = plan[:MESSAGES]
    assert len(plan) == MESSAGES and sum(p.kind == "unparseable" for p in plan) == 1
    return plan


PLAN = plan_messages()
MIDDLE = MESSAGES // 2
UNPARSEABLE = next(i for i, p in enumerate(PLAN) if p.kind == "unparseable")
WITH_CC = next(i for i, p in enumerate(PLAN) if p.message_id == "<answer-100@example.org>")


def expected_received(prefix: list[Planned]) -> Counter:
    """Message-IDs of the ReceivedMail rows the first messages leave: each message once."""
    seen, ids = set(), Counter()
    for p in prefix:
        if p.kind != "unparseable" and p.key not in seen:
            seen.add(p.key)
            ids[p.message_id] += 1
    return ids


# ---------------------------------------------------------------------------------------------
# The help desk's configuration and what its database holds (read with the ORM, in process)


def add_mailboxes(host: str, port: int) -> None:
    """One mailbox per after-fetch setting, all reading the same INBOX through the tap."""
    from helpline.accounts.models import Department
    from helpline.mail.models import Mailbox, Security

    support = Department.objects.get(name="Support")
    for mode, name in MAILBOXES.items():
        Mailbox.objects.create(
            name=name,
            address="help@helpline.example",
            host=host,
            port=port,
            security=Security.NONE,
            username="helpdesk",
            password="imap-secret-1",
            trusted_authserv_ids=TRUSTED_MX,
            after_fetch=mode,
            move_to="Processed" if mode == AfterFetch.MOVE else "",
            department=support,
        )


def snapshot() -> dict:
    """Tickets and their entries, received and failed mail, the outbox and the task queue."""
    from django_tasks_db.models import DBTaskResult

    from helpline.accounts.models import User
    from helpline.mail.models import FailedMail, ReceivedMail
    from helpline.tickets.models import Collaborator, Notification, Ticket

    tickets = []
    for ticket in Ticket.objects.order_by("id").select_related("requester"):
        entries = [
            {
                "id": e.pk,
                "message_id": e.message_id,
                "kind": e.kind,
                "body": e.body_text,
                "threaded_by": e.threaded_by,
                "attachments": e.attachments.count(),
            }
            for e in ticket.entries.order_by("id")
        ]
        tickets.append(
            {"id": ticket.pk, "subject": ticket.subject, "requester": ticket.requester.email,
             "entries": entries,
             "collaborators": list(Collaborator.objects.filter(ticket=ticket)
                                   .values_list("user__email", flat=True))}
        )  # fmt: skip
    enqueued = []
    for task in DBTaskResult.objects.filter(task_path__endswith="deliver_notifications"):
        enqueued += task.args_kwargs["args"][0]
    return {
        "tickets": tickets,
        "received": list(ReceivedMail.objects.values_list("message_id", flat=True)),
        "failed": [
            {"sha": hashlib.sha256(bytes(f.raw)).hexdigest(), "error": f.error}
            for f in FailedMail.objects.all()
        ],
        "notifications": [
            list(row)
            for row in Notification.objects.order_by("id").values_list(
                "id", "kind", "ticket_id", "entry_id", "recipient_id", "state"
            )
        ],
        "enqueued": enqueued,
        "colleagues": User.objects.filter(email=NEW_COLLEAGUE).count(),
    }


# ---------------------------------------------------------------------------------------------
# The tap: a relay between fetcher and Dovecot that holds back one chosen command

_COMMAND = re.compile(rb"^\S+ (UID )?([A-Z]+) ?(\S*)", re.IGNORECASE)


def _command(line: bytes) -> tuple[str, str]:
    """("FETCH", "12") for `a1 UID FETCH 12 (...)`, ("EXPUNGE", "") for `a2 EXPUNGE`."""
    match = _COMMAND.match(line)
    if not match:
        return "", ""
    uid = match.group(3).decode() if match.group(1) else ""
    return match.group(2).decode().upper(), uid


class BeforeFetch:
    """Hold the reading of message `uid`: everything before it is done and marked."""

    def __init__(self, uid: str):
        self.uid = uid

    def __call__(self, line: bytes) -> bool:
        return _command(line) == ("FETCH", self.uid) and b"BODY" in line.upper()


class BeforeMark:
    """Hold the STORE/MOVE/COPY that marks message `uid`: it is stored, not yet marked."""

    def __init__(self, uid: str):
        self.uid = uid

    def __call__(self, line: bytes) -> bool:
        name, uid = _command(line)
        return name in {"STORE", "MOVE", "COPY"} and uid == self.uid


class BeforeExpunge:
    """Hold the EXPUNGE after message `uid` was flagged \\Deleted."""

    def __init__(self, uid: str):
        self.uid, self.flagged = uid, False

    def __call__(self, line: bytes) -> bool:
        name, uid = _command(line)
        if name == "STORE" and uid == self.uid and b"\\DELETED" in line.upper():
            self.flagged = True
            return False
        return self.flagged and name == "EXPUNGE"


class ImapTap:
    """TCP relay on loopback; `hold_when(rule)` stops forwarding at the first line it matches."""

    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.rule = None
        self.held = threading.Event()
        self.released = threading.Event()
        self.forward_held = False
        self.commands: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def hold_when(self, rule) -> None:
        self.rule = rule
        self.held.clear()
        self.released.clear()
        self.commands.clear()

    def let_go(self, forward: bool) -> None:
        """Release a held command: pass it on (the fetcher goes on) or drop the connection."""
        self.forward_held = forward
        self.released.set()

    def close(self) -> None:
        self.released.set()
        self.server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream)
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        buffer = b""
        try:
            while data := client.recv(65536):
                buffer += data
                while b"\r\n" in buffer:
                    line, buffer = buffer.split(b"\r\n", 1)
                    line += b"\r\n"
                    self.commands.append(line)
                    if self.rule is not None and not self.held.is_set() and self.rule(line):
                        self.held.set()
                        self.released.wait(timeout=120)
                        if not self.forward_held:
                            return
                    upstream.sendall(line)
        except OSError:
            pass
        finally:
            for s in (client, upstream):
                s.close()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


@pytest.fixture(scope="module")
def tap(dovecot):
    relay = ImapTap(dovecot.host, dovecot.port)
    yield relay
    relay.close()


# ---------------------------------------------------------------------------------------------
# The help desk the subprocesses work on


def _helpline() -> list[str]:
    script = Path(sys.executable).parent / "helpline"
    return [str(script)] if script.exists() else [sys.executable, "-m", "helpline.cli"]


class Desk:
    """Runs `helpline` commands on this test's database and reads what they left.

    PostgreSQL: the subprocesses use the test database itself. SQLite: the test database is in
    memory, so it is copied to a file for them (SQLite's backup API) and the file is copied back
    before each look, so the checks use the ORM on both.
    """

    def __init__(self, var_dir: Path):
        var_dir.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        self.env.pop("DATABASE_URL", None)
        self.env.update(
            HELPLINE_VAR_DIR=str(var_dir),
            MEDIA_ROOT=str(var_dir / "media"),
            DEBUG="1",  # the development secret key is accepted
            LOG_LEVEL="WARNING",
            PYTHONPATH=str(REPO),
        )
        self.file = var_dir / "helpline.sqlite3"  # the settings' default under HELPLINE_VAR_DIR
        if ON_POSTGRES:
            self.env["DATABASE_URL"] = database_url()
        else:
            connection.ensure_connection()
            with closing(sqlite3.connect(self.file)) as target:
                connection.connection.backup(target)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        done = subprocess.run([*_helpline(), *args], cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
        assert done.returncode == 0, f"helpline {args[0]} failed:\n{done.stdout}\n{done.stderr}"
        return done

    def start_fetchmail(self, mode: str) -> subprocess.Popen:
        return subprocess.Popen([*_helpline(), "fetchmail", "--mailbox", MAILBOXES[mode]],
                                cwd=REPO, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    def snapshot(self) -> dict:
        if not ON_POSTGRES:
            # Also reads what a killed process left in the write-ahead log.
            with closing(sqlite3.connect(self.file)) as source:
                source.backup(connection.connection)
        return snapshot()


@pytest.fixture
def desk(demo, tmp_path, tap) -> Desk:
    add_mailboxes("127.0.0.1", tap.port)
    return Desk(tmp_path / "var")


# ---------------------------------------------------------------------------------------------
# The mailbox


def deliver_all(server, plan: list[Planned] = PLAN, folder: str = "INBOX") -> list[str]:
    """Append the messages in order; their UIDs, in the same order."""
    client = server.imap()
    try:
        for p in plan:
            client.append(folder, "", imaplib.Time2Internaldate(time.time()), p.raw)
        client.select(folder)
        _, data = client.uid("SEARCH", None, "ALL")
        uids = sorted(data[0].split(), key=int)
    finally:
        client.logout()
    assert len(uids) == len(plan)
    return [u.decode() for u in uids]


def processed_count(server, mode: str) -> int:
    """How many messages the fetcher has marked, moved or deleted on the server."""
    inbox = server.messages("INBOX")
    if mode == AfterFetch.MARK_SEEN:
        return sum(b"\\Seen" in flags for flags, _ in inbox)
    if mode == AfterFetch.MOVE:
        return len(server.messages("Processed"))
    return MESSAGES - len(inbox)


def assert_processed_state(server, mode: str, plan: list[Planned] = PLAN) -> None:
    """The state the mailbox's setting asks for, each message exactly once."""
    inbox, processed = server.messages("INBOX"), server.messages("Processed")
    if mode == AfterFetch.MARK_SEEN:
        assert len(inbox) == len(plan) and processed == []
        assert all(b"\\Seen" in flags and b"\\Deleted" not in flags for flags, _ in inbox)
    elif mode == AfterFetch.MOVE:
        assert inbox == []
        assert len(processed) == len(plan), f"{len(processed)} copies in Processed"
        bodies = {hashlib.sha256(raw).hexdigest() for _, raw in processed}
        assert len(bodies) == len({p.raw for p in plan})  # one answer is delivered twice
    else:
        assert inbox == [] and processed == []


# ---------------------------------------------------------------------------------------------
# The checks


def assert_stored_exactly_once(state: dict, plan: list[Planned] = PLAN) -> None:
    """Every message once, answers on their tickets, one failed mail, no duplicate outbox row."""
    assert Counter(state["received"]) == expected_received(plan)
    assert len(state["failed"]) == 1 and "sender" in state["failed"][0]["error"]

    requests = [p for p in plan if p.kind in ("new", "no_id")]
    assert sorted(t["subject"] for t in state["tickets"]) == sorted(p.subject for p in requests)
    ticket_of: dict[str, int] = {}  # Message-ID -> ticket id
    for ticket in state["tickets"]:
        entries = ticket["entries"]
        keys = [(e["message_id"], e["body"]) for e in entries]
        assert len(keys) == len(set(keys)), f"duplicate entries on {ticket['subject']}"
        for e in entries:
            assert e["message_id"] not in ticket_of, f"{e['message_id']} stored twice"
            if e["message_id"]:
                ticket_of[e["message_id"]] = ticket["id"]
    for p in plan:
        if p.kind == "reply":
            assert ticket_of[p.message_id] == ticket_of[p.root], f"{p.message_id} misthreaded"
        if p.kind in ("new", "reply"):
            assert p.message_id in ticket_of, f"{p.message_id} lost"
    for ticket in state["tickets"]:
        root = next(p for p in requests if p.subject == ticket["subject"])
        answers = [p for p in plan if p.kind == "reply" and p.root == root.message_id]
        assert [e["message_id"] for e in ticket["entries"]] == [
            root.message_id,
            *(a.message_id for a in answers),
        ]
        assert ticket["entries"][0]["attachments"] == root.attachments
        assert all(e["threaded_by"] == "header" for e in ticket["entries"][1:])
    assert state["colleagues"] == int(PLAN[WITH_CC] in plan)
    if PLAN[WITH_CC] in plan:
        cc_ticket = ticket_of[PLAN[WITH_CC].message_id]
        with_cc = next(t for t in state["tickets"] if t["id"] == cc_ticket)
        assert with_cc["collaborators"] == [NEW_COLLEAGUE]

    rows = state["notifications"]
    once = Counter((kind, ticket, entry, to) for _, kind, ticket, entry, to, _ in rows)
    assert [k for k, n in once.items() if n > 1] == [], "a notification was queued twice"
    acks = Counter(ticket for _, kind, ticket, *_ in rows if kind == "new_ticket_ack")
    assert sorted(acks) == sorted(t["id"] for t in state["tickets"])
    assert set(acks.values()) == {1}
    queued = {pk for pk, *_, s in rows if s == "queued"}
    handed_over = Counter(state["enqueued"])
    assert [pk for pk, n in handed_over.items() if n > 1] == [], "a notification sent twice"
    assert queued <= set(handed_over), "a queued notification was never handed to the worker"


def assert_state_at_kill(state: dict, stored: int) -> None:
    """What the killed run left: exactly the first `stored` messages, nothing half-done."""
    assert Counter(state["received"]) == expected_received(PLAN[:stored])
    assert len(state["failed"]) == int(stored > UNPARSEABLE)
    stored_ids = [e["message_id"] for t in state["tickets"] for e in t["entries"]]
    assert sorted(filter(None, stored_ids)) == sorted(
        {p.message_id for p in PLAN[:stored] if p.message_id}
    )
    assert state["colleagues"] == int(stored > WITH_CC)


# ---------------------------------------------------------------------------------------------
# The cases: (after-fetch setting, how to stop, index k of the message it concerns)

CASES = {
    # After one message, between two: the fetcher asks for the second one.
    "after-first-message": (AfterFetch.MARK_SEEN, BeforeFetch, 1),
    # Committed, not yet marked (at the start, half-way, on the failed mail): the window the
    # duplicate checks exist for.
    "first-stored-not-deleted": (AfterFetch.DELETE, BeforeMark, 0),
    "midway-stored-not-marked-seen": (AfterFetch.MARK_SEEN, BeforeMark, MIDDLE),
    "answer-stored-not-moved": (AfterFetch.MOVE, BeforeMark, MIDDLE + 1),
    "failed-mail-stored-not-marked": (AfterFetch.MARK_SEEN, BeforeMark, UNPARSEABLE),
    # Flagged \Deleted, killed before the EXPUNGE.
    "deleted-not-expunged": (AfterFetch.DELETE, BeforeExpunge, MIDDLE),
}


def duplicates(summary: str) -> int:
    found = re.search(r"(\d+) duplicate", summary)
    return int(found.group(1)) if found else 0


def _stored_at_kill(rule, k: int) -> int:
    return k if rule is BeforeFetch else k + 1


@pytest.mark.parametrize("case", list(CASES))
def test_fetchmail_killed_mid_batch_loses_and_duplicates_nothing(case, desk, imap_server, tap):
    mode, rule, k = CASES[case]
    uids = deliver_all(imap_server)
    tap.hold_when(rule(uids[k]))
    first = desk.start_fetchmail(mode)
    try:
        assert tap.held.wait(timeout=60), "the fetcher never got to the kill point: " + "".join(
            first.communicate(timeout=30)
        )
    finally:
        first.kill()  # SIGKILL: no clean-up of any kind
        first.wait(timeout=30)
        tap.let_go(forward=False)
    assert first.returncode == -9

    assert processed_count(imap_server, mode) == k
    assert_state_at_kill(desk.snapshot(), _stored_at_kill(rule, k))

    tap.hold_when(None)
    second = desk.run("fetchmail", "--mailbox", MAILBOXES[mode])  # exit status 0: no error
    assert f"{MESSAGES - k}/{MESSAGES - k} messages" in second.stdout, second.stdout
    # Read twice: the message stored but not marked when killed, and the re-deliveries.
    stored = _stored_at_kill(rule, k)
    twice = stored - k + sum(p.kind == "repeat" for p in PLAN[stored:])
    assert duplicates(second.stdout) == twice, second.stdout

    assert_stored_exactly_once(desk.snapshot())
    assert_processed_state(imap_server, mode)


def tables_written_by_waiting_sessions() -> set[str]:
    """PostgreSQL: tables the sessions now waiting for a lock have written to (uncommitted)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT relation::regclass::text FROM pg_locks"
            " WHERE mode = 'RowExclusiveLock' AND relation IS NOT NULL AND pid IN"
            " (SELECT pid FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid())"
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.skipif(not ON_POSTGRES, reason="holds a row lock from a second connection")
def test_fetchmail_killed_inside_its_transaction_leaves_nothing_behind(desk, imap_server, tap):
    """Killed while the answer with a new Cc is half taken in: the Cc's new user is created,
    the ticket lock is awaited; PostgreSQL must roll all of it back."""
    from helpline.accounts.models import User
    from helpline.tickets.models import ThreadEntry, Ticket
    from tests.test_concurrency_pg import sessions_waiting_for_locks

    mode = AfterFetch.MOVE
    uids = deliver_all(imap_server)
    tap.hold_when(BeforeFetch(uids[WITH_CC]))
    first = desk.start_fetchmail(mode)
    try:
        assert tap.held.wait(timeout=60), "".join(first.communicate(timeout=30))
        root = ThreadEntry.objects.get(message_id=PLAN[WITH_CC].root).ticket_id
        with transaction.atomic():
            Ticket.objects.select_for_update().filter(pk=root).values_list("pk").get()
            tap.let_go(forward=True)  # the fetcher reads the answer, then waits for our lock
            assert sessions_waiting_for_locks(1) == 1, "the fetcher did not reach the lock"
            # Killed with uncommitted writes: the Cc's new user is inserted already.
            assert User._meta.db_table in tables_written_by_waiting_sessions()
            first.kill()
            first.wait(timeout=30)
    finally:
        first.kill()
        first.wait(timeout=30)
    assert_state_at_kill(desk.snapshot(), WITH_CC)
    assert processed_count(imap_server, mode) == WITH_CC

    tap.hold_when(None)
    second = desk.run("fetchmail", "--mailbox", MAILBOXES[mode])
    assert f"{MESSAGES - WITH_CC}/{MESSAGES - WITH_CC} messages" in second.stdout, second.stdout
    assert_stored_exactly_once(desk.snapshot())
    assert_processed_state(imap_server, mode)


# ---------------------------------------------------------------------------------------------
# One fetcher per folder; a failed mailbox is a failed command


def test_a_second_fetcher_on_the_same_folder_skips_it(demo, imap_server, monkeypatch):
    """Two mailbox rows on one IMAP folder: while one is being fetched (the lock held here),
    fetching the other from another connection waits BUSY_WAIT, then skips this round."""
    from helpline.mail import fetch
    from helpline.mail.models import Mailbox

    monkeypatch.setattr(fetch, "BUSY_WAIT", 0.3)
    add_mailboxes(imap_server.host, imap_server.port)
    seen, move = (Mailbox.objects.get(name=MAILBOXES[m]) for m in ("seen", "move"))
    reports = []

    def fetch_elsewhere():
        try:
            reports.append(fetch.fetch_mailbox(move))
        finally:
            connection.close()

    with fetch.fetching_alone(seen) as alone:
        assert alone
        other = threading.Thread(target=fetch_elsewhere)
        other.start()
        other.join(timeout=30)
    [busy] = reports
    assert busy.busy and busy.summary() == f"{move.name}: skipped, another process is fetching it"
    after = fetch.fetch_mailbox(move)
    assert not after.busy and after.error == "" and after.summary().endswith("0/0 messages")


def test_fetchmail_exits_with_status_1_when_a_mailbox_cannot_be_fetched(demo):
    from django.core.management import CommandError, call_command

    from tests.mail.conftest import free_port

    add_mailboxes("127.0.0.1", free_port())  # nothing listens there
    with pytest.raises(CommandError, match="Could not fetch: kill-test-seen") as raised:
        call_command("fetchmail", "--mailbox", MAILBOXES["seen"])
    assert raised.value.returncode == 1
