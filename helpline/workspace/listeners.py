"""What the workspace does after a ticket changed: count the change for live pages, and tell
the watchers (helpline.tickets.hooks calls these; the ticket layer never imports this app)."""

from helpline.accounts.models import Department
from helpline.tickets.models import EventKind
from helpline.workspace import notifications, pulse

# Events whose before/after name departments, agents or teams ({"id": …, "name": …}).
_MOVES = {EventKind.TRANSFERRED, EventKind.ASSIGNED, EventKind.RELEASED}


def scopes_of(event) -> set[str]:
    """Every scope a page may show this event's ticket in, before and after the change."""
    ticket = event.ticket
    keys = {pulse.ALL, pulse.ticket_key(ticket.pk), pulse.department_key(ticket.department_id)}
    if ticket.assignee_id:
        keys.add(pulse.agent_key(ticket.assignee_id))
    if ticket.team_id:
        keys.add(pulse.team_key(ticket.team_id))
    if event.kind in _MOVES:
        for side in (event.before, event.after):
            keys |= _named(side)
    return keys


def _named(side) -> set[str]:
    """Scopes named in an event's before or after: a department ref, or {"agent", "team"}."""
    if not isinstance(side, dict):
        return set()
    keys = set()
    if isinstance(side.get("id"), int):  # a transfer: the department
        keys.add(pulse.department_key(side["id"]))
    for field, make in (("agent", pulse.agent_key), ("team", pulse.team_key)):
        ref = side.get(field)
        if isinstance(ref, dict) and isinstance(ref.get("id"), int):
            keys.add(make(ref["id"]))
    return keys


def event_committed(event) -> None:
    pulse.bump(scopes_of(event))
    notifications.event_committed(event)


def ticket_deleted(summary: dict, actor, reason: str) -> None:
    # Inside the deleting transaction: the ticket's pages learn it is gone with the commit.
    keys = {pulse.ALL, pulse.ticket_key(summary["id"])}
    departments = Department.objects.filter(name=summary["department"]).values_list("pk", flat=True)
    keys |= {pulse.department_key(pk) for pk in departments}
    pulse.bump(keys)
