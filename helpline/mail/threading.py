"""Which ticket an incoming message belongs to, and the signed Message-IDs we send out.

Order, strongest evidence first: (1) In-Reply-To/References naming a Message-ID stored on a
thread entry; (2) the signed token in one of our own outgoing Message-IDs (survives clients that
drop the References we know, and notifications whose ids were never stored on an entry); (3) the
ticket number in the subject, only when the sender takes part in that ticket or works on it as an
agent — a number in a subject is easy to guess, so it never lets a stranger write to someone
else's ticket. Threading says which ticket; whether the sender is who From: claims is decided
separately (helpline/mail/trust.py): a reply token bound to the recipient verifies the answer.
"""

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from django.conf import settings

from helpline.tickets import access
from helpline.tickets.models import Collaborator, ThreadEntry, Ticket

BY_HEADER = "header"
BY_TOKEN = "token"
BY_SUBJECT = "subject"
BY_ADDRESS = "reply-address"

# Our Message-IDs: <hl.TICKET.NONCE.SIG[.EXPIRY.RECIPIENT_SIG]@domain>. SIG binds the ticket (it
# threads whoever answers); RECIPIENT_SIG binds ticket, recipient address and expiry (it verifies
# that the answer comes from the person the mail was sent to). Older ids carry only SIG.
_TOKEN = re.compile(
    r"<hl\.([0-9a-z]{1,13})\.([0-9a-f]{8,32})\.([0-9a-f]{16})(?:\.([0-9a-z]{1,8})\.([0-9a-f]{16}))?@",
    re.I,
)
# The reply address: local+hl-TICKET-EXPIRY-SIG@domain (sub-addressing, per mailbox).
_ADDRESS_TOKEN = re.compile(
    r"(?<![0-9a-z])hl-([0-9a-z]{1,13})-([0-9a-z]{1,8})-([0-9a-f]{16})@", re.I
)
_SUBJECT_NUMBER = re.compile(r"\[#\s*([A-Za-z0-9][A-Za-z0-9-]{0,31})\s*\]")
_DAY = 86400


def _key(purpose: str) -> bytes:
    return hashlib.sha256((purpose + settings.SECRET_KEY).encode()).digest()


def _signature(ticket_id: str, nonce: str) -> str:
    key = _key("helpline.mail.threading")
    return hmac.new(key, f"{ticket_id}.{nonce}".encode(), hashlib.sha256).hexdigest()[:16]


