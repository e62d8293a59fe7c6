"""Which ticket an incoming message belongs to, and the signed Message-IDs we send out.

Order, strongest evidence first: (1) In-Reply-To/References naming a Message-ID stored on a
thread entry; (2) the signed token in one of our own outgoing Message-IDs (survives clients that
drop the References we know, and notifications whose ids were never stored on an entry); (3) the
ticket number in the subject, only when the sender takes part in that ticket — a number in a
subject is easy to guess, so it never lets a stranger write to someone else's ticket.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from django.conf import settings

from helpline.tickets.models import Collaborator, ThreadEntry, Ticket

BY_HEADER = "header"
BY_TOKEN = "token"
BY_SUBJECT = "subject"

_TOKEN = re.compile(r"<hl\.([0-9a-z]{1,13})\.([0-9a-f]{8,32})\.([0-9a-f]{16})@", re.I)
_SUBJECT_NUMBER = re.compile(r"\[#\s*([A-Za-z0-9][A-Za-z0-9-]{0,31})\s*\]")


def _signature(ticket_id: str, nonce: str) -> str:
    key = hashlib.sha256(("helpline.mail.threading" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(key, f"{ticket_id}.{nonce}".encode(), hashlib.sha256).hexdigest()[:16]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def mail_domain() -> str:
    """The right-hand side of our Message-IDs: HELPLINE_MAIL_DOMAIN, else the sender's domain."""
    domain = getattr(settings, "HELPLINE_MAIL_DOMAIN", "") or settings.DEFAULT_FROM_EMAIL
    return domain.rpartition("@")[2].strip("> ") or "helpline.invalid"


def make_message_id(ticket: Ticket) -> str:
    """A fresh Message-ID carrying a signed reference to the ticket."""
    tid = _base36(ticket.pk)
    nonce = secrets.token_hex(8)
    return f"<hl.{tid}.{nonce}.{_signature(tid, nonce)}@{mail_domain()}>"


def ticket_id_from_token(message_id: str) -> int | None:
    """The ticket id signed into one of our Message-IDs, or None if absent or forged."""
    found = _TOKEN.search(message_id or "")
    if not found:
        return None
    tid, nonce, signature = (g.lower() for g in found.groups())
    if not hmac.compare_digest(signature, _signature(tid, nonce)):
        return None
    return int(tid, 36)


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


def find_thread(thread_ids: list[str], subject: str, sender_user) -> Thread:
    """The ticket a message with these referenced ids and subject belongs to (see module doc)."""
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
        if ticket is not None and is_participant(sender_user, ticket):
            return Thread(ticket, BY_SUBJECT)
    return Thread(None)
