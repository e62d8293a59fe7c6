"""Watchers and the in-app notification list: who follows a ticket and what they are told.

Only agents who may still see the ticket are told anything (checked at the moment of telling,
through helpline.tickets.access); an internal note is told only to those who see notes.
Email for these events waits for its own notification kind in the outbox (see the README):
the per-agent choice is stored and shown, and only the in-app list is written today.
"""

from django.db.models import Q

from helpline.accounts.models import User
from helpline.tickets import access
from helpline.tickets.access import Access
from helpline.tickets.models import EventKind
from helpline.workspace.models import (
    Notification,
    NotificationChoice,
    NotificationEvent,
    Watcher,
)

# What a watcher gets unless they chose otherwise: (in the app, by email).
DEFAULTS = {
    NotificationEvent.MENTION: (True, False),
    NotificationEvent.ASSIGNED: (True, False),
    NotificationEvent.ANSWER: (True, False),
    NotificationEvent.ACTIVITY: (False, False),
    NotificationEvent.OVERDUE: (True, False),
}
_ANSWERS = {
    EventKind.REPLIED: "replied",
    EventKind.MESSAGE: "wrote",
    EventKind.NOTE: "added a note",
}
_HANDOVERS = {EventKind.ASSIGNED, EventKind.RELEASED, EventKind.TRANSFERRED}


def choices(user) -> dict[str, tuple[bool, bool]]:
    """The agent's (in app, by email) per event: their stored choice, else the default."""
    chosen = dict(DEFAULTS)
    for row in NotificationChoice.objects.filter(user=user):
        chosen[NotificationEvent(row.event)] = (row.in_app, row.by_email)
    return {str(k): v for k, v in chosen.items()}


def _wants(user_ids: list[int], event: str) -> set[int]:
    """Of these agents, those who want `event` in the app."""
    default_on = DEFAULTS[NotificationEvent(event)][0]
    rows = NotificationChoice.objects.filter(user_id__in=user_ids, event=event)
    off = {r.user_id for r in rows if not r.in_app}
    on = {r.user_id for r in rows if r.in_app}
    return {pk for pk in user_ids if pk in on or (default_on and pk not in off)}


def tell(users, ticket, event: str, text: str, actor=None, needs=Access.VIEW) -> int:
    """Write one notification to each of `users` who may (`needs`) see the ticket and wants
    `event`; the actor is never told of their own doing. Returns how many were written."""
    people = [u for u in users if u is not None and (actor is None or u.pk != actor.pk)]
    wanting = _wants([u.pk for u in people], event)
    rows = [
        Notification(
            user=u,
            ticket=ticket,
            event=event,
            actor_name=actor.display_name if actor is not None else "",
            text=text[:300],
        )
        for u in people
        if u.pk in wanting and access.is_agent(u) and access.can(u, needs, ticket)
    ]
    Notification.objects.bulk_create(rows)
    return len(rows)


def watch_quietly(user, ticket) -> None:
    """Follow the ticket (no check: the callers decided the agent may see it)."""
    Watcher.objects.get_or_create(user=user, ticket=ticket)


def event_committed(event) -> None:
    """After a change committed: assignees and those who hand a ticket over (and still see it)
    follow it; watchers are told of answers, overdue and (if they chose) other changes."""
    ticket, actor = event.ticket, event.actor
    if event.kind == EventKind.ASSIGNED and ticket.assignee_id:
        assignee = User.objects.filter(pk=ticket.assignee_id).first()
        if assignee is not None and access.can(assignee, Access.VIEW, ticket):
            watch_quietly(assignee, ticket)
            who = actor.display_name if actor is not None else "The help desk"
            tell([assignee], ticket, NotificationEvent.ASSIGNED,
                 f"{who} assigned #{ticket.number} to you", actor)  # fmt: skip
    handed_over = event.kind in _HANDOVERS and actor is not None and access.is_agent(actor)
    if handed_over and access.can(actor, Access.VIEW, ticket):
        watch_quietly(actor, ticket)
    watchers = list(
        User.objects.filter(
            Q(pk__in=Watcher.objects.filter(ticket=ticket).values("user_id")), is_active=True
        )
    )
    if not watchers:
        return
    who = actor.display_name if actor is not None else "The help desk"
    if event.kind in _ANSWERS:
        needs = Access.SEE_NOTES if event.kind == EventKind.NOTE else Access.VIEW
        name = actor.display_name if actor is not None else ticket.requester.display_name
        text = f"{name} {_ANSWERS[event.kind]} on #{ticket.number} {ticket.subject}"
        tell(watchers, ticket, NotificationEvent.ANSWER, text, actor, needs)
    elif event.kind == EventKind.OVERDUE:
        tell(watchers, ticket, NotificationEvent.OVERDUE,
             f"#{ticket.number} {ticket.subject} is overdue", actor)  # fmt: skip
    elif event.kind != EventKind.CREATED:
        label = EventKind(event.kind).label.lower()
        tell(watchers, ticket, NotificationEvent.ACTIVITY,
             f"{who}: {label} on #{ticket.number}", actor, Access.SEE_NOTES)  # fmt: skip
