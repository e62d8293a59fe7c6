"""The permission matrix: every role × every action that needs a permission, one test per cell.

An agent whose only access to the ticket's department is the role under test calls the action.
Allowed iff the role allows it; a refusal raises AccessDenied and changes nothing at all.
Then the edges: restricted departments, cross-department assignment, requesters, admin, explain().
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from helpline.accounts.models import Agent, DepartmentAccess, Permission, Role, User
from helpline.tickets import access, actions
from helpline.tickets.models import (
    Attachment,
    Collaborator,
    EntryKind,
    Event,
    EventKind,
    Notification,
    SLAPause,
    State,
    ThreadEntry,
    Ticket,
)

# What the demo roles allow, written out by hand so the matrix does not just echo Role.allows().
DEMO_ROLES = {
    "Expanded Access": {"reply", "note", "assign", "transfer", "edit", "status", "close", "merge"},
    "All Access": {p.value for p in Permission},
    "Limited Access": {"reply", "note", "status", "close"},
    "View only": set(),
}
# One generated role per permission, holding exactly that permission.
SINGLE_PERMISSION_ROLES = {f"Only {p.value}": {p.value} for p in Permission}
ROLES = {**DEMO_ROLES, **SINGLE_PERMISSION_ROLES}

MANUAL_DUE = datetime(2031, 5, 6, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Action:
    """One ticket-changing action: the permission it needs, how to call it, how to see it worked."""

    name: str
    permission: str
    call: Callable
    effect: Callable


def _fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_related("department", "status", "priority", "sla_plan").get(
        pk=ticket.pk
    )


ACTIONS = [
    Action(
        "reply",
        "reply",
        lambda u, d: actions.reply(u, d.ticket, "We are looking into it."),
        lambda d: d.ticket.entries.filter(kind=EntryKind.REPLY).count() == 1,
    ),
    Action(
        "add_note",
        "note",
        lambda u, d: actions.add_note(u, d.ticket, "Checked the logs."),
        lambda d: d.ticket.entries.filter(kind=EntryKind.NOTE).count() == 1,
    ),
    Action(
        "assign",
        "assign",
        lambda u, d: actions.assign(u, d.ticket, agent=d.assign_target),
        lambda d: _fresh(d.ticket).assignee_id == d.assign_target.pk,
    ),
    Action(
        "release",
        "assign",
        lambda u, d: actions.release(u, d.ticket),
        lambda d: _fresh(d.ticket).assignee_id is None and _fresh(d.ticket).team_id is None,
    ),
    Action(
        "transfer",
        "transfer",
        lambda u, d: actions.transfer(u, d.ticket, d.transfer_target),
        lambda d: _fresh(d.ticket).department_id == d.transfer_target.pk,
    ),
    Action(
        "set_status_open",
        "status",
        lambda u, d: actions.set_status(u, d.ticket, d.org.status("Work in Progress")),
        lambda d: _fresh(d.ticket).status.name == "Work in Progress",
    ),
    Action(
        "set_status_resolved",
        "close",
        lambda u, d: actions.set_status(u, d.ticket, d.org.status("Resolved")),
        lambda d: _fresh(d.ticket).state == State.RESOLVED,
    ),
    Action(
        "set_priority",
        "edit",
        lambda u, d: actions.set_priority(u, d.ticket, d.org.priority("high")),
        lambda d: _fresh(d.ticket).priority.name == "high",
    ),
    Action(
        "set_sla_plan",
        "edit",
        lambda u, d: actions.set_sla_plan(u, d.ticket, d.sla_target),
        lambda d: _fresh(d.ticket).sla_plan_id == d.sla_target.pk,
    ),
    Action(
        "set_help_topic",
        "edit",
        lambda u, d: actions.set_help_topic(u, d.ticket, d.org.topic("Hardware")),
        lambda d: _fresh(d.ticket).help_topic.name == "Hardware",
    ),
    Action(
        "set_due_time",
        "edit",
        lambda u, d: actions.set_due_time(u, d.ticket, MANUAL_DUE),
        lambda d: _fresh(d.ticket).due_at == MANUAL_DUE and _fresh(d.ticket).due_at_manual,
    ),
    Action(
        "add_collaborator",
        "edit",
        lambda u, d: actions.add_collaborator(u, d.ticket, d.people.ken),
        lambda d: Collaborator.objects.filter(ticket=d.ticket, user=d.people.ken).exists(),
    ),
    Action(
        "merge",
        "merge",
        lambda u, d: actions.merge(u, d.ticket, d.other),
        lambda d: (
            _fresh(d.ticket).merged_into_id == d.other.pk and _fresh(d.ticket).state == State.CLOSED
        ),
    ),
]
ACTION_NAMES = [a.name for a in ACTIONS]
BY_NAME = {a.name: a for a in ACTIONS}
ADD_MESSAGE = Action(
    "add_message",
    "message",
    lambda u, d: actions.add_message(u, d.ticket, "Any news?"),
    lambda d: d.ticket.entries.filter(kind=EntryKind.MESSAGE).count() == 2,
)
EVERY_ACTION = [*ACTIONS, ADD_MESSAGE]


# ---------------------------------------------------------------------------------------------
# Helpers


def _user(username: str) -> User:
    """A fresh user object: no agent profile or department roles cached from earlier calls."""
    return User.objects.get(username=username)


@pytest.fixture
def people(demo) -> SimpleNamespace:
    names = ["john", "jane", "garnet", "admin", "karen", "ken", "greg"]
    return SimpleNamespace(**{n: _user(n) for n in names})


def _state_of_the_world(*tickets: Ticket) -> tuple:
    """Every column of the given tickets plus the row counts an action could add to."""
    rows = []
    for t in tickets:
        fresh = Ticket.objects.get(pk=t.pk)
        rows.append({f.attname: getattr(fresh, f.attname) for f in Ticket._meta.concrete_fields})
    counts = {
        model.__name__: model.objects.count()
        for model in (ThreadEntry, Event, Collaborator, Notification, SLAPause, Attachment)
    }
    return rows, counts


def _targets(org, people, ticket: Ticket, other: Ticket) -> SimpleNamespace:
    """What the actions act with: each differs from the ticket's current value, so an allowed
    action always changes something."""
    department = ticket.department.name
    assign_target = people.garnet if department == "Support" else people.jane
    if ticket.assignee_id == assign_target.pk:
        assign_target = people.admin
    return SimpleNamespace(
        ticket=ticket,
        other=other,
        org=org,
        people=people,
        assign_target=assign_target,
        transfer_target=org.dept("Online Banking" if department == "Support" else "Support"),
        sla_target=org.sla("Sev-B" if ticket.sla_plan.name == "Sev-A" else "Sev-A"),
    )


def _desk(org, people, department: str, *, agent=None, team=None) -> SimpleNamespace:
    """Two tickets from Karen in `department` (the second is the merge target), both assigned
    alike, with the targets the actions use."""
    tickets = []
    for subject in ("Cannot sign in", "Password reset loops"):
        t = actions.open_ticket(
            people.karen,
            requester=people.karen,
            subject=subject,
            body="Please help.",
            department=org.dept(department),
        )
        if agent is not None or team is not None:
            actions.assign(_user("admin"), t, agent=agent, team=team)
        tickets.append(_fresh(t))
    return _targets(org, people, *tickets)


def _role(name: str) -> Role:
    if name in DEMO_ROLES:
        role = Role.objects.get(name=name)
        # The hand-written table above must describe the demo data, or the matrix proves nothing.
        assert set(role.permissions) == DEMO_ROLES[name]
        return role
    flags = {f"can_{p.value}": p.value in ROLES[name] for p in Permission}
    return Role.objects.create(name=name, **flags)


def _probe_agent(org, role: Role, via: str) -> User:
    """An agent with `role` in Support and nothing else there: no team, no other grant.

    via="primary": Support is their primary department. via="extra": their primary department
    is Online Banking with All Access, and Support comes from a DepartmentAccess row, so a
    leak of the primary role into the extra department would show.
    """
    user = User.objects.create_user("probe", email="probe@helpline.example", name="Pat Probe")
    if via == "primary":
        Agent.objects.create(user=user, department=org.dept("Support"), role=role)
    else:
        profile = Agent.objects.create(
            user=user, department=org.dept("Online Banking"), role=org.role("All Access")
        )
        DepartmentAccess.objects.create(agent=profile, department=org.dept("Support"), role=role)
    return _user("probe")


def _assert_allowed(action: Action, actor: User, desk: SimpleNamespace) -> None:
    version = _fresh(desk.ticket).version
    action.call(actor, desk)
    assert action.effect(desk), f"{action.name} was allowed but had no effect"
    assert _fresh(desk.ticket).version == version + 1


def _assert_refused(action: Action, actor: User, desk: SimpleNamespace, error: type) -> str:
    before = _state_of_the_world(desk.ticket, desk.other)
    with pytest.raises(error) as caught:
        action.call(actor, desk)
    assert _state_of_the_world(desk.ticket, desk.other) == before, "a refusal changed something"
    return str(caught.value.message if hasattr(caught.value, "message") else caught.value)


# ---------------------------------------------------------------------------------------------
# The matrix


def _matrix_cells():
    for role_name in ROLES:
        modes = ["primary", "extra"] if role_name in DEMO_ROLES else ["primary"]
        for via in modes:
            for action in ACTIONS:
                slug = role_name.lower().replace(" ", "-")
                yield pytest.param(role_name, via, action.name, id=f"{slug}-{via}-{action.name}")


@pytest.mark.parametrize(("role_name", "via", "action_name"), list(_matrix_cells()))
def test_role_allows_exactly_its_permissions(org, people, role_name, via, action_name):
    action = BY_NAME[action_name]
    role = _role(role_name)
    actor = _probe_agent(org, role, via)
    desk = _desk(org, people, "Support", agent=people.john)
    assert access.can(actor, "view", desk.ticket)

    allowed = action.permission in ROLES[role_name]
    assert access.can(actor, action.permission, desk.ticket) is allowed
    if allowed:
        _assert_allowed(action, actor, desk)
    else:
        message = _assert_refused(action, actor, desk, access.AccessDenied)
        assert role_name in message and "Support" in message


# ---------------------------------------------------------------------------------------------
# Restricted departments: invisible, even when assigned


@pytest.fixture
def sysadmins_desk(org, people):
    # Assigned to Jane (she has SysAdmins access) so that releasing has something to undo.
    return _desk(org, people, "SysAdmins", agent=people.jane)


def _assign_john_in_restricted(org, people, desk, how: str) -> None:
    sysadmins = org.dept("SysAdmins")
    if how == "team":
        # Teams can be assigned anywhere; membership must not open a restricted department.
        for t in (desk.ticket, desk.other):
            actions.assign(people.jane, t, team=org.team("Level 1 Support"))
    else:
        # An agent cannot be assigned in a restricted department they have no access to, but the
        # assignment may predate the department being restricted.
        sysadmins.restricted = False
        sysadmins.save(update_fields=["restricted"])
        for t in (desk.ticket, desk.other):
            actions.assign(people.jane, t, agent=_user("john"))
        sysadmins.restricted = True
        sysadmins.save(update_fields=["restricted"])


@pytest.mark.parametrize("how", ["agent", "team"])
@pytest.mark.parametrize("action_name", [a.name for a in EVERY_ACTION])
def test_restricted_department_is_invisible_even_when_assigned(
    org, people, sysadmins_desk, how, action_name
):
    _assign_john_in_restricted(org, people, sysadmins_desk, how)
    john = _user("john")
    ticket = sysadmins_desk.ticket
    assert not access.can(john, "view", ticket)
    assert not access.visible_tickets(john).filter(pk=ticket.pk).exists()
    action = {a.name: a for a in EVERY_ACTION}[action_name]
    _assert_refused(action, john, sysadmins_desk, access.TicketNotFound)
    with pytest.raises(access.TicketNotFound):
        access.access_ticket(john, ticket.number)


def test_assigning_an_outsider_in_a_restricted_department_is_refused(org, people, sysadmins_desk):
    before = _state_of_the_world(sysadmins_desk.ticket)
    with pytest.raises(ValidationError) as caught:
        actions.assign(people.jane, sysadmins_desk.ticket, agent=people.john)
    assert "SysAdmins" in str(caught.value.message_dict["assignee"])
    assert _state_of_the_world(sysadmins_desk.ticket) == before


# ---------------------------------------------------------------------------------------------
# Assigned across unrestricted departments: worked with the primary role


CROSS_CASES = {
    # Garnet (Support, Limited Access) assigned a ticket in Online Banking.
    "garnet-assigned": ("garnet", "Limited Access"),
    # John (Support, Expanded Access) through his team, Level 1 Support.
    "john-via-team": ("john", "Expanded Access"),
}


@pytest.mark.parametrize("action_name", ACTION_NAMES)
@pytest.mark.parametrize("case", list(CROSS_CASES))
def test_assigned_across_departments_works_with_primary_role(org, people, case, action_name):
    username, primary_role = CROSS_CASES[case]
    if case == "garnet-assigned":
        desk = _desk(org, people, "Online Banking", agent=people.garnet)
    else:
        desk = _desk(org, people, "Online Banking", team=org.team("Level 1 Support"))
    actor = _user(username)
    assert access.visible_tickets(actor).filter(pk=desk.ticket.pk).exists()
    assert access.role_for(actor, desk.ticket).name == primary_role

    action = BY_NAME[action_name]
    if action.permission in DEMO_ROLES[primary_role]:
        _assert_allowed(action, actor, desk)
    else:
        _assert_refused(action, actor, desk, access.AccessDenied)


def test_unassigned_ticket_in_another_department_is_invisible(org, people):
    desk = _desk(org, people, "Online Banking")
    assert not access.visible_tickets(people.garnet).filter(pk=desk.ticket.pk).exists()
    _assert_refused(BY_NAME["reply"], people.garnet, desk, access.TicketNotFound)


# ---------------------------------------------------------------------------------------------
# Requesters


@pytest.fixture
def requester_tickets(org, people):
    def opened_by(user, subject):
        return actions.open_ticket(user, requester=user, subject=subject, body="Details inside.")

    karens = opened_by(people.karen, "Printer jams")
    kens = opened_by(people.ken, "Adobe upgrade for Accounting")
    gregs = opened_by(people.greg, "Shared drive is full")
    actions.add_collaborator(people.john, gregs, people.karen)
    return SimpleNamespace(karens=karens, kens=kens, gregs=gregs)


def test_requesters_see_their_own_and_collaborated_tickets_only(people, requester_tickets):
    r = requester_tickets
    assert set(access.visible_tickets(people.karen)) == {r.karens, r.gregs}
    assert set(access.visible_tickets(people.ken)) == {r.kens}
    assert set(access.visible_tickets(people.greg)) == {r.gregs}
    assert access.can(people.karen, "view", r.gregs)
    assert not access.can(people.karen, "view", r.kens)
    with pytest.raises(access.TicketNotFound):
        access.access_ticket(people.karen, r.kens.number)


@pytest.mark.parametrize("action_name", ACTION_NAMES)
def test_requester_cannot_call_agent_actions(org, people, requester_tickets, action_name):
    action = BY_NAME[action_name]
    for own in (requester_tickets.karens, requester_tickets.gregs):  # opened, collaborated
        desk = _targets(org, people, own, requester_tickets.kens)
        _assert_refused(action, people.karen, desk, access.AccessDenied)
    others = _targets(org, people, requester_tickets.kens, requester_tickets.karens)
    _assert_refused(action, people.karen, others, access.TicketNotFound)


@pytest.mark.parametrize(
    ("username", "which", "outcome"),
    [
        ("karen", "karens", "allowed"),  # requester
        ("karen", "gregs", "allowed"),  # collaborator
        ("ken", "karens", "not-found"),  # another requester
        ("john", "karens", "denied"),  # agents reply, they do not write as the requester
        ("garnet", "karens", "denied"),
        ("admin", "karens", "denied"),
    ],
)
def test_add_message_is_for_requester_and_collaborators(
    org, people, requester_tickets, username, which, outcome
):
    ticket = getattr(requester_tickets, which)
    desk = _targets(org, people, ticket, ticket)
    actor = _user(username)
    if outcome == "allowed":
        version = _fresh(ticket).version
        entry = actions.add_message(actor, ticket, "Any news?")
        assert entry.kind == EntryKind.MESSAGE and entry.author == actor
        assert _fresh(ticket).version == version + 1
    else:
        error = access.TicketNotFound if outcome == "not-found" else access.AccessDenied
        _assert_refused(ADD_MESSAGE, actor, desk, error)


# ---------------------------------------------------------------------------------------------
# Administrators


@pytest.mark.parametrize("action_name", ACTION_NAMES)
def test_admin_can_do_everything_even_in_a_restricted_department(
    org, people, sysadmins_desk, action_name
):
    admin = _user("admin")
    assert org.dept("SysAdmins").pk not in access.agent_profile(admin).department_roles()
    assert access.visible_tickets(admin).filter(pk=sysadmins_desk.ticket.pk).exists()
    _assert_allowed(BY_NAME[action_name], admin, sysadmins_desk)


# ---------------------------------------------------------------------------------------------
# visible_tickets and can(view) tell the same story


def test_visible_tickets_agrees_with_can_view_for_everyone(org, people, requester_tickets):
    support = _desk(org, people, "Support", agent=people.john)
    banking = _desk(org, people, "Online Banking", agent=people.garnet)
    banking_team = _desk(org, people, "Online Banking", team=org.team("Level 1 Support"))
    sysadmins_team = _desk(org, people, "SysAdmins", team=org.team("Level 1 Support"))
    filed_by_john = actions.open_ticket(
        people.john,
        requester=people.john,
        subject="My monitor flickers",
        body="Since Monday.",
        department=org.dept("SysAdmins"),
    )
    tickets = [
        requester_tickets.karens,
        requester_tickets.kens,
        requester_tickets.gregs,
        support.ticket,
        banking.ticket,
        banking_team.ticket,
        sysadmins_team.ticket,
        filed_by_john,
    ]
    mismatches = []
    for username in ["john", "jane", "garnet", "admin", "karen", "ken", "greg"]:
        user = _user(username)
        visible = set(access.visible_tickets(user).values_list("pk", flat=True))
        for t in tickets:
            if (t.pk in visible) != access.can(user, "view", t):
                mismatches.append((username, t.subject))
    assert mismatches == []


def test_agent_collaborator_sees_the_ticket_in_lists_too(org, people):
    desk = _desk(org, people, "Online Banking")
    actions.add_collaborator(people.jane, desk.ticket, people.garnet)
    garnet = _user("garnet")
    assert access.can(garnet, "view", desk.ticket)
    assert access.visible_tickets(garnet).filter(pk=desk.ticket.pk).exists()


# ---------------------------------------------------------------------------------------------
# explain()


def test_explain_names_the_role_and_department_when_allowed(org, people):
    desk = _desk(org, people, "Support")
    why = access.explain(_user("garnet"), desk.ticket)
    assert why.visible
    assert "Support" in str(why) and "Limited Access" in str(why)
    assert why.allowed["reply"] and not why.allowed["transfer"]


def test_explain_names_the_extra_department_access(org, people):
    desk = _desk(org, people, "SysAdmins")
    why = access.explain(_user("jane"), desk.ticket)
    assert why.visible and "SysAdmins" in str(why) and "Expanded Access" in str(why)
    assert "extra" in str(why)


def test_explain_says_the_department_is_restricted(org, people):
    desk = _desk(org, people, "SysAdmins", team=org.team("Level 1 Support"))
    why = access.explain(_user("john"), desk.ticket)
    assert not why.visible
    assert "restricted" in str(why) and "SysAdmins" in str(why)
    assert not any(why.allowed.values())


def test_explain_for_cross_department_assignment_names_the_primary_role(org, people):
    desk = _desk(org, people, "Online Banking", agent=people.garnet)
    why = access.explain(_user("garnet"), desk.ticket)
    assert why.visible and "Limited Access" in str(why) and "assigned" in str(why)


def test_explain_for_view_only_says_so(org, people):
    john = _user("john")
    DepartmentAccess.objects.create(
        agent=john.agent, department=org.dept("SysAdmins"), role=org.role("View only")
    )
    desk = _desk(org, people, "SysAdmins")
    why = access.explain(_user("john"), desk.ticket)
    assert why.visible and "View only" in str(why)
    assert not any(why.allowed.values())


def test_explain_for_requesters_and_admin(people, requester_tickets):
    r = requester_tickets
    assert "requester" in str(access.explain(people.karen, r.karens))
    assert "collaborator" in str(access.explain(people.karen, r.gregs))
    outsider = access.explain(people.karen, r.kens)
    assert not outsider.visible
    admin = access.explain(people.admin, r.kens)
    assert admin.visible and "administrator" in str(admin) and all(admin.allowed.values())


# ---------------------------------------------------------------------------------------------
# Transfer and assignees without access (scenario 3)


def test_transfer_unassigns_an_assignee_without_access_in_the_target(org, people):
    desk = _desk(org, people, "Support", agent=people.john)
    john = _user("john")
    assert access.visible_tickets(john).filter(pk=desk.ticket.pk).exists()
    actions.transfer(john, desk.ticket, org.dept("SysAdmins"))

    ticket = _fresh(desk.ticket)
    assert ticket.assignee_id is None and ticket.department.name == "SysAdmins"
    released = ticket.events.get(kind=EventKind.RELEASED)
    assert "no access to SysAdmins" in released.reason
    assert not access.visible_tickets(_user("john")).filter(pk=ticket.pk).exists()
    with pytest.raises(access.TicketNotFound):
        access.access_ticket(_user("john"), ticket.number)


def test_transfer_keeps_an_assignee_with_access_in_the_target(org, people):
    desk = _desk(org, people, "Online Banking", agent=people.jane)
    actions.transfer(_user("jane"), desk.ticket, org.dept("SysAdmins"))
    ticket = _fresh(desk.ticket)
    assert ticket.assignee_id == people.jane.pk
    assert not ticket.events.filter(kind=EventKind.RELEASED).exists()
    assert access.visible_tickets(_user("jane")).filter(pk=ticket.pk).exists()


def test_assigning_at_intake_needs_the_assign_permission(org, karen, garnet, john):
    """Choosing an assignee or team while opening is assigning; help topics may still do it."""
    team = org.team("Level 1 Support")
    before = Ticket.objects.count()
    for actor in (karen, garnet):  # A requester; an agent whose role cannot assign.
        with pytest.raises(access.AccessDenied):
            actions.open_ticket(actor, requester=karen, subject="S", body="B", team=team)
    assert Ticket.objects.count() == before
    ticket = actions.open_ticket(john, requester=karen, subject="S", body="B", team=team)
    assert ticket.team == team
