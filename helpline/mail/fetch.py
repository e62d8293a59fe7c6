"""Fetching mailboxes over IMAP (imap-tools). One message at a time, in small steps.

Each message goes through three steps, and the fetcher may be killed between any two of them
(tests/mail/test_fetch_interrupted.py kills `helpline fetchmail` at each one):

1. Read it with BODY.PEEK[], which marks nothing on the server.
2. `ingest()` it: one database transaction stores everything the message causes (ticket or
   thread entry, new users, notifications, the ReceivedMail row keyed by Message-ID, or by content
   when there is none); a message that cannot be taken in is stored raw as FailedMail instead.
3. Mark it on the server (seen, moved or deleted, as the mailbox says).

Killed before step 2 commits, the database rolls back and the message is still unmarked, so the
next run takes it in. Killed after step 2 commits but before step 3 reaches the server (the
window a crash-safe fetcher cannot close, since the database and the mail server do not share a
transaction), the message is stored but still looks new; the next run reads it again and the
duplicate check makes that a no-op: ReceivedMail for mail taken in, `_keep_failed_once` here for
failed mail (which has no such key), after which the message is marked as it should have been.
The order is chosen so a crash can only make us read a message twice, never lose one: marking
first and storing second would lose the message to a crash in between.

Step 3 is one command per message where the server allows: UID MOVE (RFC 6851) rather than
COPY + STORE \\Deleted + EXPUNGE, which, killed after the COPY, leaves the message in both folders
and puts a second copy in the target folder on the next run; UID EXPUNGE (UIDPLUS, RFC 4315) so
deleting one message never expunges others flagged \\Deleted by someone else. A crash between the
STORE \\Deleted and the EXPUNGE leaves a flagged message behind, which the next run (reading ALL
mail when moving or deleting) takes as a duplicate and deletes again. Servers without MOVE keep
the COPY window: a crash there can leave one extra copy in the target folder, never a lost or
duplicated ticket.

One process fetches a given IMAP folder at a time (`fetching_alone`); a second one waits a
moment, then skips it for this round.
"""

import hashlib
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone
from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.mailbox import BaseMailBox
from imap_tools.utils import encode_folder

from helpline.mail.ingest import Result, ingest
from helpline.mail.models import AfterFetch, FailedMail, Mailbox, Security

log = logging.getLogger(__name__)
TIMEOUT = 60
BUSY_WAIT = 3.0  # seconds to wait for a fetcher that is finishing (or a killed one's session)
_FAILED_MAIL_LOCK = int.from_bytes(hashlib.sha256(b"helpline.failed-mail").digest()[:8], "big") >> 1


@dataclass
class FetchReport:
    mailbox: str
    total: int = 0
    done: int = 0
    outcomes: Counter = field(default_factory=Counter)
    error: str = ""
    busy: bool = False  # another process was fetching the same folder: nothing done

    def summary(self) -> str:
        if self.busy:
            return f"{self.mailbox}: skipped, another process is fetching it"
        parts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(self.outcomes.items()))
        text = f"{self.mailbox}: {self.done}/{self.total} messages"
        if parts:
            text += f" ({parts})"
        if self.error:
            text += f"; error: {self.error}"
        return text


class MarkingFailed(Exception):
    """The server refused to mark, move or delete a message (it stays for the next run)."""


def connect(mailbox: Mailbox) -> BaseMailBox:
    """A logged-in imap-tools client on the mailbox's folder."""
    if mailbox.security == Security.TLS:
        client = MailBox(mailbox.host, mailbox.port, timeout=TIMEOUT)
    elif mailbox.security == Security.STARTTLS:
        client = MailBoxStartTls(mailbox.host, mailbox.port, timeout=TIMEOUT)
    else:
        client = MailBoxUnencrypted(mailbox.host, mailbox.port, timeout=TIMEOUT)
    return client.login(mailbox.username, mailbox.password, initial_folder=mailbox.folder)


def capabilities(client: BaseMailBox) -> set[str]:
    """What the server offers now that we are logged in.

    imaplib keeps the list the server announced before login, which is often shorter (Dovecot
    names MOVE and UIDPLUS only after it), so ask again.
    """
    try:
        status, data = client.client.capability()
    except Exception:  # noqa: BLE001 - an old server: fall back to the basic commands
        return set()
    if status != "OK" or not data or not data[-1]:
        return set()
    return {word.upper() for word in data[-1].decode(errors="replace").split()}


