"""/api/v1/tickets: list (filters, sort, keyset pages), read one, open one, download attachments.

Thin: parse → tickets.access / tickets.actions / tickets.queues → present. Every ticket passes
through `access.visible_tickets` or `access.check` for the calling user.
"""

import base64
import binascii
import re
from typing import Annotated, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from helpline.accounts.people import get_or_create_requester
from helpline.api import present, refs
from helpline.api.auth import require
from helpline.api.models import Scope
from helpline.api.schemas import (
    CURSOR_MAX_LENGTH,
    AttachmentIn,
    Day,
    ErrorOut,
    Id,
    Integer,
    QueryFlag,
    SourceName,
    Text,
    TicketDetailOut,
    TicketIn,
    TicketNumber,
    TicketPageOut,
    matching,
)
from helpline.replica import reading
from helpline.tickets import access, actions, queues
from helpline.tickets.access import Access
from helpline.tickets.models import Attachment, EntryKind, State

router = Router(tags=["tickets"])

ASSIGNEE_PATTERN = r"^(?:me|nobody|[1-9][0-9]{0,17})$(?!\n)"
# What queues.encode_cursor makes: Django's signing.dumps (base64url, "." and ":").
CURSOR_PATTERN = r"^[A-Za-z0-9_.:-]+$(?!\n)"
SORTS = tuple(k for key in queues.SORT_COLUMNS for k in (key, f"-{key}"))
Number = TicketNumber
ERRORS = {code: ErrorOut for code in (400, 401, 403, 404, 413, 422, 429)}


class TicketFilters(Schema):
    state: Literal[tuple(State.values)] | None = None  # type: ignore[valid-type]
    status: Id | None = None
    department: Id | None = None
    team: Id | None = None
    assignee: (
        Annotated[
            str,
            Field(json_schema_extra={"pattern": ASSIGNEE_PATTERN}),
            matching(ASSIGNEE_PATTERN, "Use an agent's id, `me` or `nobody`."),
        ]
        | None
    ) = Field(None, description="An agent's id, `me` or `nobody`.")
    priority: Id | None = None
    help_topic: Id | None = None
    source: SourceName | None = None
    overdue: QueryFlag | None = None
    requester: Annotated[Text, Field(min_length=1, max_length=254)] | None = Field(
        None, description="A user id or email."
    )
    created_from: Day | None = None
    created_to: Day | None = None
    updated_from: Day | None = None
    updated_to: Day | None = None
    q: Text | None = Field(None, max_length=200, description="Subject, number or email.")
    sort: Literal[SORTS] = "-updated"  # type: ignore[valid-type]
    # Checked by list_tickets (a 400 saying why): the schema says what a cursor looks like.
    cursor: str | None = Field(
        None,
        description="`next_cursor` from the previous page, as it was given.",
        json_schema_extra={"maxLength": CURSOR_MAX_LENGTH, "pattern": CURSOR_PATTERN},
    )
    limit: Integer = Field(25, ge=1, le=100)


def _clean_filters(f: TicketFilters) -> dict:
    clean = {
        key: getattr(f, key)
        for key in ("state", "status", "department", "team", "priority", "help_topic", "source")
        if getattr(f, key) is not None
    }
    for key in ("created_from", "created_to", "updated_from", "updated_to"):
        if getattr(f, key) is not None:
            clean[key] = getattr(f, key)
    if f.assignee:
        value = f.assignee
        clean["assignee"] = value if value in ("me", "nobody") else access.parse_id(value)
    if f.overdue is not None:
        clean["due"] = "overdue" if f.overdue else "not_overdue"
    if f.q:
        clean["text"] = f.q
    return clean


def _by_requester(qs, requester: str):
    value = requester.strip()
    pk = access.parse_id(value)
    if pk is not None:
        return qs.filter(requester_id=pk)
    return qs.filter(requester__email__iexact=value)


@router.get("/tickets", response={200: TicketPageOut, **ERRORS}, summary="List tickets")
def list_tickets(request: HttpRequest, filters: Query[TicketFilters]):
    """Tickets the caller may see, newest activity first by default, one keyset page at a time.

    Pages are stable under inserts: follow `next_cursor` until it is null.
    """
    caller = require(request, Scope.TICKETS_READ)
    qs = access.visible_tickets(caller.user).using(reading())  # the read replica, if any
    qs = qs.select_related("help_topic", "sla_plan")
    if filters.requester:
        qs = _by_requester(qs, filters.requester)
    qs = queues.apply_filters(qs, caller.user, _clean_filters(filters))
    _check_cursor(filters.cursor)
    try:
        page = queues.page(qs, filters.sort, after=filters.cursor, size=filters.limit)
    except (queues.InvalidCursor, queues.UnknownSort) as exc:
        raise HttpError(400, str(exc))
    return {
        "items": [present.ticket_summary(t) for t in page.tickets],
        "next_cursor": page.next_cursor,
    }


