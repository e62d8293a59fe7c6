"""Raw message → ticket, through tickets.actions like every other channel.

`ingest(raw, mailbox)` either commits everything the message causes (ticket or thread entry,
collaborators, the ReceivedMail row that makes intake idempotent) or nothing; a message it cannot
take in is stored raw as FailedMail. Either way the message is safe in the database when ingest
returns, so the caller may then mark, move or delete it on the mail server. Only if ingest raises
(the database is unreachable) must the caller leave the message where it is.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from helpline.accounts.people import find_by_email, get_or_create_requester
from helpline.mail import loops, trust
from helpline.mail.models import (
    FailedMail,
    Folder,
    HeldMail,
    Mailbox,
    Outcome,
    ReceivedMail,
    SenderKind,
)
from helpline.mail.parse import ParsedMessage, parse_message
from helpline.mail.quotes import extract
from helpline.mail.threading import find_thread, strip_subject_tag, verified_reply_token
from helpline.tickets import access, actions, files, hooks
from helpline.tickets.models import Source, State, ThreadEntry, Ticket
from helpline.tickets.text import html_to_text

log = logging.getLogger(__name__)


@dataclass
class Result:
    """What one message became. `outcome` is an Outcome value or "duplicate"/"failed"."""

    outcome: str
    ticket: Ticket | None = None
    entry: ThreadEntry | None = None
    reason: str = ""
    failed_mail: FailedMail | None = None


def ingest(raw: bytes, mailbox: Mailbox | None = None, *, not_spam: bool = False) -> Result:
    """Take one raw message in. Raises only when the database itself fails.

    `not_spam`: an agent said the mail server's spam verdict was wrong (the review list).
    """
    parsed = parse_message(raw)
    if not_spam:
        parsed.spam = ""
    try:
        with transaction.atomic():
            return _ingest(raw, parsed, mailbox)
    except files.StorageUnavailable:
        raise  # Like a database that is down: the message stays on the server, to try again.
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
    finally:
        files.remove_rolled_back()  # attachments of a rule-rejected or failed message


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
    if parsed.defects and outcome in (Outcome.NEW_TICKET, Outcome.MESSAGE) and not reason:
        reason = "Read despite: " + ", ".join(dict.fromkeys(parsed.defects))
    ReceivedMail.objects.create(
        fingerprint=parsed.fingerprint,
        content_digest=parsed.content_digest,
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


def _earlier(parsed: ParsedMessage) -> tuple[ReceivedMail | ThreadEntry | None, str]:
    """(the earlier delivery of this same message or None, a note when the Message-ID clashes).

    Same Message-ID and same content: a duplicate, stored once. A Message-ID that an earlier,
    *different* message used is not a duplicate (broken mailers reuse ids): that message is
    taken in, without the id (answers keep threading to the first), and the clash is noted.
    Rows recorded before contents were compared have no digest: a matching id is trusted there.
    """
    match = Q(fingerprint=parsed.fingerprint)
    if parsed.message_id:
        match |= Q(message_id=parsed.message_id)
    rows = list(ReceivedMail.objects.filter(match).order_by("id")[:20])
    same = ("", parsed.content_digest)
    for row in rows:
        if row.fingerprint == parsed.fingerprint or row.content_digest in same:
            return row, ""
    if rows:
        clash = (
            f"Message-ID {parsed.message_id[:120]} was already used by another message "
            f"(received mail {rows[0].pk}); stored as a separate message"
        )
        return None, clash
    if parsed.message_id:
        # Our own outgoing mail (its Message-ID is on the entry we sent) coming back.
        return ThreadEntry.objects.filter(message_id=parsed.message_id).first(), ""
    return None, ""


def _log_duplicate(parsed: ParsedMessage, earlier: ReceivedMail | ThreadEntry) -> Result:
    if isinstance(earlier, ReceivedMail):
        ReceivedMail.objects.filter(pk=earlier.pk).update(
            duplicates=F("duplicates") + 1, last_duplicate_at=timezone.now()
        )
        when = timezone.localtime(earlier.received_at).strftime("%Y-%m-%d %H:%M")
        reason = f"Already received on {when} (received mail {earlier.pk})"
    else:
        reason = f"Already on ticket {earlier.ticket_id}'s thread (entry {earlier.pk})"
    log.info("Duplicate mail %s from %s: %s", parsed.message_id, parsed.sender, reason)
    return Result("duplicate", reason=reason)


def _ingest(raw: bytes, parsed: ParsedMessage, mailbox: Mailbox | None) -> Result:
    earlier, clash = _earlier(parsed)
    if earlier is not None:
        return _log_duplicate(parsed, earlier)
    if not parsed.sender:
        raise ValidationError({"from": "The message has no readable sender address."})
    own = loops.own_addresses()
    if parsed.sender in own:
        return _record(parsed, mailbox, Outcome.IGNORED, "Sent from one of our own addresses")
    reason = loops.ban_reason(parsed.sender)
    if reason:
        return _record(parsed, mailbox, Outcome.REJECTED, reason)
    if parsed.spam:
        return _spam(raw, parsed, mailbox)
    if parsed.is_bounce:
        return _bounce(parsed, mailbox)

    sender = find_by_email(parsed.sender)
    if sender is not None and not sender.is_active:
        return _record(parsed, mailbox, Outcome.REJECTED, f"{parsed.sender} is deactivated")
    headers = trust.header_pairs(raw)
    token = verified_reply_token(parsed.thread_ids, trust.recipient_fields(headers), parsed.sender)
    thread = find_thread(parsed.thread_ids, parsed.subject, sender, token)
    ticket = thread.ticket
    if ticket is not None and _too_old(ticket):
        ticket = None  # A closed ticket long gone: the answer is a new request.
    mail = Incoming(raw, parsed, mailbox, trust.prove(raw, parsed.sender, headers, mailbox, token))
    mail.body, mail.body_html = extract(parsed.text, parsed.raw_html, parsed.subject)
    mail.attachments, dropped = _attachments(parsed)
    mail.clash = clash
    if dropped:
        mail.body = mail.body.rstrip() + "\n\n" + "\n".join(dropped)
    try:
        # A savepoint: a request a routing rule rejects leaves no new user behind.
        with transaction.atomic():
            if ticket is None:
                if sender is None:
                    sender, _ = get_or_create_requester(parsed.sender, parsed.sender_name)
                return _open(mail, sender, own)
            return _append(mail, ticket, thread.threaded_by, sender)
    except hooks.TicketRejected as rejected:
        rule = f" (rule “{rejected.rule}”)" if rejected.rule else ""
        return _record(parsed, mailbox, Outcome.REJECTED, f"{rejected.reason}{rule}")


IMAGES_ONLY = "(no text; see the attached images)"
EMPTY = "(empty message)"


@dataclass
class Incoming:
    """One message on its way in: as received, as parsed, its proof of sender, its new part."""

    raw: bytes
    parsed: ParsedMessage
    mailbox: Mailbox | None
    proof: trust.Proof
    body: str = ""
    body_html: str = ""
    attachments: list = field(default_factory=list)
    clash: str = ""  # another message already used this Message-ID

    @property
    def empty(self) -> bool:
        return not self.body.strip() and not self.body_html and not self.attachments

    @property
    def message_id(self) -> str:
        """The Message-ID the entry keeps: none when an earlier message already holds it."""
        return "" if self.clash else self.parsed.message_id

    def shown_body(self) -> tuple[str, str]:
        """(text, HTML) for the entry. Image-only or blank HTML mail gets a placeholder text
        (the images are attachments); blank HTML is dropped so the placeholder shows."""
        if self.body.strip() or html_to_text(self.body_html).strip():
            return self.body, self.body_html
        images = any(a.content_type.startswith("image/") for a in self.attachments)
        keep_html = self.body_html if images and "<img" in self.body_html else ""
        return (IMAGES_ONLY if images else EMPTY), keep_html

    def full_text(self) -> str:
        """The whole message, kept when the shown text is only its new part."""
        return self.parsed.text if self.body.strip() != self.parsed.text.strip() else ""


def _too_old(ticket: Ticket) -> bool:
    days = settings.HELPLINE_MAIL_REOPEN_CLOSED_DAYS
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


def cc_addresses(parsed: ParsedMessage, mailbox: Mailbox | None, own: set[str]) -> list[str]:
    """Addresses in To and Cc that may join as collaborators if the sender is verified: not
    ours, not the sender's, not banned, at most 20; none when the mailbox or setting says so."""
    if not settings.HELPLINE_MAIL_CC_COLLABORATORS:
        return []
    if mailbox is not None and not mailbox.cc_collaborators:
        return []
    addresses = [a for _, a in [*parsed.to, *parsed.cc] if a not in own and a != parsed.sender]
    addresses = list(dict.fromkeys(addresses))[:20]
    banned = loops.banned_among(addresses)
    return [a for a in addresses if a not in banned]