def _criteria(mailbox: Mailbox) -> str:
    # Marked-seen mail stays in the folder, so only unseen mail is new; with move or delete,
    # whatever is still in the folder has not been taken in yet (a message flagged \Deleted by
    # a run killed before its EXPUNGE included: it is read again as a duplicate and deleted).
    return "UNSEEN" if mailbox.after_fetch == AfterFetch.MARK_SEEN else "ALL"


def read_raw(client: BaseMailBox, uid: str) -> bytes | None:
    status, data = client.client.uid("FETCH", uid, "(BODY.PEEK[])")
    if status != "OK":
        return None
    for item in data or []:
        if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def _gone(client: BaseMailBox, uid: str) -> bool:
    """Whether message `uid` has left the folder (another fetcher moved or deleted it)."""
    status, data = client.client.uid("SEARCH", "UID", uid)
    return status == "OK" and uid.encode() not in b" ".join(data or [b""]).split()


def _uid_command(client: BaseMailBox, command: str, uid: str, *args) -> None:
    status, data = client.client.uid(command, uid, *args)
    # A server refuses to move a message another fetcher moved a moment ago (Dovecot: NO
    # [EXPUNGEISSUED]); that message is where it should be, so it is no error.
    if status != "OK" and not _gone(client, uid):
        raise MarkingFailed(f"UID {command} {uid}: {status} {data!r}"[:300])


def _delete(client: BaseMailBox, uid: str, caps: set[str]) -> None:
    _uid_command(client, "STORE", uid, "+FLAGS", "(\\Deleted)")
    if "UIDPLUS" in caps:
        _uid_command(client, "EXPUNGE", uid)  # only this message
    else:
        client.expunge()


def after_fetch(
    client: BaseMailBox, mailbox: Mailbox, uid: str, caps: set[str] | None = None
) -> None:
    """Mark, move or delete one message that is now safely in the database.

    `caps` are the server's capabilities after login (see `capabilities`); without them the
    plain commands are used. A message already gone (another fetcher took it) is no error.
    """
    caps = capabilities(client) if caps is None else caps
    if mailbox.after_fetch == AfterFetch.MOVE:
        if "MOVE" in caps:
            _uid_command(client, "MOVE", uid, encode_folder(mailbox.move_to))
        else:
            _uid_command(client, "COPY", uid, encode_folder(mailbox.move_to))
            _delete(client, uid, caps)
    elif mailbox.after_fetch == AfterFetch.DELETE:
        _delete(client, uid, caps)
    else:
        client.flag(uid, "\\Seen", True)


def _keep_failed_once(result: Result, raw: bytes) -> Result:
    """A message kept as failed mail before (the same bytes) is not kept again.

    FailedMail has no key like ReceivedMail's fingerprint, so without this a run killed between
    storing the failed mail and marking the message (or the same message reaching two
    mailboxes) would keep it twice. One check runs at a time (PostgreSQL: an advisory lock;
    SQLite: the transaction's write lock), so of two fetchers storing the same message at once
    exactly one entry stays: whoever checks second sees the other's entry and removes its own.
    """
    failed = result.failed_mail
    if failed is None:
        return result
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_FAILED_MAIL_LOCK])
        earlier = FailedMail.objects.filter(
            sender=failed.sender, subject=failed.subject, raw=raw
        ).exclude(pk=failed.pk)
        if not earlier.exists():
            return result
        failed.delete()
    log.info("Message already kept as failed mail; not kept again")
    return Result("duplicate", reason="Already kept as failed mail")


def _folder_key(mailbox: Mailbox) -> bytes:
    # The IMAP folder, not the Mailbox row: two rows on one folder must not fetch it at once.
    name = f"{mailbox.host}:{mailbox.port}:{mailbox.username}:{mailbox.folder}".lower()
    return hashlib.sha256(b"helpline.fetch:" + name.encode()).digest()


