"""/api/v1/tickets/{number}/…: working a ticket. Each endpoint is one call into tickets.actions,
which checks the caller's role, so a key can do exactly what its user can in the agent panel.

Writes take an optional `version`: when given and the ticket has changed since, nothing is
written and the answer is 409.
"""

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Query, Schema, Status

from helpline.accounts.models import Permission
from helpline.accounts.people import get_or_create_requester
from helpline.api import present, refs
from helpline.api.auth import require
from helpline.api.models import Scope
from helpline.api.schemas import (
    AssignIn,
    CollaboratorIn,
    EntryOut,
    Id,
    MergeIn,
    MessageIn,
    NoteIn,
    ReleaseIn,
    ReplyIn,
    StatusIn,
    Text,
    TicketOut,
    TicketPatch,
    TransferIn,
)
from helpline.api.tickets import ERRORS, Number, decode_attachments, router, ticket_number
from helpline.tickets import access, actions
from helpline.tickets.models import Source, Ticket

# The same router as tickets.py: PATCH /tickets/{number} must sit beside its GET.
TAGS = ["working tickets"]


class DeleteQuery(Schema):
    reason: Text = Field("", max_length=500, description="Written to the audit log.")


WRITE_ERRORS = {**ERRORS, 409: ERRORS[400]}


def _writable(request: HttpRequest, number: str):
    caller = require(request, Scope.TICKETS_WRITE)
    return caller.user, access.access_ticket(caller.user, ticket_number(number))


def _summary(ticket: Ticket) -> dict:
    # After a transfer the caller may no longer see the ticket, yet learns where it went.
    return present.ticket_summary(access.reload(ticket))


@router.post("/tickets/{number}/reply", response={201: EntryOut, **WRITE_ERRORS}, tags=TAGS)
def reply(request: HttpRequest, number: Number, payload: ReplyIn):
    """Reply to the requester (and collaborators), optionally setting a status with it."""
    user, ticket = _writable(request, number)
    entry = actions.reply(
        user,
        ticket,
        payload.body,
        body_html=payload.body_html,
        attachments=decode_attachments(payload.attachments),
        status=refs.status(payload.status),
        expected_version=payload.version,
        source=Source.API,
    )
    return Status(201, present.entry(ticket.number, entry))


@router.post("/tickets/{number}/notes", response={201: EntryOut, **WRITE_ERRORS}, tags=TAGS)
def add_note(request: HttpRequest, number: Number, payload: NoteIn):
    """An internal note: agents only, never shown or sent to the requester."""
    user, ticket = _writable(request, number)
    entry = actions.add_note(
        user,
        ticket,
        payload.body,
        body_html=payload.body_html,
        attachments=decode_attachments(payload.attachments),
        expected_version=payload.version,
        source=Source.API,
    )
    return Status(201, present.entry(ticket.number, entry))


@router.post("/tickets/{number}/messages", response={201: EntryOut, **WRITE_ERRORS}, tags=TAGS)
def add_message(request: HttpRequest, number: Number, payload: MessageIn):
    """A message as the requester or a collaborator (reopens a resolved ticket)."""
    user, ticket = _writable(request, number)
    entry = actions.add_message(
        user,
        ticket,
        payload.body,
        body_html=payload.body_html,
        attachments=decode_attachments(payload.attachments),
        source=Source.API,
    )
    return Status(201, present.entry(ticket.number, entry))


@router.post("/tickets/{number}/assign", response={200: TicketOut, **WRITE_ERRORS}, tags=TAGS)
def assign(request: HttpRequest, number: Number, payload: AssignIn):
    """Assign to an agent (id, username or email) and/or a team (id or name)."""
    user, ticket = _writable(request, number)
    actions.assign(
        user,
        ticket,
        agent=refs.user(payload.agent, "agent"),
        team=refs.team(payload.team),
        reason=payload.reason,
        expected_version=payload.version,
    )
    return _summary(ticket)


@router.post("/tickets/{number}/release", response={200: TicketOut, **WRITE_ERRORS}, tags=TAGS)
def release(request: HttpRequest, number: Number, payload: ReleaseIn):
    """Unassign the agent and/or the team."""
    user, ticket = _writable(request, number)
    actions.release(
        user, ticket, agent=payload.agent, team=payload.team, expected_version=payload.version
    )
    return _summary(ticket)