def _collaborators(mail: Incoming, sender, own: set[str]) -> list:
    """People in Cc (and other To addresses) who join the ticket: only from a verified sender."""
    if not mail.proof.verified:
        return []
    parsed = mail.parsed
    names = dict((a, n) for n, a in [*parsed.to, *parsed.cc])
    people = []
    for address in cc_addresses(parsed, mail.mailbox, own):
        try:
            user, _ = get_or_create_requester(address, names.get(address, ""))
        except ValidationError:
            continue
        if user.is_active and user.pk != sender.pk and not access.is_agent(user):
            people.append(user)
    return people


def _open(mail: Incoming, sender, own: set[str]) -> Result:
    parsed, mailbox = mail.parsed, mail.mailbox
    automated = parsed.automated_reason()
    topic = mailbox.help_topic if mailbox and mailbox.help_topic_id else None
    if topic is not None and not topic.active:
        topic = None
    body, body_html = mail.shown_body()
    ticket = actions.open_ticket(
        sender,
        requester=sender,
        subject=strip_subject_tag(parsed.subject)[:250] or "(no subject)",
        body=body,
        body_html=body_html,
        full_text=mail.full_text(),
        source=Source.EMAIL,
        help_topic=topic,
        department=mailbox.department if mailbox else None,
        attachments=mail.attachments,
        collaborators=_collaborators(mail, sender, own),
        message_id=mail.message_id,
        verification=mail.proof.verification,
        autorespond=not automated,
        # Routing rules match on headers and the address written to.
        headers=parsed.all_headers,
        recipient=mailbox.address if mailbox else (parsed.to[0][1] if parsed.to else ""),
    )
    entry = ticket.entries.order_by("id").first()
    no_ack = f"No acknowledgement: {automated}" if automated else ""
    reason = "; ".join(x for x in (no_ack, mail.clash) if x)
    return _record(parsed, mailbox, Outcome.NEW_TICKET, reason, ticket, entry)


