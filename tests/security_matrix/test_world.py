"""The matrix's assumptions, checked against the database (never against tickets.access).

The rule table in conftest.py describes roles, people and tickets in plain data. If the demo
organisation changes (a role gains a permission, an agent changes department), these fail first
and say which assumption broke, rather than hundreds of cells failing for no visible reason.
"""

import pytest

from helpline.accounts.models import Agent, Department, DepartmentAccess, Role
from helpline.tickets.models import Collaborator
from tests.security_matrix.conftest import (
    ALL_PERMISSIONS,
    PERSONAS,
    RESTRICTED,
    ROLE_PERMISSIONS,
    SITUATIONS,
    SPECS,
    relation,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role_name", ROLE_PERMISSIONS)
def test_role_flags_match_the_rule_table(world, role_name):
    role = Role.objects.get(name=role_name)
    granted = {p for p in ALL_PERMISSIONS if getattr(role, f"can_{p}")}
    assert granted == ROLE_PERMISSIONS[role_name]


def test_restricted_departments_match(world):
    restricted = set(Department.objects.filter(restricted=True).values_list("name", flat=True))
    assert restricted == RESTRICTED


@pytest.mark.parametrize("name", PERSONAS)
def test_people_match_the_rule_table(world, name):
    persona = PERSONAS[name]
    if persona.kind == "anonymous":
        return
    user = world.user(name)
    assert user.is_active and user.is_superuser == (persona.kind == "admin")
    agent = Agent.objects.filter(user=user).select_related("department", "role").first()
    if persona.kind == "requester":
        assert agent is None
        return
    if persona.kind == "admin":
        return  # an administrator's profile does not matter: they see and may do everything
    roles = {agent.department.name: agent.role.name}
    for extra in DepartmentAccess.objects.filter(agent=agent).select_related("department", "role"):
        roles.setdefault(extra.department.name, extra.role.name)
    assert agent.is_active and agent.department.name == persona.primary
    assert roles == persona.roles
    assert set(agent.teams.values_list("name", flat=True)) == set(persona.teams)


@pytest.mark.parametrize("key", SPECS)
def test_tickets_match_their_specs(world, key):
    spec, ticket = SPECS[key], world.ticket(key)
    assert ticket.department.name == spec.department
    assert ticket.requester_id == world.users[spec.requester]
    assert ticket.assignee_id == (world.users[spec.assignee] if spec.assignee else None)
    assert (ticket.team.name if ticket.team_id else None) == spec.team
    collaborators = set(
        Collaborator.objects.filter(ticket=ticket).values_list("user_id", flat=True)
    )
    assert collaborators == {world.users[name] for name in spec.collaborators}


def test_every_kind_of_situation_is_covered():
    """The situations of the issue, each at least once, with both outcomes where they apply."""
    covered = {situation for _, situation, _ in SITUATIONS}
    assert covered >= {
        "own_dept",
        "other_dept",
        "restricted",
        "assigned_to_me",
        "assigned_to_my_team",
        "requester_own",
        "another_requesters",
        "collaborator",
    }
    seen = {relation(p, k).visible for p, _, k in SITUATIONS}
    assert seen == {True, False}
