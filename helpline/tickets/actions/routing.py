"""Where a ticket goes and how urgent it is: assignment, transfer, priority, SLA plan, help topic
and due time."""

from datetime import datetime

from django.core.exceptions import ValidationError
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
from helpline.tickets.models import EventKind, HelpTopic, NotificationKind, Priority, Ticket


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
        if not _could_work(agent, ticket):
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


def _could_work(agent: User, ticket: Ticket) -> bool:
    """Whether `agent` could work the ticket once assigned (an agent, dept not restricted)."""
    if access.is_admin(agent):
        return True
    profile = access.agent_profile(agent)
    if profile is None:
        return False
    return ticket.department_id in profile.department_roles() or not ticket.department.restricted


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
            c.save(fields)
    return ticket


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
        t = c.ticket
        if department.pk == t.department_id:
            raise ValidationError({"department": f"The ticket is already in {department}."})
        before = _ref(t.department)
        t.department = department
        c.record(EventKind.TRANSFERRED, before, _ref(department), reason)
        fields = ["department", *_release_if_shut_out(c, agent)]
        if agent is not None or team is not None:
            fields += _assign(t, actor, agent, team, c.at, reason=f"Handed over to {department}")
        c.save(fields)
        notify.queue(
            NotificationKind.TRANSFER_ALERT, t, notify.department_agents(department), actor=actor
        )
    return ticket


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
        t = c.ticket
        if priority.pk != t.priority_id:
            c.record(EventKind.PRIORITY, _ref(t.priority), _ref(priority))
            t.priority = priority
            c.save(["priority"])
    return ticket


def set_sla_plan(
    actor: User, ticket: Ticket, plan: SLAPlan | None, *, expected_version: int | None = None
) -> Ticket:
    """Change the SLA plan; due times are recomputed from the ticket's creation."""
    with _changing(actor, ticket, Permission.EDIT, expected_version) as c:
        t = c.ticket
        if (plan.pk if plan else None) != t.sla_plan_id:
            c.record(EventKind.SLA, _ref(t.sla_plan), _ref(plan))
            t.sla_plan = plan
            c.save(["sla_plan", *_update_due_times(t, actor, f"SLA plan changed to {plan}")])
    return ticket


def set_help_topic(
    actor: User, ticket: Ticket, topic: HelpTopic | None, *, expected_version: int | None = None
) -> Ticket:
    """Change the help topic (department, priority and SLA stay as they are: change them apart)."""
    with _changing(actor, ticket, Permission.EDIT, expected_version) as c:
        t = c.ticket
        if (topic.pk if topic else None) != t.help_topic_id:
            c.record(EventKind.HELP_TOPIC, _ref(t.help_topic), _ref(topic))
            t.help_topic = topic
            c.save(["help_topic"])
    return ticket


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
        raise ValidationError({"due_at": "The due time needs a time zone."})
    with change.locked() as c:
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
        c.save(["due_at", "due_at_manual", "first_response_due_at", "is_overdue"])
    return ticket