def _append(mail: Incoming, ticket: Ticket, threaded_by: str, sender) -> Result:
    parsed, mailbox = mail.parsed, mail.mailbox
    if mail.empty:
        return _record(parsed, mailbox, Outcome.IGNORED, "Nothing new in the message", ticket)
    kind = trust.sender_kind(sender, ticket)
    decision = trust.decide(kind, mail.proof.verified, ticket.state)
    if decision.act == trust.Act.HOLD:
        return _hold(mail, ticket, threaded_by, kind, decision.reason)
    if decision.act == trust.Act.REPLY:
        return _agent_answer(mail, ticket, threaded_by, sender)
    if decision.add_cc:
        for person in _collaborators(mail, sender, loops.own_addresses()):
            if person.pk != ticket.requester_id and not access.can(
                person, access.Access.MESSAGE, ticket
            ):
                actions.add_collaborator(None, ticket, person)
    body, body_html = mail.shown_body()
    entry = actions.add_message(
        sender,
        ticket,
        body,
        body_html=body_html,
        attachments=mail.attachments,
        source=Source.EMAIL,
        message_id=mail.message_id,
        threaded_by=threaded_by,
        full_text=mail.full_text(),
        verification=mail.proof.verification,
    )
    return _record(parsed, mailbox, Outcome.MESSAGE, mail.clash, ticket, entry)


