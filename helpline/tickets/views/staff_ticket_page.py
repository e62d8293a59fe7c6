"""The ticket page of the agent panel: header, thread with history, compose box, actions panel.

Built in a fixed number of queries whatever the length of the thread: entries come with their
authors and attachments, events with their actors, in one query each.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import SafeString

from helpline.tickets import access
from helpline.tickets import fields as custom_fields
from helpline.tickets.forms_staff_ticket import (
    CollaboratorForm,
    DeleteForm,
    DueForm,
    FieldsForm,
    MergeForm,
    NoteForm,
    ReplyForm,
    RouteForm,
    StatusForm,
    attachments_help,
    status_choices,
)
from helpline.tickets.models import EntryKind, State, ThreadEntry, Ticket
from helpline.tickets.views.staff_ticket_history import (
    SHOWN_AS_ENTRIES,
    describe,
    relative,
    stamp,
    time_left,
)
from helpline.workspace import pulse
from helpline.workspace import views_support as workspace_page

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
OTHER_TICKETS_SHOWN = 5


@dataclass
class ThreadItem:
    """An entry or an event, in the order they happened."""

    at: datetime
    ago: str
    entry: ThreadEntry | None = None
    event_text: SafeString | None = None
    event_id: int | None = None

    @property
    def is_event(self) -> bool:
        return self.entry is None


def _due_summary(ticket: Ticket, now: datetime) -> dict:
    """Resolution due time in words, with whether it shows as overdue."""
    if ticket.due_at is None:
        return {"text": "no due time", "overdue": False}
    if ticket.state == State.PENDING and ticket.paused_at:
        return {"text": "SLA clock paused: waiting on the requester", "overdue": False}
    if ticket.is_closed:
        done = ticket.resolved_at or ticket.closed_at or now
        if done <= ticket.due_at:
            return {"text": "resolved in time", "overdue": False}
        return {"text": f"resolved {time_left(ticket.due_at, done)}", "overdue": True}
    return {"text": time_left(ticket.due_at, now), "overdue": ticket.due_at < now}


def _first_response_summary(ticket: Ticket, now: datetime) -> dict:
    if ticket.first_responded_at:
        late = (
            ticket.first_response_due_at is not None
            and ticket.first_responded_at > ticket.first_response_due_at
        )
        return {"text": f"answered {relative(ticket.first_responded_at, now)}", "overdue": late}
    if ticket.first_response_due_at is None:
        return {"text": "", "overdue": False}
    if ticket.is_closed:
        return {"text": "never answered", "overdue": False}
    due = ticket.first_response_due_at
    return {"text": time_left(due, now), "overdue": due < now}


def _thread(ticket: Ticket, as_agent: bool, now: datetime) -> list[ThreadItem]:
    """Entries and events in time order. Someone who sees the ticket only as its requester or a
    collaborator gets what the portal shows: no internal notes and no history (agents' reasons)."""
    entries = ticket.entries.select_related("author").prefetch_related("attachments")
    if not as_agent:
        entries = entries.exclude(kind=EntryKind.NOTE)
    events = ticket.events.select_related("actor").exclude(kind__in=SHOWN_AS_ENTRIES)
    if not as_agent:
        events = events.none()
    # At the same instant: the "created" event first, then entries, then the changes they caused.
    keyed = [
        ((e.created_at, 1, e.pk), ThreadItem(e.created_at, relative(e.created_at, now), e))
        for e in entries
    ]
    for ev in events:
        rank = 0 if ev.kind == "created" else 2
        item = ThreadItem(ev.created_at, relative(ev.created_at, now), None, describe(ev), ev.pk)
        keyed.append(((ev.created_at, rank, ev.pk), item))
    keyed.sort(key=lambda pair: pair[0])
    return [item for _, item in keyed]


def default_forms(ticket: Ticket, can: dict) -> dict:
    """The page's forms, unbound, carrying the version the agent is looking at."""
    statuses = status_choices(can["status"], can["close"])
    version = {"version": ticket.version}
    return {
        "reply_form": ReplyForm(initial=version, statuses=statuses, auto_id="reply_%s"),
        "note_form": NoteForm(initial=version, auto_id="note_%s"),
        "route_form": RouteForm(ticket=ticket, auto_id="route_%s"),
        "status_form": StatusForm(
            initial={**version, "status": ticket.status_id}, statuses=statuses, auto_id="status_%s"
        ),
        "due_form": DueForm(initial={**version, "due_at": ticket.due_at}, auto_id="due_%s"),
        "collaborator_form": CollaboratorForm(auto_id="collab_%s"),
        "merge_form": MergeForm(auto_id="merge_%s"),
        "delete_form": DeleteForm(ticket=ticket, auto_id="delete_%s"),
        "fields_form": FieldsForm(initial=version, ticket=ticket, auto_id="fields_%s"),
    }


def render_ticket_page(
    request: HttpRequest,
    ticket: Ticket,
    *,
    status: int = 200,
    tab: str | None = None,
    stale: str = "",
    stale_in: str = "",
    **forms,
) -> HttpResponse:
    """The whole ticket page; POST views pass their bound form back to show errors in place."""
    context = _page_context(request, ticket, tab, stale, stale_in, forms)
    return render(request, "staff/ticket.html", context, status=status)


def _compose_tab(request: HttpRequest, can: dict, tab: str | None) -> str:
    """The compose box open first: the one asked for if allowed, else reply, else note."""
    if tab not in ("reply", "note"):
        tab = request.GET.get("compose")
    if tab not in ("reply", "note") or not can[tab]:
        tab = "reply" if can["reply"] else "note"
    return tab


def _other_tickets(user, ticket: Ticket):
    """The requester's latest other tickets the user may see (a lazy queryset)."""
    return (
        access.visible_tickets(user)
        .filter(requester_id=ticket.requester_id)
        .exclude(pk=ticket.pk)
        .select_related("status")
        .order_by("-created_at")[:OTHER_TICKETS_SHOWN]
    )


def _live_marks(user, ticket: Ticket, thread: list[ThreadItem], as_agent: bool) -> dict:
    """What the page's live updates start from: the last entry and event shown, and the pulse
    token (only for those who work the ticket: a requester's view of it is not live)."""
    entries = [item.entry.pk for item in thread if item.entry is not None]
    events = [item.event_id for item in thread if item.event_id is not None]
    return {
        "after_entry": max(entries, default=0),
        "after_event": max(events, default=0),
        "token": pulse.issue(user, [pulse.ticket_key(ticket.pk)], [ticket.pk]) if as_agent else "",
        "poll": pulse.POLL_SECONDS,
        "heartbeat": pulse.PRESENCE_HEARTBEAT,
    }


def live_context(request: HttpRequest, ticket: Ticket) -> dict:
    """The live fragment: thread items after the ones the page has, marked new; the header;
    presence; a fresh token. Reading it marks the thread seen."""
    user = request.user
    now = timezone.now()
    can = access.permissions(user, ticket)
    as_agent = can[access.Access.SEE_NOTES]
    after_entry = access.parse_id(request.GET.get("entry", "")) or 0
    after_event = access.parse_id(request.GET.get("event", "")) or 0
    thread = _thread(ticket, as_agent, now)
    fresh = [
        item
        for item in thread
        if (item.entry is not None and item.entry.pk > after_entry)
        or (item.event_id is not None and item.event_id > after_event)
    ]
    if ticket.help_topic is not None:
        prefetch_related_objects([ticket.help_topic], "fields")
    colour = ticket.priority.colour if _COLOUR.match(ticket.priority.colour or "") else "#6b7280"
    return {
        "ticket": ticket,
        "can": can,
        "role": access.role_for(user, ticket),
        "read_only": not can["anything"],
        "fresh": fresh,
        "shared": workspace_page.ticket_workspace(user, ticket, as_agent, now),
        "live": _live_marks(user, ticket, thread, as_agent),
        "due": _due_summary(ticket, now),
        "first_response": _first_response_summary(ticket, now),
        "created_ago": relative(ticket.created_at, now),
        "updated_ago": relative(ticket.updated_at, now),
        "priority_colour": colour,
        "field_values": custom_fields.shown(ticket, requester_side=not as_agent),
        "stamp_format": "D j M Y, H:i",
    }


def _page_context(
    request: HttpRequest, ticket: Ticket, tab: str | None, stale: str, stale_in: str, forms: dict
) -> dict:
    """The template context of the ticket page; `forms` replace the default (unbound) ones."""
    user = request.user
    now = timezone.now()
    can = access.permissions(user, ticket)
    role = access.role_for(user, ticket)
    # An agent who only requested this ticket (no role in its department) sees it as a requester
    # would: internal notes and agents-only field values stay hidden.
    as_agent = can[access.Access.SEE_NOTES]
    show_history = request.GET.get("history") != "0"
    tab = _compose_tab(request, can, tab)
    if ticket.help_topic is not None:
        # One query for the topic's custom fields, read by the header and the fields form.
        prefetch_related_objects([ticket.help_topic], "fields")
    page_forms = default_forms(ticket, can)
    thread = _thread(ticket, as_agent, now)
    shared = workspace_page.ticket_workspace(user, ticket, as_agent, now)
    # A draft fills its empty box (a form sent back with the agent's input keeps that input).
    for kind, form_name in (("reply", "reply_form"), ("note", "note_form")):
        if shared.drafts.get(kind):
            page_forms[form_name].initial["body"] = shared.drafts[kind]
    page_forms.update(forms)
    others = _other_tickets(user, ticket)
    colour = ticket.priority.colour if _COLOUR.match(ticket.priority.colour or "") else "#6b7280"
    return {
        "ticket": ticket,
        "can": can,
        "role": role,
        "read_only": not can["anything"],
        "thread": thread,
        "shared": shared,
        "live": _live_marks(user, ticket, thread, as_agent),
        "show_history": show_history,
        "tab": tab,
        "stale": stale,
        # Which panel shows the "changed meanwhile" message: reply, note, route, status or due.
        "stale_in": stale_in or tab,
        "due": _due_summary(ticket, now),
        "first_response": _first_response_summary(ticket, now),
        "created_ago": relative(ticket.created_at, now),
        "updated_ago": relative(ticket.updated_at, now),
        "other_tickets": list(others),
        "collaborators": list(ticket.collaborators.select_related("user").order_by("added_at")),
        "priority_colour": colour,
        "field_values": custom_fields.shown(ticket, requester_side=not as_agent),
        "attachments_help": attachments_help(),
        "stamp_format": "D j M Y, H:i",
        "now_stamp": stamp(now),
        **page_forms,
    }