@router.post("/tickets/{number}/transfer", response={200: TicketOut, **WRITE_ERRORS}, tags=TAGS)
def transfer(request: HttpRequest, number: Number, payload: TransferIn):
    """Move the ticket to another department (the caller may lose sight of it)."""
    user, ticket = _writable(request, number)
    actions.transfer(
        user,
        ticket,
        refs.department(payload.department),
        reason=payload.reason,
        expected_version=payload.version,
    )
    return _summary(ticket)


@router.post("/tickets/{number}/status", response={200: TicketOut, **WRITE_ERRORS}, tags=TAGS)
def set_status(request: HttpRequest, number: Number, payload: StatusIn):
    """Change the status (resolving or closing needs the close permission)."""
    user, ticket = _writable(request, number)
    actions.set_status(
        user,
        ticket,
        refs.status(payload.status),
        reason=payload.reason,
        expected_version=payload.version,
    )
    return _summary(ticket)


@router.patch("/tickets/{number}", response={200: TicketOut, **WRITE_ERRORS}, tags=TAGS)
def update_ticket(request: HttpRequest, number: Number, payload: TicketPatch):
    """Change subject, priority, SLA plan, help topic, due time, custom fields and status at once.

    All or nothing: if one change is refused, none is made. `version` is checked once, first.
    A new help topic changes only the help topic (its defaults are not applied).
    """
    user, ticket = _writable(request, number)
    given = payload.model_fields_set - {"version"}
    routing = _routing_changes(payload, given)
    with transaction.atomic():
        # actions.route locks the row and checks the version, even with nothing to route; the
        # lock holds to the last change, so nobody slips in between.
        actions.route(user, ticket, routing, expected_version=payload.version)
        if "subject" in given and payload.subject is not None:
            actions.set_subject(user, ticket, payload.subject)
        if "fields" in given and payload.fields:
            actions.set_fields(user, ticket, payload.fields)
        if "status" in given and payload.status is not None:
            actions.set_status(user, ticket, refs.status(payload.status))
    return _summary(ticket)


def _routing_changes(payload: TicketPatch, given: set[str]) -> actions.RouteChanges:
    values: dict = {}
    if "priority" in given and payload.priority is not None:
        values["priority"] = refs.priority(payload.priority)
    if "sla_plan" in given:
        values["sla_plan"] = refs.sla_plan(payload.sla_plan)
    if "help_topic" in given:
        values["help_topic"] = refs.help_topic(payload.help_topic)
    if "due_at" in given:
        values["due_at"] = payload.due_at
    return actions.RouteChanges.of(**values)


@router.post(
    "/tickets/{number}/collaborators", response={200: TicketOut, **WRITE_ERRORS}, tags=TAGS
)
def add_collaborator(request: HttpRequest, number: Number, payload: CollaboratorIn):
    """CC someone (by email; a requester account is created if new)."""
    user, ticket = _writable(request, number)
    # Checked before creating anyone, so a refused call leaves no new user behind.
    access.check(user, Permission.EDIT, ticket)
    with transaction.atomic():
        person, _ = get_or_create_requester(payload.email, payload.name)
        actions.add_collaborator(user, ticket, person)
    return _summary(ticket)


@router.delete(
    "/tickets/{number}/collaborators/{user_id}", response={200: TicketOut, **WRITE_ERRORS}
)
def remove_collaborator(request: HttpRequest, number: Number, user_id: Id):
    """Stop CC'ing a user."""
    user, ticket = _writable(request, number)
    person = refs.user(user_id, "user_id")
    actions.remove_collaborator(user, ticket, person)
    return _summary(ticket)


@router.post("/tickets/{number}/merge", response={200: TicketOut, **WRITE_ERRORS}, tags=TAGS)
def merge(request: HttpRequest, number: Number, payload: MergeIn):
    """Merge this ticket into another: its thread moves there and it is closed."""
    user, ticket = _writable(request, number)
    # The permission on this ticket first: a role that may not merge learns nothing about
    # whether the other ticket exists.
    access.check(user, Permission.MERGE, ticket)
    into = access.access_ticket(user, ticket_number(payload.into))
    actions.merge(user, ticket, into)
    return _summary(into)


@router.delete("/tickets/{number}", response={204: None, **WRITE_ERRORS}, tags=TAGS)
def delete_ticket(request: HttpRequest, number: Number, query: Query[DeleteQuery]):
    """Delete the ticket for good (role permission "delete"); the audit log keeps a summary.
    `reason` (query parameter) is written there too."""
    user, ticket = _writable(request, number)
    actions.delete_ticket(user, ticket, reason=query.reason)
    return Status(204, None)
