"""What a ticket is made of: subject, custom fields, collaborators; merging two tickets into one
and deleting one for good."""

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from helpline.accounts.models import Permission, User
from helpline.tickets import fields as custom_fields
from helpline.tickets import hooks
from helpline.tickets.actions._core import (
    SUBJECT_MAX,
    _Change,
    _change_status,
    _changing,
    _check,
    _event,
    _iso,
    _lock,
    _ref,
    _save,
    _sync,
    _validate_text,
)
from helpline.tickets.models import (
    Attachment,
    Collaborator,
    EventKind,
    State,
    Status,
    ThreadEntry,
    Ticket,
)


def set_subject(actor: User, ticket: Ticket, subject: str) -> Ticket:
    """Change the subject."""
    change = _Change(actor, ticket, Permission.EDIT)
    subject = _validate_text(subject, "subject", "The subject", SUBJECT_MAX)
    with change.locked() as c:
        t = c.ticket
        if subject != t.subject:
            c.record(EventKind.SUBJECT, t.subject, subject)
            t.subject = subject
            c.save(["subject"])
    return ticket


def set_fields(
    actor: User, ticket: Ticket, values: Mapping, *, expected_version: int | None = None
) -> Ticket:
    """Change custom field values of the ticket's help topic (None or "" clears one)."""
    change = _Change(actor, ticket, Permission.EDIT, expected_version)
    cleaned = custom_fields.clean_values(
        ticket.help_topic, values, requester_side=False, partial=True
    )
    with change.locked() as c:
        t = c.ticket
        current = dict(t.custom_fields or {})
        updated = {**current, **cleaned}
        updated = {name: value for name, value in updated.items() if value is not None}
        before, after = custom_fields.changed(current, updated, cleaned)
        if before or after:
            c.record(EventKind.FIELDS, before, after)
            t.custom_fields = updated
            c.save(["custom_fields"])
    return ticket


def add_collaborator(actor: User, ticket: Ticket, user: User) -> Ticket:
    """Copy `user` on the ticket's conversation (the requester is on it already)."""
    with _changing(actor, ticket, Permission.EDIT) as c:
        if user.pk != c.ticket.requester_id:
            _, created = Collaborator.objects.get_or_create(ticket=c.ticket, user=user)
            if created:
                c.record(EventKind.COLLABORATOR, None, {"added": _ref(user)})
                c.save()
    return ticket


def remove_collaborator(actor: User, ticket: Ticket, user: User) -> Ticket:
    """Stop copying `user` on the ticket's conversation."""
    with _changing(actor, ticket, Permission.EDIT) as c:
        deleted, _ = Collaborator.objects.filter(ticket=c.ticket, user=user).delete()
        if deleted:
            c.record(EventKind.COLLABORATOR, {"removed": _ref(user)}, None)
            c.save()
    return ticket


def delete_ticket(actor: User, ticket: Ticket, *, reason: str = "") -> dict:
    """Delete the ticket for good: thread, history, files (role permission "delete").

    A ticket cannot be restored, so what was deleted — number, subject, requester, department,
    counts — and by whom and why goes to the deletion listeners (the audit log) in the same
    transaction. Files leave storage only after the commit. Returns that summary.
    """
    _check(actor, Permission.DELETE, ticket)
    reason = (reason or "").strip()[:500]
    with transaction.atomic():
        t = _lock(ticket, None, actor, Permission.DELETE)
        files = list(Attachment.objects.filter(entry__ticket=t).values_list("file", flat=True))
        summary = {
            "id": t.pk,
            "number": t.number,
            "subject": t.subject,
            "requester": t.requester.email or t.requester.username,
            "department": t.department.name,
            "status": t.status.name,
            "created_at": _iso(t.created_at),
            "entries": t.entries.count(),
            "attachments": len(files),
        }
        hooks.ticket_deleted(summary, actor, reason)
        t.delete()
        transaction.on_commit(lambda: _remove_files(files), robust=True)
    return summary


def _remove_files(names: list[str]) -> None:
    storage = Attachment._meta.get_field("file").storage
    for name in names:
        storage.delete(name)


def merge(actor: User, ticket: Ticket, into: Ticket) -> Ticket:
    """Merge `ticket` into `into`: its thread moves over, it is closed and points to `into`."""
    if ticket.pk == into.pk:
        raise ValidationError({"into": "A ticket cannot be merged into itself."})
    _check(actor, Permission.MERGE, ticket)
    _check(actor, Permission.MERGE, into)
    with transaction.atomic():
        # Lock in id order so two opposite merges cannot deadlock.
        first, second = sorted([ticket, into], key=lambda x: x.pk)
        locked = {
            first.pk: _lock(first, None, actor, Permission.MERGE),
            second.pk: _lock(second, None, actor, Permission.MERGE),
        }
        at = timezone.now()
        src, dst = locked[ticket.pk], locked[into.pk]
        if src.merged_into_id:
            raise ValidationError({"into": f"#{src.number} is already merged."})
        if dst.merged_into_id:
            raise ValidationError(
                {"into": f"#{dst.number} is itself merged; merge into the ticket it went to."}
            )
        _move_thread(src, dst)
        src.merged_into = dst
        fields = ["merged_into"]
        closed = Status.default_for(State.CLOSED)
        fields += _change_status(
            src, actor, closed, at, f"Merged into #{dst.number}", announce=False
        )
        _event(src, EventKind.MERGED, actor, None, {"into": dst.number}, "", at)
        _event(dst, EventKind.MERGED, actor, None, {"from": src.number}, "", at)
        _save(src, fields, at)
        _save(dst, [], at)
    _sync(ticket, src)
    _sync(into, dst)
    return into


def _move_thread(src: Ticket, dst: Ticket) -> None:
    """The thread moves over; the people on `src` (its requester too) are copied on `dst`."""
    ThreadEntry.objects.filter(ticket=src).update(ticket=dst)
    people = {
        src.requester_id,
        *Collaborator.objects.filter(ticket=src).values_list("user_id", flat=True),
    }
    for user_id in people - {dst.requester_id}:
        Collaborator.objects.get_or_create(ticket=dst, user_id=user_id)
