"""What the agent panel's pages show of the workspace, each in a fixed number of queries."""

from dataclasses import dataclass, field

from django.db.models import Value
from django.utils import timezone

from helpline.tickets.models import Ticket
from helpline.workspace.models import Draft, LastSeen, Presence, Watcher
from helpline.workspace.pulse import PRESENCE_WINDOW


@dataclass
class TicketWorkspace:
    """Who else has the ticket open, the agent's drafts, and whether they watch it."""

    presence: list[tuple[str, str]] = field(default_factory=list)
    drafts: dict[str, str] = field(default_factory=dict)
    watching: bool = False

    @property
    def replying(self) -> list[str]:
        return [name for name, state in self.presence if state == "replying"]

    @property
    def viewing(self) -> list[str]:
        return [name for name, state in self.presence if state != "replying"]


def ticket_workspace(user, ticket: Ticket, as_agent: bool, now=None) -> TicketWorkspace:
    """One statement for presence, drafts and watching, and one write marking the thread seen
    (callers loaded the ticket through access.access_ticket). Someone who sees the ticket only
    as its requester gets nothing of it."""
    shared = TicketWorkspace()
    if not as_agent:
        return shared
    now = now or timezone.now()
    drafts = Draft.objects.filter(user=user, ticket=ticket).values_list(
        Value("draft"), "kind", "body", Value("")
    )
    present = (
        Presence.objects.filter(ticket=ticket, seen_at__gt=now - PRESENCE_WINDOW)
        .exclude(user=user)
        .values_list(Value("presence"), "user__name", "user__username", "state")
    )
    watching = Watcher.objects.filter(user=user, ticket=ticket).values_list(
        Value("watch"), Value(""), Value(""), Value("")
    )
    for tag, a, b, c in drafts.union(present, watching, all=True).order_by():
        if tag == "draft":
            shared.drafts[a] = b
        elif tag == "presence":
            shared.presence.append((a or b, c))
        else:
            shared.watching = True
    shared.presence.sort()
    mark_seen(user, ticket, now)
    return shared


def mark_seen(user, ticket: Ticket, now) -> None:
    """The thread is read up to now (a page view: no access question beyond the caller's)."""
    # One statement (INSERT … ON CONFLICT DO UPDATE) whether or not it was seen before.
    LastSeen.objects.bulk_create(
        [LastSeen(user=user, ticket=ticket, seen_at=now)],
        update_conflicts=True,
        unique_fields=["user", "ticket"],
        update_fields=["seen_at"],
    )