def _recipient_signature(ticket_id: str, nonce: str, expiry: str, recipient: str) -> str:
    key = _key("helpline.mail.reply-token")
    message = f"{ticket_id}.{nonce}.{expiry}.{(recipient or '').strip().lower()}"
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()[:16]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _expiry(now: float | None = None) -> str:
    """Days since the epoch when a token stops verifying, base 36."""
    now = time.time() if now is None else now
    return _base36(int(now // _DAY) + settings.HELPLINE_MAIL_REPLY_TOKEN_DAYS)


def _expired(expiry: str, now: float | None = None) -> bool:
    now = time.time() if now is None else now
    try:
        return int(expiry, 36) < int(now // _DAY)
    except ValueError:
        return True


def mail_domain() -> str:
    """The right-hand side of our Message-IDs: HELPLINE_MAIL_DOMAIN, else the sender's domain."""
    domain = settings.HELPLINE_MAIL_DOMAIN or settings.DEFAULT_FROM_EMAIL
    return domain.rpartition("@")[2].strip("> ") or "helpline.invalid"


def make_message_id(ticket: Ticket, recipient: str = "") -> str:
    """A fresh Message-ID carrying a signed reference to the ticket (and to its recipient)."""
    tid = _base36(ticket.pk)
    nonce = secrets.token_hex(8)
    token = f"hl.{tid}.{nonce}.{_signature(tid, nonce)}"
    if recipient:
        expiry = _expiry()
        token += f".{expiry}.{_recipient_signature(tid, nonce, expiry, recipient)}"
    return f"<{token}@{mail_domain()}>"


def reply_address(ticket: Ticket, recipient: str, mailbox_address: str, separator: str) -> str:
    """`local+hl-…@domain`: an address whose answers verify as coming from `recipient`."""
    local, _, domain = mailbox_address.rpartition("@")
    tid = _base36(ticket.pk)
    expiry = _expiry()
    signature = _recipient_signature(tid, "addr", expiry, recipient)
    return f"{local}{separator}hl-{tid}-{expiry}-{signature}@{domain}"


def ticket_id_from_token(message_id: str) -> int | None:
    """The ticket id signed into one of our Message-IDs, or None if absent or forged."""
    found = _TOKEN.search(message_id or "")
    if not found:
        return None
    tid, nonce, signature = (g.lower() for g in found.groups()[:3])
    if not hmac.compare_digest(signature, _signature(tid, nonce)):
        return None
    return int(tid, 36)


@dataclass(frozen=True)
class ReplyToken:
    """A reply token that names `sender` as its recipient: the answer is theirs."""

    ticket_id: int
    where: str  # "message-id" or "address"


def verified_reply_token(
    thread_ids: list[str], recipients: list[str], sender: str
) -> ReplyToken | None:
    """A valid, unexpired token bound to `sender`, in the references or the address written to."""
    for message_id in thread_ids:
        found = _TOKEN.search(message_id or "")
        if not found or not found.group(5):
            continue
        tid, nonce, signature, expiry, rsig = (g.lower() for g in found.groups())
        if not hmac.compare_digest(signature, _signature(tid, nonce)) or _expired(expiry):
            continue
        if hmac.compare_digest(rsig, _recipient_signature(tid, nonce, expiry, sender)):
            return ReplyToken(int(tid, 36), "message-id")
    for address in recipients:
        found = _ADDRESS_TOKEN.search(address or "")
        if not found:
            continue
        tid, expiry, rsig = (g.lower() for g in found.groups())
        if _expired(expiry):
            continue
        if hmac.compare_digest(rsig, _recipient_signature(tid, "addr", expiry, sender)):
            return ReplyToken(int(tid, 36), "address")
    return None


def subject_number(subject: str) -> str:
    found = _SUBJECT_NUMBER.search(subject or "")
    return found.group(1) if found else ""


def strip_subject_tag(subject: str) -> str:
    return " ".join(_SUBJECT_NUMBER.sub(" ", subject or "").split())


@dataclass(frozen=True)
class Thread:
    ticket: Ticket | None
    threaded_by: str = ""


def _live(ticket: Ticket | None) -> Ticket | None:
    """Follow merges: mail to a merged ticket goes to the ticket it was merged into."""
    seen = set()
    while ticket is not None and ticket.merged_into_id and ticket.pk not in seen:
        seen.add(ticket.pk)
        ticket = ticket.merged_into
    return ticket


def is_participant(user, ticket: Ticket) -> bool:
    if user is None:
        return False
    if ticket.requester_id == user.pk:
        return True
    return Collaborator.objects.filter(ticket=ticket, user=user).exists()


def find_thread(
    thread_ids: list[str], subject: str, sender_user, token: ReplyToken | None = None
) -> Thread:
    """The ticket a message with these referenced ids and subject belongs to (see module doc).

    A reply token verified for the sender names the ticket before anything else does.
    """
    if token is not None:
        ticket = _live(Ticket.objects.filter(pk=token.ticket_id).first())
        if ticket is not None:
            return Thread(ticket, BY_ADDRESS if token.where == "address" else BY_TOKEN)
    ids = [i[:255] for i in thread_ids if i][:50]
    if ids:
        rows = dict(
            ThreadEntry.objects.filter(message_id__in=ids).values_list("message_id", "ticket_id")
        )
        for message_id in ids:  # most recent reference first
            if message_id in rows:
                ticket = Ticket.objects.filter(pk=rows[message_id]).first()
                if ticket is not None:
                    return Thread(_live(ticket), BY_HEADER)
        for message_id in ids:
            ticket_id = ticket_id_from_token(message_id)
            if ticket_id is not None:
                ticket = Ticket.objects.filter(pk=ticket_id).first()
                if ticket is not None:
                    return Thread(_live(ticket), BY_TOKEN)
    number = subject_number(subject)
    if number and sender_user is not None:
        ticket = _live(Ticket.objects.filter(number=number).first())
        if ticket is not None and (
            is_participant(sender_user, ticket) or access.works_on(sender_user, ticket)
        ):
            return Thread(ticket, BY_SUBJECT)
    return Thread(None)
