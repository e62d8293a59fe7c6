"""Canned responses rendered for one ticket, safely.

The body is a Django template rendered by a private engine (no loaders, no tag libraries) over a
context of plain strings, the way email templates are: an author can place the ticket number or
the requester's name but cannot reach the database, other files or settings. Only a short list of
harmless tags is allowed; `{% debug %}`, `{% load %}`, `{% include %}` and the like are refused.
"""

import re

from django.conf import settings
from django.db.models import Q, QuerySet
from django.template import Context, Engine

from helpline.accounts.models import User
from helpline.automation.models import CannedResponse
from helpline.tickets import access
from helpline.tickets.models import Ticket

ALLOWED_TAGS = {
    "if", "elif", "else", "endif", "for", "empty", "endfor", "with", "endwith", "firstof",
    "comment", "endcomment", "spaceless", "endspaceless", "now", "filter", "endfilter",
}  # fmt: skip
_TAG = re.compile(r"{%-?\s*(\w+)")
_engine = Engine(autoescape=False, libraries={}, loaders=[])

SAMPLE = {
    "ticket": {"number": "123456", "subject": "Sample subject", "status": "Open",
               "priority": "normal", "department": "Support", "help_topic": "",
               "url": "", "due_at": ""},
    "requester": {"name": "Sample Requester", "first_name": "Sample", "email": "r@example.com"},
    "agent": {"name": "Sample Agent", "first_name": "Sample", "email": "a@example.com",
              "signature": ""},
    "department": {"name": "Support", "signature": ""},
    "helpdesk": "Helpline",
}  # fmt: skip


class TemplateProblem(Exception):
    """The body does not compile, uses a refused tag, or fails to render."""


def check_body(body: str) -> None:
    """Raise TemplateProblem if `body` could not be rendered for a ticket."""
    for tag in _TAG.findall(body or ""):
        if tag not in ALLOWED_TAGS:
            raise TemplateProblem(f"The tag {{% {tag} %}} is not allowed in canned responses.")
    try:
        _render(body, SAMPLE)
    except Exception as exc:  # noqa: BLE001 - syntax errors, unknown filters
        raise TemplateProblem(f"Template error: {exc}")


def _render(body: str, context: dict) -> str:
    return _engine.from_string(body or "").render(Context(context, autoescape=False))


def _first(user: User | None) -> str:
    if user is None:
        return ""
    return user.first_name or user.display_name.split(" ")[0]


def context_for(ticket: Ticket, agent: User | None) -> dict:
    """Plain strings about the ticket, its requester and the answering agent."""
    profile = access.agent_profile(agent) if agent is not None else None
    site = settings.SITE_URL
    return {
        "ticket": {
            "number": ticket.number,
            "subject": ticket.subject,
            "status": str(ticket.status),
            "priority": str(ticket.priority),
            "department": str(ticket.department),
            "help_topic": str(ticket.help_topic or ""),
            "url": f"{site}/tickets/{ticket.number}/",
            "due_at": ticket.due_at.isoformat(timespec="minutes") if ticket.due_at else "",
        },
        "requester": {
            "name": ticket.requester.display_name,
            "first_name": _first(ticket.requester),
            "email": ticket.requester.email,
        },
        "agent": {
            "name": agent.display_name if agent else "",
            "first_name": _first(agent),
            "email": agent.email if agent else "",
            "signature": profile.signature if profile else "",
        },
        "department": {"name": ticket.department.name, "signature": ticket.department.signature},
        "helpdesk": settings.HELPLINE_HELPDESK_NAME,
    }


def render_for(response: CannedResponse, ticket: Ticket, agent: User | None) -> str:
    """The response's text for this ticket; a template broken after saving renders as written."""
    try:
        check_body(response.body)
        return _render(response.body, context_for(ticket, agent)).strip()
    except TemplateProblem:
        return response.body.strip()


def available_for(ticket: Ticket) -> QuerySet:
    """Active responses for the ticket's department, and the global ones."""
    return CannedResponse.objects.filter(active=True).filter(
        Q(department__isnull=True) | Q(department=ticket.department_id)
    )


def search(ticket: Ticket, query: str, limit: int = 15) -> list[CannedResponse]:
    """Responses for the ticket whose title (or body) contains `query`; titles first."""
    query = (query or "").replace("\x00", "").strip()[:100]
    responses = available_for(ticket)
    if query:
        responses = responses.filter(Q(title__icontains=query) | Q(body__icontains=query))
    return list(
        responses.select_related("department")
        .prefetch_related("attachments")
        .order_by("title")[:limit]
    )
