"""Model objects → the plain dicts of schemas.py. Callers load the related rows beforehand
(select_related / prefetch_related) so that presenting a page costs no query per row."""

from django.conf import settings
from django.urls import reverse

from helpline.tickets import access
from helpline.tickets import fields as custom_fields
from helpline.tickets.models import EntryKind, Ticket

# The foreign keys a ticket's summary shows: one join each.
TICKET_RELATED = (
    "requester",
    "priority",
    "assignee",
    "team",
    "department",
    "status",
    "help_topic",
    "sla_plan",
)


def named(obj) -> dict | None:
    return None if obj is None else {"id": obj.pk, "name": str(obj)}


def person(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "name": user.display_name, "email": user.email}


def ticket_summary(ticket: Ticket) -> dict:
    return {
        "number": ticket.number,
        "subject": ticket.subject,
        "state": ticket.state,
        "status": named(ticket.status),
        "priority": named(ticket.priority),
        "department": named(ticket.department),
        "help_topic": named(ticket.help_topic),
        "sla_plan": named(ticket.sla_plan),
        "requester": person(ticket.requester),
        "assignee": person(ticket.assignee),
        "team": named(ticket.team),
        "source": ticket.source,
        "is_overdue": ticket.is_overdue,
        "due_at": ticket.due_at,
        "first_response_due_at": ticket.first_response_due_at,
        "first_responded_at": ticket.first_responded_at,
        "resolved_at": ticket.resolved_at,
        "closed_at": ticket.closed_at,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "version": ticket.version,
        "url": f"{settings.SITE_URL}/api/v1/tickets/{ticket.number}",
    }


def attachment(ticket_number: str, item) -> dict:
    return {
        "id": item.pk,
        "filename": item.filename,
        "content_type": item.content_type,
        "size": item.size,
        "url": reverse(
            "api-v1:ticket_attachment", kwargs={"number": ticket_number, "attachment_id": item.pk}
        ),
    }


def entry(ticket_number: str, item) -> dict:
    return {
        "id": item.pk,
        "kind": item.kind,
        "author": person(item.author),
        "author_name": item.author_name,
        "body_text": item.body_text,
        "body_html": item.body_html,
        "source": item.source,
        "created_at": item.created_at,
        "attachments": [attachment(ticket_number, a) for a in item.attachments.all()],
    }


def event(item) -> dict:
    return {
        "id": item.pk,
        "kind": item.kind,
        "actor": item.actor_name,
        "before": item.before,
        "after": item.after,
        "reason": item.reason,
        "created_at": item.created_at,
    }


def _field_values(ticket: Ticket, as_agent: bool) -> dict:
    """Custom field values: all of them for the ticket's agents, else those requesters see."""
    values = ticket.custom_fields or {}
    if as_agent or not values:
        return dict(values)
    seen = {f.name for f in custom_fields.definitions(ticket.help_topic, requester_side=True)}
    return {name: value for name, value in values.items() if name in seen}


def ticket_detail(user, ticket: Ticket) -> dict:
    """The ticket with its thread and history; internal notes and events only for its agents."""
    as_agent = access.can(user, access.Access.SEE_NOTES, ticket)
    entries = ticket.entries.select_related("author").prefetch_related("attachments")
    if not as_agent:
        entries = entries.exclude(kind=EntryKind.NOTE)
    data = ticket_summary(ticket)
    data["fields"] = _field_values(ticket, as_agent)
    data["merged_into"] = ticket.merged_into.number if ticket.merged_into_id else None
    data["collaborators"] = [
        person(c.user) for c in ticket.collaborators.select_related("user").order_by("id")
    ]
    data["thread"] = [entry(ticket.number, e) for e in entries]
    data["events"] = [event(e) for e in ticket.events.select_related("actor")] if as_agent else []
    return data
