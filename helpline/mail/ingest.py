"""Raw message → ticket, through tickets.actions like every other channel.

`ingest(raw, mailbox)` either commits everything the message causes (ticket or thread entry,
collaborators, the ReceivedMail row that makes intake idempotent) or nothing; a message it cannot
take in is stored raw as FailedMail. Either way the message is safe in the database when ingest
returns, so the caller may then mark, move or delete it on the mail server. Only if ingest raises
(the database is unreachable) must the caller leave the message where it is.
"""

import inspect
import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from helpline.accounts.people import find_by_email, get_or_create_requester
from helpline.mail import loops
from helpline.mail.models import FailedMail, Mailbox, Outcome, ReceivedMail
from helpline.mail.parse import ParsedMessage, parse_message
from helpline.mail.quotes import extract
from helpline.mail.threading import BY_HEADER, BY_TOKEN, find_thread, strip_subject_tag
from helpline.tickets import access, actions, hooks
from helpline.tickets.models import Source, State, ThreadEntry, Ticket

log = logging.getLogger(__name__)


@dataclass
class Result:
    """What one message became. `outcome` is an Outcome value or "duplicate"/"failed"."""

    outcome: str
    ticket: Ticket | None = None
    entry: ThreadEntry | None = None
    reason: str = ""
    failed_mail: FailedMail | None = None


def ingest(raw: bytes, mailbox: Mailbox | None = None) -> Result:
    """Take one raw message in. Raises only when the database itself fails."""
    parsed = parse_message(raw)
    try:
        with transaction.atomic():
            return _ingest(parsed, mailbox)
    except IntegrityError:
        # Two deliveries of the same message raced; the other one won.
        if ReceivedMail.objects.filter(fingerprint=parsed.fingerprint).exists():
            return Result("duplicate", reason="Delivered twice at the same time")
        return _fail(raw, parsed, mailbox, "The database refused the message (integrity error)")
    except (ValidationError, access.AccessDenied, access.TicketNotFound) as exc:
        return _fail(raw, parsed, mailbox, _explain(exc))
    except Exception as exc:
        if _database_down(exc):
            raise
        log.exception("Mail intake failed for %s", parsed.message_id or parsed.fingerprint)
        return _fail(raw, parsed, mailbox, f"{type(exc).__name__}: {exc}")


def reprocess(failed: FailedMail) -> Result:
    """Try a failed message again; on success the failed entry is marked re-processed."""
    result = ingest(bytes(failed.raw), failed.mailbox)
    if result.failed_mail is not None and result.failed_mail.pk != failed.pk:
        result.failed_mail.delete()  # Still failing: keep one entry, with the newest error.
        failed.error = result.reason
    failed.reprocessed_at = timezone.now()
    failed.outcome = (result.outcome + (f": {result.reason}" if result.reason else ""))[:255]
    failed.save(update_fields=["reprocessed_at", "outcome", "error"])
    return result


def _database_down(exc: Exception) -> bool:
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)


