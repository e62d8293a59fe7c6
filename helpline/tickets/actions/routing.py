"""Where a ticket goes and how urgent it is: assignment, transfer, priority, SLA plan, help topic
and due time, one at a time; route.py changes any of them at once, all or nothing.

Each change is a step on the locked ticket (`_to_priority`, `_transfer` …) that records its event
and returns the fields it changed; the one-field setters and `route` are made of the same steps.
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from helpline.accounts.models import Department, Permission, Team, User
from helpline.sla.models import SLAPlan
from helpline.tickets import access, notify
from helpline.tickets.actions._core import (
    _Change,
    _changing,
    _check,
    _event,
    _iso,
    _ref,
    _update_due_times,
)
from helpline.tickets.deadlines import compute_due_times
from helpline.tickets.models import (
    EventKind,
    HelpTopic,
    NotificationKind,
    Priority,
    Ticket,
)


def _assign(
    ticket: Ticket,
    actor: User | None,
    agent: User | None,
    team: Team | None,
    at: datetime,
    reason: str = "",
) -> list[str]:
    """Assign the (locked) ticket, with its event and alerts. No access check."""
    fields = []
    before = {"agent": _ref(ticket.assignee), "team": _ref(ticket.team)}
    if agent is not None and agent.pk != ticket.assignee_id:
        if not could_work(agent, ticket.department):
            message = f"{agent} has no access to {ticket.department} and cannot be assigned."
            raise ValidationError({"assignee": message})
        ticket.assignee = agent
        fields.append("assignee")
    if team is not None and team.pk != ticket.team_id:
        ticket.team = team
        fields.append("team")
    if fields:
        after = {"agent": _ref(ticket.assignee), "team": _ref(ticket.team)}
        _event(ticket, EventKind.ASSIGNED, actor, before, after, reason, at)
        recipients = []
        if "assignee" in fields:
            recipients.append(agent)
        if "team" in fields:
            recipients += [m.user for m in team.members.select_related("user")]
        notify.queue(NotificationKind.ASSIGNED_ALERT, ticket, recipients, actor=actor)
    return fields


def could_work(agent: User, department: Department | None) -> bool:
    """Whether `agent` may be assigned a ticket of `department`: an administrator, or an active
    agent with a role there or in a department that is not restricted. The one rule for the
    panel, the API and automation (`assignable_agents` is its queryset form)."""
    if access.is_admin(agent):
        return True
    profile = access.agent_profile(agent)
    if profile is None or department is None:
        return False
    return department.pk in profile.department_roles() or not department.restricted


def assignable_agents(department: Department) -> QuerySet:
    """The users `could_work` allows in `department`, by name (what the route form offers)."""
    agent = Q(agent__is_active=True)
    if department.restricted:
        agent &= Q(agent__department=department) | Q(agent__accesses__department=department)
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | agent)
        .distinct()
        .order_by("name", "username")
    )


def assign(
    actor: User,
    ticket: Ticket,
    *,
    agent: User | None = None,
    team: Team | None = None,
    reason: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """Assign the ticket to an agent and/or a team."""
    if agent is None and team is None:
        raise ValidationError({"assignee": "Choose an agent or a team."})
    if agent is not None and not access.is_agent(agent):
        raise ValidationError({"assignee": f"{agent} is not an agent."})
    with _changing(actor, ticket, Permission.ASSIGN, expected_version) as c:
        fields = _assign(c.ticket, actor, agent, team, c.at, reason)
        if fields:
            c.save(fields)
    return ticket


def release(
    actor: User,
    ticket: Ticket,
    *,
    agent: bool = True,
    team: bool = True,
    expected_version: int | None = None,
) -> Ticket:
    """Unassign the agent and/or the team."""
    with _changing(actor, ticket, Permission.ASSIGN, expected_version) as c:
        fields = _release(c, agent, team)
        if fields:
            c.save(fields)
    return ticket


def _release(c: _Change, agent: bool, team: bool) -> list[str]:
    t = c.ticket
    before = {"agent": _ref(t.assignee), "team": _ref(t.team)}
    fields = []
    if agent and t.assignee_id:
        t.assignee = None
        fields.append("assignee")
    if team and t.team_id:
        t.team = None
        fields.append("team")
    if fields:
        c.record(EventKind.RELEASED, before, {"agent": _ref(t.assignee), "team": _ref(t.team)})
    return fields


def transfer(
    actor: User,
    ticket: Ticket,
    department: Department,
    *,
    agent: User | None = None,
    team: Team | None = None,
    reason: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """Move the ticket to another department, optionally handing it to an agent/team there.

    An assigned agent with no access there is unassigned, so the ticket leaves their view when the
    department is restricted (scenario 3). Passing `agent`/`team` assigns in the same step (the
    assign permission is checked in the department the ticket leaves), so a ticket can go to an
    agent of the new department even when the actor has no access there (scenario 4).
    """
    change = _Change(actor, ticket, Permission.TRANSFER, expected_version)
    if agent is not None or team is not None:
        _check(actor, Permission.ASSIGN, ticket)
        if agent is not None and not access.is_agent(agent):
            raise ValidationError({"assignee": f"{agent} is not an agent."})
    with change.locked() as c:
        if department.pk == c.ticket.department_id:
            raise ValidationError({"department": f"The ticket is already in {department}."})
        c.save(_transfer(c, department, agent, team, reason))
    return ticket


def _transfer(
    c: _Change, department: Department, agent: User | None, team: Team | None, reason: str = ""
) -> list[str]:
    """Move the locked ticket, release whoever is shut out, hand it over, alert the department."""
    t = c.ticket
    before = _ref(t.department)
    t.department = department
    c.record(EventKind.TRANSFERRED, before, _ref(department), reason)
    fields = ["department", *_release_if_shut_out(c, agent)]
    if agent is not None or team is not None:
        fields += _assign(t, c.actor, agent, team, c.at, reason=f"Handed over to {department}")
    notify.queue(
        NotificationKind.TRANSFER_ALERT, t, notify.department_agents(department), actor=c.actor
    )
    return fields


def _release_if_shut_out(c: _Change, agent: User | None) -> list[str]:
    """Unassign the assigned agent if they have no access to the ticket's new department."""
    t = c.ticket
    if t.assignee_id is None or (agent is not None and agent.pk == t.assignee_id):
        return []
    profile = access.agent_profile(t.assignee)
    if access.is_admin(t.assignee) or (
        profile is not None and t.department.pk in profile.department_roles()
    ):
        return []
    why = f"{t.assignee} has no access to {t.department}"
    c.record(EventKind.RELEASED, {"agent": _ref(t.assignee)}, {"agent": None}, why)
    t.assignee = None
    return ["assignee"]


