"""THE only code that changes tickets, one module per intent (as Zulip's zerver/actions/).

Every function here runs in a transaction, checks access through tickets/access.py (raising
AccessDenied or TicketNotFound), records one Event per change with before/after, keeps SLA times
current, and queues notifications that are delivered after commit. Views, the API, mail intake and
automation call these; none of them writes ticket fields itself.

`actor` is the user acting. `None` means the help desk itself (sweeps and other automation).

- intake.py        open_ticket, as named steps (validate, rules, defaults, insert, assign, notify)
- conversation.py  reply, add_note, add_message
- routing.py       assign, release, transfer, set_priority, set_sla_plan, set_help_topic,
                   set_due_time; could_work (who may be assigned in a department)
- route.py         route (all of these at once, all or nothing) and fill_routing (the defaults
                   of a help topic, a department and the help desk)
- lifecycle.py     set_status, reopen, mark_overdue, close_after_waiting, record_bounce
- structure.py     set_subject, set_fields, add/remove_collaborator, merge, delete_ticket
- _core.py         the shared steps: lock, check, event, save, `_Change` (the setters' shell),
                   thread entries and their files, SLA due times, status changes

Callers import the package (`from helpline.tickets import actions; actions.reply(...)`); the
modules are its layout, not its interface.
"""

# `timezone` and `next_number` are reachable here because tests pin the action layer's clock
# (`helpline.tickets.actions.timezone.now`) and stand in for `actions.next_number`.
from django.utils import timezone as timezone

from helpline.tickets.actions._core import (
    SUBJECT_MAX,
    NewAttachment,
    StaleTicket,
    _add_entry,
    old_status_since,
)
from helpline.tickets.actions.conversation import add_message, add_note, reply
from helpline.tickets.actions.intake import open_ticket
from helpline.tickets.actions.lifecycle import (
    close_after_waiting,
    mark_overdue,
    record_bounce,
    reopen,
    set_status,
)
from helpline.tickets.actions.route import RouteChanges, route
from helpline.tickets.actions.routing import (
    _assign,
    assign,
    assignable_agents,
    could_work,
    release,
    set_due_time,
    set_help_topic,
    set_priority,
    set_sla_plan,
    transfer,
)
from helpline.tickets.actions.structure import (
    add_collaborator,
    delete_ticket,
    merge,
    remove_collaborator,
    set_fields,
    set_subject,
)
from helpline.tickets.numbering import next_number as next_number

__all__ = [
    "SUBJECT_MAX",
    "NewAttachment",
    "RouteChanges",
    "StaleTicket",
    "_add_entry",
    "_assign",
    "add_collaborator",
    "add_message",
    "add_note",
    "assign",
    "assignable_agents",
    "close_after_waiting",
    "could_work",
    "delete_ticket",
    "mark_overdue",
    "merge",
    "next_number",
    "old_status_since",
    "open_ticket",
    "record_bounce",
    "release",
    "remove_collaborator",
    "reopen",
    "reply",
    "route",
    "set_due_time",
    "set_fields",
    "set_help_topic",
    "set_priority",
    "set_sla_plan",
    "set_status",
    "set_subject",
    "timezone",
    "transfer",
]