def _explain(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return getattr(exc, "message", None) or str(exc)


def _fail(raw: bytes, parsed: ParsedMessage, mailbox: Mailbox | None, error: str) -> Result:
    failed = FailedMail.objects.create(
        mailbox=mailbox,
        raw=raw,
        sender=parsed.sender[:255],
        subject=parsed.subject[:255],
        error=error[:5000],
    )
    log.warning("Mail kept as failed mail %s: %s", failed.pk, error)
    return Result("failed", reason=error, failed_mail=failed)


def _record(parsed, mailbox, outcome, reason="", ticket=None, entry=None) -> Result:
    ReceivedMail.objects.create(
        fingerprint=parsed.fingerprint,
        message_id=parsed.message_id[:255],
        mailbox=mailbox,
        sender=parsed.sender[:255],
        subject=parsed.subject[:255],
        outcome=outcome,
        reason=reason[:500],
        ticket=ticket,
        entry=entry,
    )
    if reason and outcome in (Outcome.REJECTED, Outcome.IGNORED):
        log.info("Mail from %s %s: %s", parsed.sender, outcome, reason)
    return Result(outcome, ticket, entry, reason)


def _is_duplicate(parsed: ParsedMessage) -> bool:
    if ReceivedMail.objects.filter(fingerprint=parsed.fingerprint).exists():
        return True
    return bool(
        parsed.message_id and ThreadEntry.objects.filter(message_id=parsed.message_id).exists()
    )


def _ingest(parsed: ParsedMessage, mailbox: Mailbox | None) -> Result:
    if _is_duplicate(parsed):
        return Result("duplicate", reason="Already received")
    if not parsed.sender:
        raise ValidationError({"from": "The message has no readable sender address."})
    own = loops.own_addresses()
    if parsed.sender in own:
        return _record(parsed, mailbox, Outcome.IGNORED, "Sent from one of our own addresses")
    reason = loops.ban_reason(parsed.sender)
    if reason:
        return _record(parsed, mailbox, Outcome.REJECTED, reason)
    if parsed.is_bounce:
        return _bounce(parsed, mailbox)

    sender = find_by_email(parsed.sender)
    if sender is not None and not sender.is_active:
        return _record(parsed, mailbox, Outcome.REJECTED, f"{parsed.sender} is deactivated")
    thread = find_thread(parsed.thread_ids, parsed.subject, sender)
    ticket = thread.ticket
    if ticket is not None and _too_old(ticket):
        ticket = None  # A closed ticket long gone: the answer is a new request.
    body, body_html = extract(parsed.text, parsed.raw_html)
    attachments, dropped = _attachments(parsed)
    if dropped:
        body = body.rstrip() + "\n\n" + "\n".join(dropped)
    try:
        # A savepoint: a request a routing rule rejects leaves no new user behind.
        with transaction.atomic():
            if sender is None:
                sender, _ = get_or_create_requester(parsed.sender, parsed.sender_name)
            if ticket is None:
                return _open(parsed, mailbox, sender, body, body_html, attachments, own)
            how = thread.threaded_by
            return _append(parsed, mailbox, ticket, how, sender, body, body_html, attachments)
    except hooks.TicketRejected as rejected:
        rule = f" (rule “{rejected.rule}”)" if rejected.rule else ""
        return _record(parsed, mailbox, Outcome.REJECTED, f"{rejected.reason}{rule}")


def _too_old(ticket: Ticket) -> bool:
    days = int(getattr(settings, "HELPLINE_MAIL_REOPEN_CLOSED_DAYS", 30))
    return (
        ticket.state == State.CLOSED
        and ticket.closed_at is not None
        and ticket.closed_at < timezone.now() - timedelta(days=days)
    )


def _attachments(parsed: ParsedMessage) -> tuple[list[actions.NewAttachment], list[str]]:
    """The attachments within the upload limits, and a note for each one left out."""
    limit = settings.HELPLINE_MAX_ATTACHMENT_BYTES
    keep, dropped = [], []
    for a in parsed.attachments:
        if len(a.content) > limit:
            dropped.append(f"[Attachment “{a.filename}” not stored: larger than the limit]")
        elif len(keep) >= settings.HELPLINE_MAX_ATTACHMENTS:
            dropped.append(f"[Attachment “{a.filename}” not stored: too many attachments]")
        else:
            keep.append(actions.NewAttachment(a.filename, a.content, a.content_type, a.content_id))
    return keep, dropped


def _collaborators(parsed: ParsedMessage, sender, own: set[str]) -> list:
    """People in Cc (and other To addresses) who join the ticket, if the setting allows."""
    if not getattr(settings, "HELPLINE_MAIL_CC_COLLABORATORS", True):
        return []
    addresses = [a for _, a in [*parsed.to, *parsed.cc] if a not in own and a != parsed.sender]
    addresses = list(dict.fromkeys(addresses))[:20]
    banned = loops.banned_among(addresses)
    names = dict((a, n) for n, a in [*parsed.to, *parsed.cc])
    people = []
    for address in addresses:
        if address in banned:
            continue
        try:
            user, _ = get_or_create_requester(address, names.get(address, ""))
        except ValidationError:
            continue
        if user.is_active and user.pk != sender.pk and not access.is_agent(user):
            people.append(user)
    return people


@cache
def _accepts(function, parameter: str) -> bool:
    return parameter in inspect.signature(function).parameters


def _full_text(function, parsed: ParsedMessage, body: str) -> dict:
    """Pass the whole message along once the action can store it (ThreadEntry.full_text)."""
    if _accepts(function, "full_text") and body.strip() != parsed.text.strip():
        return {"full_text": parsed.text}
    return {}


def _open(parsed, mailbox, sender, body, body_html, attachments, own) -> Result:
    automated = parsed.automated_reason()
    if not body.strip() and not body_html and not attachments:
        body = "(empty message)"
    topic = mailbox.help_topic if mailbox and mailbox.help_topic_id else None
    if topic is not None and not topic.active:
        topic = None
    recipient = mailbox.address if mailbox else (parsed.to[0][1] if parsed.to else "")
    # Routing rules match on headers and the address written to (when the action takes them).
    extra = {"headers": parsed.all_headers, "recipient": recipient}
    extra = {k: v for k, v in extra.items() if _accepts(actions.open_ticket, k)}
    ticket = actions.open_ticket(
        sender,
        requester=sender,
        subject=strip_subject_tag(parsed.subject)[:250] or "(no subject)",
        body=body,
        body_html=body_html,
        source=Source.EMAIL,
        help_topic=topic,
        department=mailbox.department if mailbox else None,
        attachments=attachments,
        collaborators=_collaborators(parsed, sender, own),
        message_id=parsed.message_id,
        autorespond=not automated,
        **extra,
        **_full_text(actions.open_ticket, parsed, body),
    )
    entry = ticket.entries.order_by("id").first()
    reason = f"No acknowledgement: {automated}" if automated else ""
    return _record(parsed, mailbox, Outcome.NEW_TICKET, reason, ticket, entry)


def _append(parsed, mailbox, ticket, threaded_by, sender, body, body_html, attachments) -> Result:
    if not body.strip() and not body_html and not attachments:
        return _record(parsed, mailbox, Outcome.IGNORED, "Nothing new in the message", ticket)
    participant = access.can(sender, "message", ticket)
    if not participant and access.is_agent(sender):
        # An agent answering a notification: kept as an internal note (sending replies to the
        # requester by email is a separate feature), so nothing leaks to the requester.
        entry = actions.add_note(
            sender, ticket, body, body_html=body_html, attachments=attachments, source="email"
        )
        return _record(parsed, mailbox, Outcome.NOTE, "", ticket, entry)
    if not participant:
        if threaded_by not in (BY_HEADER, BY_TOKEN):
            raise ValidationError({"from": f"{parsed.sender} does not take part in the ticket."})
        # They answer mail of this ticket (a colleague in Cc, a forwarded notification).
        actions.add_collaborator(None, ticket, sender)
    for person in _collaborators(parsed, sender, loops.own_addresses()):
        if person.pk != ticket.requester_id and not access.can(person, "message", ticket):
            actions.add_collaborator(None, ticket, person)
    entry = actions.add_message(
        sender,
        ticket,
        body,
        body_html=body_html,
        attachments=attachments,
        source=Source.EMAIL,
        message_id=parsed.message_id,
        threaded_by=threaded_by,
        **_full_text(actions.add_message, parsed, body),
    )
    return _record(parsed, mailbox, Outcome.MESSAGE, "", ticket, entry)


def _bounce(parsed: ParsedMessage, mailbox: Mailbox | None) -> Result:
    """A delivery-status notification: an event on the ticket it concerns, never a ticket."""
    bounce = parsed.bounce
    thread = find_thread(parsed.thread_ids, parsed.subject, None)
    if thread.ticket is None:
        return _record(parsed, mailbox, Outcome.BOUNCE, f"No ticket found. {bounce.reason}")
    record_bounce = getattr(actions, "record_bounce", None)
    if record_bounce is None:
        log.warning("Bounce on #%s not recorded: %s", thread.ticket.number, bounce.reason)
    else:
        record_bounce(thread.ticket, bounce.reason, bounce.original_message_id)
    return _record(parsed, mailbox, Outcome.BOUNCE, bounce.reason, thread.ticket)
