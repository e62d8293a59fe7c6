"""The review list: held mail that an agent accepts onto its ticket or rejects.

Accepting vouches for the message, so it needs the reply permission on the ticket, and it never
puts unverified words in an agent's name: an agent's held answer becomes that agent's reply only
when the agent confirms it personally; anyone else accepting it makes it their own internal note
that quotes the mail. A stranger's message is added after the stranger joins as a collaborator
(which needs the edit permission, as adding a collaborator always does).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from helpline.accounts.models import Permission, User
from helpline.accounts.people import find_by_email, get_or_create_requester
from helpline.mail.models import Folder, HeldMail, Outcome, ReceivedMail, Review
from helpline.mail.parse import parse_message
from helpline.mail.quotes import extract
from helpline.mail.trust import SenderKind, sender_kind
from helpline.tickets import access, actions
from helpline.tickets.models import Source, ThreadEntry, Verification


def pending_for(user: User) -> QuerySet:
    """Held mail waiting for review on tickets this user can see (reply is checked per row)."""
    visible = access.visible_tickets(user).values("pk")
    return (
        HeldMail.objects.filter(review=Review.PENDING, folder=Folder.REVIEW, ticket__in=visible)
        .select_related("ticket", "ticket__department")
        .defer("raw")
        .order_by("-received_at", "-id")
    )


def spam_for(user: User) -> QuerySet:
    """The spam folder: mail the site's mail server marked as spam, to the mailboxes of the
    departments this user works in (every mailbox for administrators; mail that came in
    through no departmental mailbox is for administrators only)."""
    spam = HeldMail.objects.filter(review=Review.PENDING, folder=Folder.SPAM)
    if not access.is_admin(user):
        profile = access.agent_profile(user)
        departments = list(profile.department_roles()) if profile else []
        spam = spam.filter(mailbox__department__in=departments)
    return spam.select_related("mailbox").defer("raw").order_by("-received_at", "-id")


def may_review(user: User, held: HeldMail) -> bool:
    if held.folder == Folder.SPAM:
        return spam_for(user).filter(pk=held.pk).exists()
    return held.ticket is not None and access.can(user, Permission.REPLY, held.ticket)


def _load(user: User, held_id: int) -> HeldMail:
    held = HeldMail.objects.select_for_update().filter(pk=held_id).first()
    if held is not None and held.folder == Folder.SPAM:
        if not spam_for(user).filter(pk=held.pk).exists():
            raise access.TicketNotFound("No such held mail.")
    elif held is None or held.ticket is None:
        raise access.TicketNotFound("No such held mail.")
    else:
        access.check(user, Permission.REPLY, held.ticket)
    if held.review != Review.PENDING:
        raise ValidationError(f"This mail was already {held.get_review_display().lower()}.")
    return held


def _finish(held: HeldMail, user: User, review: str, entry: ThreadEntry | None = None) -> None:
    held.review = review
    held.decided_by = user
    held.decided_at = timezone.now()
    held.entry = entry
    held.save(update_fields=["review", "decided_by", "decided_at", "entry"])


def reject(user: User, held_id: int) -> HeldMail:
    """Drop a held message from the list (it stays on record, marked rejected)."""
    with transaction.atomic():
        held = _load(user, held_id)
        _finish(held, user, Review.REJECTED)
    return held


def not_spam(user: User, held_id: int):
    """The mail server was wrong: take the message in as if it had not been marked (it then
    meets the trust model like any other mail). Returns intake's result."""
    from helpline.mail.ingest import ingest

    with transaction.atomic():
        held = _load(user, held_id)
        if held.folder != Folder.SPAM:
            raise ValidationError("This mail is not in the spam folder.")
        raw = bytes(held.raw)
        fingerprint = parse_message(raw).fingerprint
        ReceivedMail.objects.filter(fingerprint=fingerprint, outcome=Outcome.SPAM).delete()
        result = ingest(raw, held.mailbox, not_spam=True)
        _finish(held, user, Review.ACCEPTED, result.entry)
    return result


def accept(user: User, held_id: int) -> ThreadEntry:
    """Put a held message on its ticket, vouched for by `user` (see module doc)."""
    with transaction.atomic():
        held = _load(user, held_id)
        if held.folder == Folder.SPAM:
            raise ValidationError("Spam is taken in with “Not spam”.")
        parsed = parse_message(bytes(held.raw))
        body, body_html = extract(parsed.text, parsed.raw_html, parsed.subject)
        attachments = [
            actions.NewAttachment(a.filename, a.content, a.content_type, a.content_id)
            for a in parsed.attachments
        ]
        entry = _accept(user, held, body, body_html, attachments, parsed.message_id)
        _finish(held, user, Review.ACCEPTED, entry)
    return entry


def _accept(user, held, body, body_html, attachments, message_id) -> ThreadEntry:
    ticket = held.ticket
    sender = find_by_email(held.sender)
    kind = sender_kind(sender, ticket)
    common = {"body_html": body_html, "attachments": attachments, "source": Source.EMAIL}
    if kind == SenderKind.AGENT and sender.pk == user.pk:
        write = actions.add_note if held.intent == "note" else actions.reply
        return write(user, ticket, body, message_id=message_id, **common,
                     verification=Verification.ACCEPTED)  # fmt: skip
    if kind in (SenderKind.AGENT, SenderKind.OUTSIDE_AGENT):
        quoted = f"Email from {held.sender} (unverified sender), accepted by {user}:\n\n{body}"
        return actions.add_note(user, ticket, quoted, **{**common, "body_html": ""},
                                verification=Verification.ACCEPTED)  # fmt: skip
    if kind == SenderKind.STRANGER:
        if sender is None:
            sender, _ = get_or_create_requester(held.sender)
        actions.add_collaborator(user, ticket, sender)
    return actions.add_message(
        sender,
        ticket,
        body or ("(empty message)" if not body_html and not attachments else ""),
        message_id=message_id,
        threaded_by=held.threaded_by,
        verification=Verification.ACCEPTED,
        **common,
    )
