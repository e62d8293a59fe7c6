"""Extension points of the action layer: intake filters and event listeners.

Listeners for ticket events (webhooks, search indexing …) run after the action commits.

The action layer calls `event_recorded` for every Event it writes; listeners registered with
`on_event` get the event once the transaction has committed, so they never see rolled-back work.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

_listeners: list[Callable] = []


def on_event(listener: Callable) -> Callable:
    """Register `listener(event)`; usable as a decorator. Registering twice is a no-op."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def event_recorded(event) -> None:
    for listener in list(_listeners):
        # robust: a failing listener is logged and never turns a committed action into an error.
        transaction.on_commit(lambda listener=listener: listener(event), robust=True)


_deletion_listeners: list[Callable] = []


def on_ticket_deleted(listener: Callable) -> Callable:
    """Register `listener(summary: dict, actor, reason: str)`, called inside the deleting
    transaction (so what it writes, e.g. the audit log entry, commits or rolls back with it)."""
    if listener not in _deletion_listeners:
        _deletion_listeners.append(listener)
    return listener


def ticket_deleted(summary: dict, actor, reason: str) -> None:
    for listener in list(_deletion_listeners):
        listener(summary, actor, reason)


class TicketRejected(Exception):
    """An intake filter refused the request; `reason` is logged and shown to API clients."""

    def __init__(self, reason: str, rule: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.rule = rule


@dataclass
class Intake:
    """A request on its way to becoming a ticket, as intake filters (routing rules) see it.

    Filters may change the routing fields, add collaborators, turn off the auto-response, record
    why (`applied`), schedule work on the new ticket (`after_open`, run inside the transaction),
    or raise TicketRejected.
    """

    requester: Any
    subject: str
    body: str
    source: str
    help_topic: Any = None
    department: Any = None
    priority: Any = None
    sla_plan: Any = None
    assignee: Any = None
    team: Any = None
    status: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    recipient: str = ""
    autorespond: bool = True
    collaborators: list = field(default_factory=list)
    applied: list[tuple[str, str]] = field(default_factory=list)
    assignment_reason: str = ""
    after_open: list[Callable] = field(default_factory=list)


_intake_filters: list[Callable[[Intake], None]] = []


def on_intake(intake_filter: Callable[[Intake], None]) -> Callable[[Intake], None]:
    """Register a filter run on every new ticket request, on every channel, in order."""
    if intake_filter not in _intake_filters:
        _intake_filters.append(intake_filter)
    return intake_filter


def filter_intake(intake: Intake) -> None:
    for intake_filter in list(_intake_filters):
        intake_filter(intake)