def _check_cursor(cursor: str | None) -> None:
    # Never from Helpline: every cursor it gives out is well below the maximum (about 1,700
    # characters for the longest subject), so the whole URL stays within gunicorn's request line.
    if cursor is None:
        return
    if len(cursor) > CURSOR_MAX_LENGTH:
        raise HttpError(
            400,
            f"That page link is too long ({len(cursor)} characters; a cursor has at most "
            f"{CURSOR_MAX_LENGTH}): pass `next_cursor` from the previous page as it was given.",
        )
    if not re.search(CURSOR_PATTERN, cursor):
        raise HttpError(
            400,
            "That page link is not valid: pass `next_cursor` from the previous page as it was "
            "given.",
        )


def ticket_number(number: str) -> str:
    """A ticket number as callers write it ("#123 ", "123") → as stored."""
    return number.strip().lstrip("#")[:32]


@router.get("/tickets/{number}", response={200: TicketDetailOut, **ERRORS}, summary="Get a ticket")
def get_ticket(request: HttpRequest, number: Number):
    """One ticket with its thread (internal notes only for its agents) and its history."""
    caller = require(request, Scope.TICKETS_READ)
    ticket = access.access_ticket(caller.user, ticket_number(number))
    return present.ticket_detail(caller.user, ticket)


def decode_attachments(items: list[AttachmentIn]) -> list[actions.NewAttachment]:
    """Base64 attachments → NewAttachments; 422 for bad base64, 413 for a file over the limit."""
    limit = settings.HELPLINE_MAX_ATTACHMENT_BYTES
    decoded = []
    for i, item in enumerate(items):
        try:
            content = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError):
            field = f"attachments.{i}.content_base64"
            raise ValidationError({field: "This is not valid base64."})
        if len(content) > limit:
            raise HttpError(413, f"“{item.filename[:80]}” is larger than {limit} bytes.")
        decoded.append(actions.NewAttachment(item.filename, content, item.content_type))
    return decoded


AGENT_ONLY_FIELDS = ("department", "priority", "sla_plan", "assignee", "team", "collaborators")


@router.post("/tickets", response={201: TicketDetailOut, **ERRORS}, summary="Open a ticket")
def create_ticket(request: HttpRequest, payload: TicketIn):
    """Open a ticket: agents for any requester (by email, created if new), requesters for
    themselves (they may choose a public help topic, nothing else)."""
    caller = require(request, Scope.TICKETS_WRITE)
    user = caller.user
    is_agent = access.is_agent(user)
    attachments = decode_attachments(payload.attachments)
    topic = refs.help_topic(payload.help_topic)
    if not is_agent:
        chosen = [f for f in AGENT_ONLY_FIELDS if getattr(payload, f)]
        if chosen:
            raise access.AccessDenied(f"Only agents can set {', '.join(chosen)}.")
        email = (payload.requester_email or "").strip()
        if email and email.lower() != (user.email or "").lower():
            raise access.AccessDenied("Requesters can only open tickets for themselves.")
        if topic is not None and not topic.public:
            raise refs.UnknownReference("help_topic", f"There is no help topic “{topic}”.")
    with transaction.atomic():
        requester = user
        if is_agent and payload.requester_email:
            requester, _ = get_or_create_requester(payload.requester_email, payload.requester_name)
        collaborators = [
            get_or_create_requester(email)[0] for email in dict.fromkeys(payload.collaborators)
        ]
        ticket = actions.open_ticket(
            user,
            requester=requester,
            subject=payload.subject,
            body=payload.body,
            body_html=payload.body_html,
            source=payload.source,
            help_topic=topic,
            department=refs.department(payload.department),
            priority=refs.priority(payload.priority),
            sla_plan=refs.sla_plan(payload.sla_plan),
            assignee=refs.user(payload.assignee, "assignee"),
            team=refs.team(payload.team),
            attachments=attachments,
            collaborators=collaborators,
            alert=payload.alert,
            autorespond=payload.autorespond,
            fields=payload.fields or {},
        )
    # Opened in a department they do not work, an agent still gets what they just wrote.
    return Status(201, present.ticket_detail(user, access.reload(ticket)))


@router.get(
    "/tickets/{number}/attachments/{attachment_id}",
    response={200: None, **ERRORS},
    url_name="ticket_attachment",
    summary="Download an attachment",
)
def download_attachment(request: HttpRequest, number: Number, attachment_id: Id):
    """The file, always as a download; files of internal notes only for the ticket's agents."""
    caller = require(request, Scope.TICKETS_READ)
    ticket = access.access_ticket(caller.user, ticket_number(number))
    item = (
        Attachment.objects.select_related("entry")
        .filter(pk=attachment_id, entry__ticket=ticket)
        .first()
    )
    if item is None or (
        item.entry.kind == EntryKind.NOTE and not access.can(caller.user, Access.SEE_NOTES, ticket)
    ):
        raise HttpError(404, "No such attachment.")
    try:
        handle = item.file.open("rb")
    except (OSError, ValueError):
        raise HttpError(404, "The file is missing from storage.")
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=item.filename,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