def set_priority(
    actor: User, ticket: Ticket, priority: Priority, *, expected_version: int | None = None
) -> Ticket:
    """Change the priority."""
    with _changing(actor, ticket, Permission.EDIT, expected_version) as c:
        if priority.pk != c.ticket.priority_id:
            c.save(_to_priority(c, priority))
    return ticket


def _to_priority(c: _Change, priority: Priority) -> list[str]:
    c.record(EventKind.PRIORITY, _ref(c.ticket.priority), _ref(priority))
    c.ticket.priority = priority
    return ["priority"]


def set_sla_plan(
    actor: User, ticket: Ticket, plan: SLAPlan | None, *, expected_version: int | None = None
) -> Ticket:
    """Change the SLA plan; due times are recomputed from the ticket's creation."""
    with _changing(actor, ticket, Permission.EDIT, expected_version) as c:
        if (plan.pk if plan else None) != c.ticket.sla_plan_id:
            c.save(_to_sla_plan(c, plan))
    return ticket


def _to_sla_plan(c: _Change, plan: SLAPlan | None) -> list[str]:
    t = c.ticket
    c.record(EventKind.SLA, _ref(t.sla_plan), _ref(plan))
    t.sla_plan = plan
    return ["sla_plan", *_update_due_times(t, c.actor, f"SLA plan changed to {plan}")]


def set_help_topic(
    actor: User, ticket: Ticket, topic: HelpTopic | None, *, expected_version: int | None = None
) -> Ticket:
    """Change the help topic alone (`route` can apply the topic's defaults with it)."""
    with _changing(actor, ticket, Permission.EDIT, expected_version) as c:
        if (topic.pk if topic else None) != c.ticket.help_topic_id:
            c.save(_to_help_topic(c, topic))
    return ticket


def _to_help_topic(c: _Change, topic: HelpTopic | None) -> list[str]:
    c.record(EventKind.HELP_TOPIC, _ref(c.ticket.help_topic), _ref(topic))
    c.ticket.help_topic = topic
    return ["help_topic"]


def set_due_time(
    actor: User,
    ticket: Ticket,
    due_at: datetime | None,
    *,
    reason: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """Set the due time by hand (None: back to the SLA plan's)."""
    change = _Change(actor, ticket, Permission.EDIT, expected_version)
    if due_at is not None and timezone.is_naive(due_at):
        raise ValidationError({"due_at": _NAIVE_DUE})
    with change.locked() as c:
        c.save(_to_due_time(c, due_at, reason))
    return ticket


_NAIVE_DUE = "The due time needs a time zone."


def _to_due_time(c: _Change, due_at: datetime | None, reason: str = "") -> list[str]:
    t = c.ticket
    before = {"due_at": _iso(t.due_at)}
    if due_at is None:
        t.due_at_manual = False
        t.due_at, t.first_response_due_at = compute_due_times(t)
        why = reason or "Due time reset to the SLA plan's"
    else:
        t.due_at_manual = True
        t.due_at = due_at
        why = reason or "Due time set by hand"
    # Only ever clear the flag here: the sweep sets it, with its event and alerts.
    t.is_overdue = t.is_overdue and t.due_at is not None and t.due_at < c.at
    c.record(EventKind.DUE, before, {"due_at": _iso(t.due_at)}, why)
    return ["due_at", "due_at_manual", "first_response_due_at", "is_overdue"]
