"""Fetching mailboxes over IMAP (imap-tools). One message at a time, in small steps.

A message is read with BODY.PEEK (so reading alone marks nothing), taken in by ingest(), and only
then marked seen, moved or deleted on the server: a crash between the two leaves it on the
server, and the duplicate check makes the next fetch skip it.
"""

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import timezone
from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.mailbox import BaseMailBox

from helpline.mail.ingest import ingest
from helpline.mail.models import AfterFetch, Mailbox, Security

log = logging.getLogger(__name__)
TIMEOUT = 60


@dataclass
class FetchReport:
    mailbox: str
    total: int = 0
    done: int = 0
    outcomes: Counter = field(default_factory=Counter)
    error: str = ""

    def summary(self) -> str:
        parts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(self.outcomes.items()))
        text = f"{self.mailbox}: {self.done}/{self.total} messages"
        if parts:
            text += f" ({parts})"
        if self.error:
            text += f"; error: {self.error}"
        return text


def connect(mailbox: Mailbox) -> BaseMailBox:
    """A logged-in imap-tools client on the mailbox's folder."""
    if mailbox.security == Security.TLS:
        client = MailBox(mailbox.host, mailbox.port, timeout=TIMEOUT)
    elif mailbox.security == Security.STARTTLS:
        client = MailBoxStartTls(mailbox.host, mailbox.port, timeout=TIMEOUT)
    else:
        client = MailBoxUnencrypted(mailbox.host, mailbox.port, timeout=TIMEOUT)
    return client.login(mailbox.username, mailbox.password, initial_folder=mailbox.folder)


def _criteria(mailbox: Mailbox) -> str:
    # Marked-seen mail stays in the folder, so only unseen mail is new; with move or delete,
    # whatever is still in the folder has not been taken in yet.
    return "UNSEEN" if mailbox.after_fetch == AfterFetch.MARK_SEEN else "ALL"


def read_raw(client: BaseMailBox, uid: str) -> bytes | None:
    status, data = client.client.uid("FETCH", uid, "(BODY.PEEK[])")
    if status != "OK":
        return None
    for item in data or []:
        if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def after_fetch(client: BaseMailBox, mailbox: Mailbox, uid: str) -> None:
    """Mark, move or delete one message that is now safely in the database."""
    if mailbox.after_fetch == AfterFetch.MOVE:
        client.move(uid, mailbox.move_to)
    elif mailbox.after_fetch == AfterFetch.DELETE:
        client.delete(uid)
    else:
        client.flag(uid, "\\Seen", True)


def fetch_mailbox(
    mailbox: Mailbox,
    limit: int | None = None,
    progress: Callable[[FetchReport], None] | None = None,
) -> FetchReport:
    """Fetch one mailbox once. Connection errors are reported, not raised."""
    report = FetchReport(mailbox.name)
    try:
        with connect(mailbox) as client:
            uids = client.uids(_criteria(mailbox))
            if limit:
                uids = uids[:limit]
            report.total = len(uids)
            for uid in uids:
                raw = read_raw(client, uid)
                if raw is None:
                    continue  # Gone meanwhile (another fetcher took it).
                result = ingest(raw, mailbox)
                after_fetch(client, mailbox, uid)
                report.done += 1
                report.outcomes[result.outcome] += 1
                if progress is not None:
                    progress(report)
    except Exception as exc:  # noqa: BLE001 - network, login, folder: report and carry on
        log.warning("Fetching %s failed: %s", mailbox.name, exc)
        report.error = f"{type(exc).__name__}: {exc}"[:1000]
    Mailbox.objects.filter(pk=mailbox.pk).update(
        last_fetched_at=timezone.now(), last_error=report.error
    )
    return report


def fetch_all(
    names: list[str] | None = None,
    progress: Callable[[FetchReport], None] | None = None,
) -> list[FetchReport]:
    """Fetch every active IMAP mailbox (or those named) once."""
    mailboxes = Mailbox.objects.filter(active=True).exclude(host="")
    if names:
        mailboxes = Mailbox.objects.filter(name__in=names).exclude(host="")
    return [fetch_mailbox(m, progress=progress) for m in mailboxes]