@contextmanager
def _postgres_lock(key: bytes) -> Iterator[bool]:
    number = int.from_bytes(key[:8], "big", signed=True)
    deadline = time.monotonic() + BUSY_WAIT
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [number])
        while not (got := cursor.fetchone()[0]) and time.monotonic() < deadline:
            time.sleep(0.2)
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [number])
    try:
        yield got
    finally:
        if got:
            with suppress(Exception), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [number])


def _try_flock(handle) -> bool:
    import fcntl

    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def _file_lock(key: bytes) -> Iterator[bool]:
    # Beside the database file, so every process sharing the SQLite file sees the same lock
    # (an in-memory database has one process: any place will do).
    name = Path(str(connection.settings_dict.get("NAME") or ""))
    folder = name.parent if name.is_file() else Path(tempfile.gettempdir())
    try:
        handle = open(folder / f".helpline-fetch-{key.hex()[:16]}.lock", "a+b")  # noqa: SIM115
    except OSError as exc:
        log.warning("No fetch lock file in %s (%s); fetching without one", folder, exc)
        yield True
        return
    with handle:
        deadline = time.monotonic() + BUSY_WAIT
        while not (got := _try_flock(handle)) and time.monotonic() < deadline:
            time.sleep(0.2)
        yield got  # closing the file releases the lock


@contextmanager
def fetching_alone(mailbox: Mailbox) -> Iterator[bool]:
    """Whether this process has the mailbox's IMAP folder to itself while the block runs.

    Two fetchers on one folder (a scheduled fetch overlapping a long previous one, cron and a
    task) would both read every message: the database keeps each once, but the work is done
    twice and both MOVEs of one message can succeed (Dovecot then copies it twice). PostgreSQL:
    a session advisory lock; SQLite: a file lock beside the database. Both go away with the
    process, so a killed fetcher never keeps the next one out; one finishing is waited for
    BUSY_WAIT seconds.
    """
    lock = _postgres_lock if connection.vendor == "postgresql" else _file_lock
    with lock(_folder_key(mailbox)) as alone:
        yield alone


def fetch_mailbox(
    mailbox: Mailbox,
    limit: int | None = None,
    progress: Callable[[FetchReport], None] | None = None,
) -> FetchReport:
    """Fetch one mailbox once. Connection errors are reported, not raised; while another
    process is fetching the same folder, nothing is done and the report says `busy`."""
    report = FetchReport(mailbox.name)
    with fetching_alone(mailbox) as alone:
        if not alone:
            report.busy = True
            log.info("%s is being fetched by another process; skipped", mailbox.name)
            return report
        _fetch(mailbox, report, limit, progress)
    Mailbox.objects.filter(pk=mailbox.pk).update(
        last_fetched_at=timezone.now(), last_error=report.error
    )
    return report


def _fetch(
    mailbox: Mailbox,
    report: FetchReport,
    limit: int | None,
    progress: Callable[[FetchReport], None] | None,
) -> None:
    try:
        with connect(mailbox) as client:
            caps = capabilities(client)
            uids = client.uids(_criteria(mailbox))
            if limit:
                uids = uids[:limit]
            report.total = len(uids)
            for uid in uids:
                raw = read_raw(client, uid)
                if raw is None:
                    continue  # Gone meanwhile (deleted in a mail client, say).
                result = ingest(raw, mailbox)
                if result.outcome == "failed":
                    result = _keep_failed_once(result, raw)
                after_fetch(client, mailbox, uid, caps)
                report.done += 1
                report.outcomes[result.outcome] += 1
                if progress is not None:
                    progress(report)
    except Exception as exc:  # noqa: BLE001 - network, login, folder: report and carry on
        log.warning("Fetching %s failed: %s", mailbox.name, exc)
        report.error = f"{type(exc).__name__}: {exc}"[:1000]


def fetch_all(
    names: list[str] | None = None,
    progress: Callable[[FetchReport], None] | None = None,
) -> list[FetchReport]:
    """Fetch every active IMAP mailbox (or those named) once."""
    mailboxes = Mailbox.objects.filter(active=True).exclude(host="")
    if names:
        mailboxes = Mailbox.objects.filter(name__in=names).exclude(host="")
    return [fetch_mailbox(m, progress=progress) for m in mailboxes]
