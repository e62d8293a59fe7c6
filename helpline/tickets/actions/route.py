"""Routing several things at once: `route` (all or nothing) and the defaults a help topic, a
department and the help desk fill in (`fill_routing`, shared with intake and the dry run).

`route` is made of the same steps as the one-field setters in routing.py.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone

from helpline.accounts.models import Department, Permission, Team, User
from helpline.sla.models import SLAPlan
from helpline.tickets import access
from helpline.tickets.actions._core import _Change, _check
from helpline.tickets.actions.routing import (
    _NAIVE_DUE,
    _assign,
    _release,
    _to_due_time,
    _to_help_topic,
    _to_priority,
    _to_sla_plan,
    _transfer,
    could_work,
)
from helpline.tickets.models import HelpdeskConfig, HelpTopic, Priority, Ticket

# ---------------------------------------------------------------------------------------------
# Defaults: what a help topic, a department and the help desk fill in


@dataclass(frozen=True)
class Routing:
    """Where a ticket goes and who works it, once the defaults are applied."""

    department: Department | None
    priority: Priority | None
    sla_plan: SLAPlan | None
    assignee: User | None = None
    team: Team | None = None


def fill_routing(
    asked: Routing, topic: HelpTopic | None, config: HelpdeskConfig, keep: Routing | None = None
) -> Routing:
    """Fill what `asked` leaves open: from the help topic, then from `keep` (a routed ticket's
    own values), then from the department's and the help desk's defaults. Department and
    priority stay None when nothing provides them. Open_ticket, its dry run and `route` share it.
    """
    keep = keep or Routing(None, None, None)
    department = (
        asked.department
        or _of_topic(topic, "department")
        or keep.department
        or config.default_department
    )
    priority = (
        asked.priority
        or _of_topic(topic, "priority")
        or keep.priority
        or config.default_priority
        or Priority.objects.filter(is_default=True).first()
    )
    sla_plan = asked.sla_plan or _of_topic(topic, "sla_plan") or keep.sla_plan
    if department is not None:
        sla_plan = sla_plan or department.default_sla
    return Routing(
        department=department,
        priority=priority,
        sla_plan=sla_plan or config.default_sla,
        assignee=asked.assignee or _of_topic(topic, "auto_assign_agent") or keep.assignee,
        team=asked.team or _of_topic(topic, "auto_assign_team") or keep.team,
    )


def _of_topic(topic: HelpTopic | None, attribute: str):
    return getattr(topic, attribute) if topic is not None else None


# ---------------------------------------------------------------------------------------------
# Route: every change at once


ROUTE_FIELDS = ("department", "help_topic", "priority", "sla_plan", "assignee", "team", "due_at")
_NEEDS = {
    "priority": Permission.EDIT,
    "sla_plan": Permission.EDIT,
    "help_topic": Permission.EDIT,
    "due_at": Permission.EDIT,
    "assignee": Permission.ASSIGN,
    "team": Permission.ASSIGN,
    "department": Permission.TRANSFER,
}


@dataclass(frozen=True)
class RouteChanges:
    """What one route request asks for. `given` names the fields it sets; None in a given field
    clears it (no SLA plan, no help topic, nobody, no team, the SLA plan's due time). Build it
    with `RouteChanges.of(priority=…, …)`.

    With `apply_topic_defaults`, a new help topic also sets its department, priority and SLA
    plan, except those the request sets itself.
    """

    given: frozenset[str] = frozenset()
    department: Department | None = None
    help_topic: HelpTopic | None = None
    priority: Priority | None = None
    sla_plan: SLAPlan | None = None
    assignee: User | None = None
    team: Team | None = None
    due_at: datetime | None = None
    apply_topic_defaults: bool = False

    @classmethod
    def of(cls, *, apply_topic_defaults: bool = False, **values) -> "RouteChanges":
        unknown = set(values) - set(ROUTE_FIELDS)
        if unknown:
            raise TypeError(f"Not a route field: {', '.join(sorted(unknown))}")
        return cls(frozenset(values), apply_topic_defaults=apply_topic_defaults, **values)


def route(
    actor: User | None,
    ticket: Ticket,
    changes: RouteChanges,
    *,
    expected_version: int | None = None,
) -> list[str]:
    """Apply every change of `changes` to the ticket at once, or none; returns the names of the
    fields that changed, in `ROUTE_FIELDS` order.

    On the locked row, first the whole combination is decided: the resulting values (the new
    help topic's defaults included), every permission they need (edit, assign, transfer, all
    checked in the department the ticket is in), and whether the agent can work in the
    department the ticket ends up in. Only then is anything written, with one event per field:
    field changes first, the transfer last (it may take the ticket out of the actor's reach).
    Raises AccessDenied, ValidationError (keyed by field) or StaleTicket, having written nothing.
    """
    with _Change(actor, ticket, access.Access.VIEW, expected_version).locked() as c:
        target = _resulting(c.ticket, changes)
        for permission in dict.fromkeys(_NEEDS[name] for name in target):
            _check(actor, permission, c.ticket)
        _validate_route(c.ticket, changes, target)
        if target:
            c.save(_apply_route(c, target))
    return [name for name in ROUTE_FIELDS if name in target]


def _resulting(t: Ticket, changes: RouteChanges) -> dict[str, object]:
    """The fields that change, with their new values: as given, else the new topic's default."""
    target = {name: getattr(changes, name) for name in changes.given}
    topic = changes.help_topic
    if changes.apply_topic_defaults and topic is not None and topic.pk != t.help_topic_id:
        asked = Routing(target.get("department"), target.get("priority"), target.get("sla_plan"))
        current = Routing(t.department, t.priority, t.sla_plan)
        filled = fill_routing(asked, topic, HelpdeskConfig.load(), keep=current)
        for name in ("department", "priority", "sla_plan"):
            if name not in changes.given:
                target[name] = getattr(filled, name)
    return {
        name: value
        for name, value in target.items()
        if name == "due_at" or getattr(value, "pk", None) != getattr(t, f"{name}_id")
    }


def _validate_route(t: Ticket, changes: RouteChanges, target: dict[str, object]) -> None:
    errors: dict[str, str] = {}
    if "department" in changes.given and changes.department is None:
        errors["department"] = "Choose a department."
    if "priority" in changes.given and changes.priority is None:
        errors["priority"] = "Choose a priority."
    topic = target.get("help_topic")
    if topic is not None and not topic.active:
        errors["help_topic"] = f"The help topic “{topic}” is not active."
    agent = target.get("assignee")
    department = target.get("department") or t.department
    if agent is not None and not access.is_agent(agent):
        errors["assignee"] = f"{agent} is not an agent."
    elif agent is not None and not could_work(agent, department):
        errors["assignee"] = f"{agent} has no access to {department} and cannot be assigned."
    due_at = target.get("due_at")
    if due_at is not None and timezone.is_naive(due_at):
        errors["due_at"] = _NAIVE_DUE
    if errors:
        raise ValidationError(errors)


def _apply_route(c: _Change, target: dict[str, object]) -> list[str]:
    """Write the decided changes to the locked ticket: fields first, the transfer last."""
    fields: list[str] = []
    if "priority" in target:
        fields += _to_priority(c, target["priority"])
    if "sla_plan" in target:
        fields += _to_sla_plan(c, target["sla_plan"])
    if "help_topic" in target:
        fields += _to_help_topic(c, target["help_topic"])
    if "due_at" in target:
        fields += _to_due_time(c, target["due_at"])
    agent, team = target.get("assignee"), target.get("team")
    drop_agent = "assignee" in target and agent is None
    drop_team = "team" in target and team is None
    if drop_agent or drop_team:
        fields += _release(c, drop_agent, drop_team)
    department = target.get("department")
    if department is not None:
        fields += _transfer(c, department, agent, team)
    elif agent is not None or team is not None:
        fields += _assign(c.ticket, c.actor, agent, team, c.at)
    return fields
