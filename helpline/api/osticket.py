"""osTicket-compatible intake: POST /api/tickets.json, /api/tickets.xml, /api/tickets.email.

A drop-in for existing osTicket integrations: the key goes in `X-API-Key`, answers are plain text
as osTicket gives them: 201 with the new ticket number, 400 with a message for bad input, 401 for
a bad key, 403 when the key may not use the intake or the ticket is refused.

Like osTicket's API keys these act as the system, opening tickets for whoever `email` names, so
only keys of agents or administrators with the scope tickets:intake may use them (a requester's
key could otherwise open tickets in anyone's name). `.email` goes through the mail trust model
like any mailbox: the key does not vouch for the message's From:.
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from ninja.errors import HttpError

from helpline.accounts.people import get_or_create_requester
from helpline.api.auth import Caller, RateLimited, key_caller
from helpline.api.errors import field_errors
from helpline.api.intake_formats import BadPayload, IntakeRequest, parse_json, parse_xml
from helpline.api.models import Scope
from helpline.mail.ingest import ingest
from helpline.mail.models import Outcome
from helpline.tickets import access, actions
from helpline.tickets.models import HelpTopic, Priority, Source

log = logging.getLogger(__name__)

SOURCES = {"api": Source.API, "email": Source.EMAIL, "phone": Source.PHONE, "web": Source.WEB}
SOURCES |= {"other": Source.OTHER, "walk-in": Source.WALK_IN}


def _plain(status: int, text: str) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


class Refused(Exception):
    """Answer with this status and plain message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _caller(request: HttpRequest) -> Caller:
    presented = request.headers.get("X-API-Key", "")
    if not presented.strip():
        raise Refused(401, "API key not authorized: send it in the X-API-Key header.")
    try:
        caller = key_caller(request, presented)
    except RateLimited:
        raise
    except HttpError as exc:
        raise Refused(exc.status_code, f"API key not authorized: {exc.message}")
    if not access.is_agent(caller.user):
        raise Refused(
            403,
            "API key not authorized: the osTicket-compatible intake takes keys of agents and "
            "administrators only.",
        )
    if Scope.TICKETS_INTAKE not in caller.scopes:
        raise Refused(403, "API key not authorized: it lacks the scope tickets:intake.")
    return caller


def _validation_message(exc: ValidationError) -> str:
    lines = [f"{field}: {'; '.join(msgs)}" for field, msgs in field_errors(exc).items()]
    return "Unable to create ticket: validation errors:\n" + "\n".join(lines)


def _check_fields(data: IntakeRequest) -> None:
    missing = [f for f in ("email", "name", "subject", "message") if not getattr(data, f)]
    if missing:
        raise ValidationError({f: "Required." for f in missing})
    if data.source.lower() not in SOURCES:
        raise ValidationError({"source": f"Unknown source “{data.source[:40]}”."})
    limit = settings.HELPLINE_MAX_ATTACHMENT_BYTES
    for item in data.attachments:
        if len(item.content) > limit:
            raise Refused(413, f"Attachment “{item.filename[:80]}” is larger than {limit} bytes.")


def open_from_intake(actor, data: IntakeRequest):
    """Open the ticket an osTicket-style request describes; raise ValidationError on bad input."""
    _check_fields(data)
    topic = priority = None
    if data.topic_id is not None:
        topic = HelpTopic.objects.filter(pk=data.topic_id, active=True).first()
        if topic is None:
            raise ValidationError({"topicId": f"No active help topic {data.topic_id}."})
    if data.priority_id is not None:
        priority = Priority.objects.filter(pk=data.priority_id).first()
        if priority is None:
            raise ValidationError({"priorityId": f"No priority {data.priority_id}."})
    with transaction.atomic():
        requester, _ = get_or_create_requester(data.email, data.name)
        return actions.open_ticket(
            actor,
            requester=requester,
            subject=data.subject,
            body="" if data.message_is_html else data.message,
            body_html=data.message if data.message_is_html else "",
            source=SOURCES[data.source.lower()],
            help_topic=topic,
            priority=priority,
            attachments=[
                actions.NewAttachment(a.filename, a.content, a.content_type)
                for a in data.attachments
            ],
            alert=data.alert,
            autorespond=data.autorespond,
        )


def _intake(request: HttpRequest, parse) -> HttpResponse:
    if request.method != "POST":
        response = _plain(405, "Use POST to create a ticket.")
        response["Allow"] = "POST"
        return response
    try:
        caller = _caller(request)
        try:
            body = request.body
        except RequestDataTooBig:
            raise Refused(413, "The request body is too large.")
        try:
            data = parse(body)
        except BadPayload as exc:
            raise Refused(400, str(exc))
        ticket = open_from_intake(caller.user, data)
    except Refused as exc:
        return _plain(exc.status, exc.message)
    except RateLimited as exc:
        response = _plain(429, exc.message)
        response["Retry-After"] = str(exc.retry_after)
        return response
    except ValidationError as exc:
        return _plain(400, _validation_message(exc))
    except access.AccessDenied as exc:
        return _plain(403, f"Ticket denied: {exc.message}")
    return _plain(201, ticket.number)


@csrf_exempt
def tickets_json(request: HttpRequest) -> HttpResponse:
    """POST /api/tickets.json (osTicket's JSON format)."""
    return _intake(request, parse_json)


@csrf_exempt
def tickets_xml(request: HttpRequest) -> HttpResponse:
    """POST /api/tickets.xml (osTicket's XML format)."""
    return _intake(request, parse_xml)


@csrf_exempt
def tickets_email(request: HttpRequest) -> HttpResponse:
    """POST /api/tickets.email: a raw RFC 822 message, taken in by the email channel.

    As if it had arrived in a mailbox with no trusted Authentication-Results host: threading and
    the trust model decide (README "Mail you can trust"). 201 with the ticket's number when the
    message opened or joined one, 202 when it waits in the review list, 200 if it was already
    taken in.
    """
    if request.method != "POST":
        response = _plain(405, "Use POST to create a ticket.")
        response["Allow"] = "POST"
        return response
    try:
        _caller(request)
        body = request.body
    except Refused as exc:
        return _plain(exc.status, exc.message)
    except RateLimited as exc:
        response = _plain(429, exc.message)
        response["Retry-After"] = str(exc.retry_after)
        return response
    except RequestDataTooBig:
        return _plain(413, "The request body is too large.")
    if not body.strip():
        return _plain(400, "The request body must be a raw RFC 822 email message.")

    result = ingest(body)
    if result.outcome == Outcome.HELD:
        return _plain(202, f"The message waits for review by an agent: {result.reason}")
    if result.ticket is not None and result.outcome != Outcome.IGNORED:
        return _plain(201, result.ticket.number)
    if result.outcome == "duplicate":
        return _plain(200, "This message was already received.")
    reason = result.reason or result.outcome
    return _plain(400, f"The message was not turned into a ticket: {reason}")
