"""The thread: an agent's reply, an internal note, a message from the requester's side."""

from collections.abc import Sequence
from datetime import datetime

from helpline.accounts.models import Permission, User
from helpline.tickets import notify
from helpline.tickets.access import Access
from helpline.tickets.actions._core import (
    NewAttachment,
    _add_entry,
    _Change,
    _change_status,
    _check,
    _status_permission,
    _validate_message,
)
from helpline.tickets.models import (
    EntryKind,
    EventKind,
    NotificationKind,
    Source,
    State,
    Status,
    ThreadEntry,
    Ticket,
)


def reply(
    actor: User,
    ticket: Ticket,
    body: str,
    *,
    body_html: str = "",
    attachments: Sequence[NewAttachment] = (),
    status: Status | None = None,
    expected_version: int | None = None,
    source: str = Source.WEB,
    message_id: str = "",
    verification: str = "",
) -> ThreadEntry:
    """An agent's reply to the requester (and collaborators); optionally set a status with it."""
    change = _Change(actor, ticket, Permission.REPLY, expected_version)
    if status is not None and status.pk != ticket.status_id:
        # Before anything is written: a refused reply must leave no files behind.
        _check(actor, _status_permission(status), ticket)
    _validate_message(body, body_html, attachments)
    with change.locked() as c:
        t = c.ticket
        entry = _add_entry(
            t,
            EntryKind.REPLY,
            actor,
            body,
            body_html,
            attachments,
            source,
            message_id,
            c.at,
            verification=verification,
        )
        fields: list[str] = []
        if t.first_responded_at is None:
            t.first_responded_at = c.at
            fields.append("first_responded_at")
        c.record(EventKind.REPLIED, None, {"entry": entry.pk})
        if status is not None and status.pk != t.status_id:
            _check(actor, _status_permission(status), t)
            fields += _change_status(t, actor, status, c.at)
        c.save(fields)
        notify.queue(NotificationKind.REPLY, t, notify.requester_side(t), entry=entry, actor=actor)
    return entry


def add_note(
    actor: User,
    ticket: Ticket,
    body: str,
    *,
    body_html: str = "",
    attachments: Sequence[NewAttachment] = (),
    expected_version: int | None = None,
    source: str = Source.WEB,
    message_id: str = "",
    verification: str = "",
) -> ThreadEntry:
    """An internal note: agents only, never shown or sent to the requester."""
    change = _Change(actor, ticket, Permission.NOTE, expected_version)
    _validate_message(body, body_html, attachments)
    with change.locked() as c:
        entry = _add_entry(
            c.ticket,
            EntryKind.NOTE,
            actor,
            body,
            body_html,
            attachments,
            source,
            message_id,
            c.at,
            verification=verification,
        )
        c.record(EventKind.NOTE, None, {"entry": entry.pk})
        c.save()
    return entry


def add_message(
    actor: User,
    ticket: Ticket,
    body: str,
    *,
    body_html: str = "",
    attachments: Sequence[NewAttachment] = (),
    source: str = Source.WEB,
    message_id: str = "",
    threaded_by: str = "",
    full_text: str = "",
    verification: str = "",
) -> ThreadEntry:
    """A message from the requester or a collaborator (portal reply, email answer).

    A Pending ticket goes back to Open (the SLA clock runs again); a Resolved or Closed one is
    reopened and counted.
    """
    change = _Change(actor, ticket, Access.MESSAGE)
    _validate_message(body, body_html, attachments)
    with change.locked() as c:
        t = c.ticket
        entry = _add_entry(
            t,
            EntryKind.MESSAGE,
            actor,
            body,
            body_html,
            attachments,
            source,
            message_id,
            c.at,
            threaded_by,
            full_text,
            verification,
        )
        c.record(EventKind.MESSAGE, None, {"entry": entry.pk})
        c.save(_back_to_open(t, actor, c.at) if t.state != State.OPEN else [])
        notify.queue(
            NotificationKind.NEW_MESSAGE_ALERT,
            t,
            notify.working_agents(t),
            entry=entry,
            actor=actor,
        )
    return entry


def _back_to_open(t: Ticket, actor: User, at: datetime) -> list[str]:
    """The requester wrote: the ticket is theirs to be worked on again."""
    if t.state == State.PENDING:
        reason = "The requester answered"
    else:
        reason = "The requester wrote to a closed ticket"
    fields = _change_status(t, actor, Status.default_for(State.OPEN), at, reason)
    if t.reopened_count and t.state == State.OPEN and "reopened_count" in fields:
        notify.queue(NotificationKind.REOPENED, t, [t.requester])
    return fields