NOTE_COMMAND = re.compile(r"^\s*#note\b[ \t:]*\n?", re.I)


def note_command(body: str, body_html: str) -> tuple[bool, str, str]:
    """`#note` at the top of an agent's mail: (is a note, body and HTML without the command)."""
    text = body if (body or "").strip() else html_to_text(body_html)
    if not NOTE_COMMAND.match(text):
        return False, body, body_html
    html = re.sub(r"#note\b:?", "", body_html, count=1, flags=re.I) if body_html else ""
    return True, NOTE_COMMAND.sub("", body, count=1), html


def _agent_answer(mail: Incoming, ticket: Ticket, threaded_by: str, agent) -> Result:
    """A verified agent answering by email: a reply to the requester, or `#note` a note."""
    parsed, mailbox = mail.parsed, mail.mailbox
    automated = parsed.automated_reason()
    if automated:
        why = f"An automatic mail from an agent is not sent to the requester ({automated})."
        return _record(parsed, mailbox, Outcome.IGNORED, why, ticket)
    as_note, body, body_html = note_command(mail.body, mail.body_html)
    write = actions.add_note if as_note else actions.reply
    try:
        entry = write(
            agent,
            ticket,
            body,
            body_html=body_html,
            attachments=mail.attachments,
            source=Source.EMAIL,
            message_id=mail.message_id,
            verification=mail.proof.verification,
        )
    except access.AccessDenied as denied:
        intent = "note" if as_note else "reply"
        return _hold(mail, ticket, threaded_by, trust.SenderKind.AGENT, denied.message, intent)
    outcome = Outcome.NOTE if as_note else Outcome.REPLY
    return _record(parsed, mailbox, outcome, mail.proof.detail, ticket, entry)


def _hold(
    mail: Incoming, ticket: Ticket, threaded_by: str, kind: str, why: str, intent: str = ""
) -> Result:
    """Keep the message for an agent to accept or reject (the review list)."""
    parsed, mailbox = mail.parsed, mail.mailbox
    if not intent and kind == trust.SenderKind.AGENT:
        intent = "note" if note_command(mail.body, mail.body_html)[0] else "reply"
    HeldMail.objects.create(
        ticket=ticket,
        mailbox=mailbox,
        raw=mail.raw,
        sender=parsed.sender[:255],
        subject=parsed.subject[:255],
        preview=(mail.body or html_to_text(mail.body_html))[:5000],
        sender_kind=kind,
        verification=mail.proof.detail[:200],
        threaded_by=threaded_by,
        reason=why[:500],
        intent=intent,
    )
    return _record(parsed, mailbox, Outcome.HELD, why, ticket)


def _spam(raw: bytes, parsed: ParsedMessage, mailbox: Mailbox | None) -> Result:
    """Marked as spam by the site's mail server: into the spam folder, no ticket, no answer."""
    body, body_html = extract(parsed.text, parsed.raw_html, parsed.subject)
    why = f"Marked as spam by the mail server ({parsed.spam})"
    HeldMail.objects.create(
        mailbox=mailbox,
        raw=raw,
        sender=parsed.sender[:255],
        subject=parsed.subject[:255],
        preview=(body or html_to_text(body_html))[:5000],
        sender_kind=SenderKind.UNKNOWN,
        reason=why[:500],
        folder=Folder.SPAM,
    )
    return _record(parsed, mailbox, Outcome.SPAM, why)


def _bounce(parsed: ParsedMessage, mailbox: Mailbox | None) -> Result:
    """A delivery-status notification: an event on the ticket it concerns, never a ticket."""
    bounce = parsed.bounce
    thread = find_thread(parsed.thread_ids, parsed.subject, None)
    if thread.ticket is None:
        return _record(parsed, mailbox, Outcome.BOUNCE, f"No ticket found. {bounce.reason}")
    actions.record_bounce(thread.ticket, bounce.reason, bounce.original_message_id)
    return _record(parsed, mailbox, Outcome.BOUNCE, bounce.reason, thread.ticket)
