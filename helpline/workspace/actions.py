"""Workspace actions: presence, last-seen, drafts, watching, mentions, notifications read.

None of these changes a ticket (that is helpline.tickets.actions: claiming is its `assign`);
each takes a ticket that `access.access_ticket` returned and checks again what it needs, so a
caller cannot skip the permission layer.
"""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from helpline.accounts.models import Permission, User
from helpline.tickets import access, actions
from helpline.tickets.access import Access
from helpline.tickets.models import Ticket
from helpline.workspace import notifications, views_support
from helpline.workspace.models import (
    Draft,
    DraftKind,
    Notification,
    NotificationChoice,
    NotificationEvent,
    Presence,
    PresenceState,
    Watcher,
)

DRAFT_MAX = 100_000
# "@jane" or "@jane.doe": a username after a space, a line start or an opening bracket.
MENTION = re.compile(r"(?:^|(?<=[\s(\[]))@([\w.+-]*\w)")


def claim(actor: User, ticket: Ticket, expected_version: int | None = None) -> Ticket:
    """ "Assign to me": the action layer's assign, with its permission check and event."""
    return actions.assign(actor, ticket, agent=actor, expected_version=expected_version)


def mark_seen(user: User, ticket: Ticket, at=None) -> None:
    """The agent has read the ticket's thread up to now."""
    access.check(user, Access.VIEW, ticket)
    views_support.mark_seen(user, ticket, at or timezone.now())


def touch_presence(user: User, ticket: Ticket, state: str) -> None:
    """The agent has the ticket open ("viewing"), is typing ("replying"), or left ("left")."""
    access.check(user, Access.SEE_NOTES, ticket)
    if state == "left":
        Presence.objects.filter(user=user, ticket=ticket).delete()
        return
    state = PresenceState(state)
    Presence.objects.update_or_create(
        user=user, ticket=ticket, defaults={"state": state, "seen_at": timezone.now()}
    )


def _draft_permission(kind: str) -> Permission:
    return Permission.REPLY if kind == DraftKind.REPLY else Permission.NOTE


def save_draft(user: User, ticket: Ticket, kind: str, body: str) -> Draft | None:
    """Keep what the agent is typing; an empty body removes the draft. The agent's presence
    becomes "replying" while a draft has text."""
    kind = DraftKind(kind)
    access.check(user, _draft_permission(kind), ticket)
    body = (body or "")[:DRAFT_MAX]
    with transaction.atomic():
        if not body.strip():
            Draft.objects.filter(user=user, ticket=ticket, kind=kind).delete()
            draft = None
        else:
            draft, _ = Draft.objects.update_or_create(
                user=user,
                ticket=ticket,
                kind=kind,
                defaults={"body": body, "updated_at": timezone.now()},
            )
        typing = Draft.objects.filter(user=user, ticket=ticket).exists()
        state = PresenceState.REPLYING if typing else PresenceState.VIEWING
        Presence.objects.update_or_create(
            user=user, ticket=ticket, defaults={"state": state, "seen_at": timezone.now()}
        )
    return draft


def discard_draft(user: User, ticket: Ticket, kind: str) -> None:
    """The draft was sent: remove it (and the "replying" it showed)."""
    Draft.objects.filter(user=user, ticket=ticket, kind=DraftKind(kind)).delete()
    Presence.objects.filter(user=user, ticket=ticket, state=PresenceState.REPLYING).update(
        state=PresenceState.VIEWING
    )


def drafts_of(user: User, ticket: Ticket) -> dict[str, str]:
    return dict(Draft.objects.filter(user=user, ticket=ticket).values_list("kind", "body"))


def watch(user: User, ticket: Ticket) -> None:
    """Follow a ticket: any agent who may see it."""
    access.check(user, Access.SEE_NOTES, ticket)
    Watcher.objects.get_or_create(user=user, ticket=ticket)


def unwatch(user: User, ticket: Ticket) -> None:
    access.check(user, Access.VIEW, ticket)
    Watcher.objects.filter(user=user, ticket=ticket).delete()


def mentioned(text: str) -> list[User]:
    """The active agents named with @username in `text` (unknown names are plain text)."""
    names = {m.lower() for m in MENTION.findall(text or "")}
    if not names:
        return []
    query = Q()
    for name in names:
        query |= Q(username__iexact=name)
    users = User.objects.filter(query, is_active=True).order_by("username")
    return [u for u in users if access.is_agent(u)]


def check_mentions(actor: User, ticket: Ticket, text: str) -> list[User]:
    """The agents an internal note mentions; ValidationError naming each one who cannot see
    the ticket's internal notes (the note is then not added)."""
    people = mentioned(text)
    blind = [u for u in people if not access.can(u, Access.SEE_NOTES, ticket)]
    if blind:
        raise ValidationError(
            {"body": [f"{u.display_name} cannot see this ticket." for u in blind]}
        )
    return people


def notify_mentions(actor: User, ticket: Ticket, people: list[User]) -> int:
    """Tell each mentioned agent (who sees the ticket's notes) in the app."""
    text = f"{actor.display_name} mentioned you on #{ticket.number} {ticket.subject}"
    return notifications.tell(
        people, ticket, NotificationEvent.MENTION, text, actor, Access.SEE_NOTES
    )


def visible_notifications(user: User):
    """The agent's notifications about tickets they may still see, newest first."""
    return (
        Notification.objects.filter(user=user, ticket__in=access.visible_tickets(user))
        .select_related("ticket")
        .order_by("-created_at", "-pk")
    )


def mark_notifications_read(user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def set_notification_choices(user: User, chosen: dict[str, tuple[bool, bool]]) -> None:
    for event in NotificationEvent:
        in_app, by_email = chosen.get(event.value, notifications.DEFAULTS[event])
        NotificationChoice.objects.update_or_create(
            user=user, event=event, defaults={"in_app": in_app, "by_email": by_email}
        )
