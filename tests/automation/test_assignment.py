"""Auto-assignment: round robin is fair and skips agents on vacation; fewest open tickets;
team restriction; help topic policy wins; the event names the method."""

import threading
from collections import Counter

import pytest
from django.db import connection

from helpline.accounts.models import Agent, DepartmentAccess, User
from helpline.automation.models import AssignmentPolicy
from helpline.tickets import actions
from helpline.tickets.models import EventKind


@pytest.fixture
def banking_agents(org, jane):
    """Jane plus three more agents who can reply in Online Banking (one through extra access)."""
    full = org.role("All Access")
    banking = org.dept("Online Banking")
    people = [jane]
    for name in ("amir", "bea"):
        user = User.objects.create(username=name, email=f"{name}@helpline.example", name=name)
        Agent.objects.create(user=user, department=banking, role=full)
        people.append(user)
    carl = User.objects.create(username="carl", email="carl@helpline.example", name="carl")
    profile = Agent.objects.create(user=carl, department=org.dept("Support"), role=full)
    DepartmentAccess.objects.create(agent=profile, department=banking, role=full)
    people.append(carl)
    # Someone who may only look never gets tickets.
    viewer = User.objects.create(username="vic", email="vic@helpline.example")
    Agent.objects.create(user=viewer, department=banking, role=org.role("View only"))
    return people


def _open(org, karen, n=1, **kwargs):
    kwargs.setdefault("department", org.dept("Online Banking"))
    return [
        actions.open_ticket(karen, requester=karen, subject=f"Card blocked {i}", body="x", **kwargs)
        for i in range(n)
    ]


def test_round_robin_is_fair(org, karen, banking_agents):
    AssignmentPolicy.objects.create(department=org.dept("Online Banking"), method="round_robin")
    tickets = _open(org, karen, n=12)
    counts = Counter(t.assignee.username for t in tickets)
    assert counts == {u.username: 3 for u in banking_agents}
    # Strict turns: the same order every round.
    order = [t.assignee_id for t in tickets]
    assert order[:4] == order[4:8] == order[8:]
    event = tickets[0].events.get(kind=EventKind.ASSIGNED)
    assert event.actor is None and "round robin" in event.reason


def test_round_robin_skips_agents_on_vacation_and_inactive(org, karen, banking_agents):
    AssignmentPolicy.objects.create(department=org.dept("Online Banking"), method="round_robin")
    jane, amir, bea, carl = banking_agents
    Agent.objects.filter(user=amir).update(on_vacation=True)
    Agent.objects.filter(user=bea).update(is_active=False)
    assignees = {t.assignee for t in _open(org, karen, n=6)}
    assert assignees == {jane, carl}


def test_round_robin_within_a_team(org, karen, banking_agents):
    jane, amir, *_ = banking_agents
    team = org.team("Online Banking Team")
    team.members.add(Agent.objects.get(user=amir))
    AssignmentPolicy.objects.create(
        department=org.dept("Online Banking"), method="round_robin", team=team
    )
    tickets = _open(org, karen, n=4)
    assert Counter(t.assignee for t in tickets) == {jane: 2, amir: 2}
    assert "in Online Banking Team" in tickets[0].events.get(kind=EventKind.ASSIGNED).reason


def test_fewest_open_tickets(org, karen, banking_agents):
    jane, amir, bea, carl = banking_agents
    busy = _open(org, karen, n=3)
    for ticket, agent in zip(busy, (jane, amir, bea), strict=True):
        actions.assign(None, ticket, agent=agent)
    resolved = _open(org, karen)[0]
    actions.assign(None, resolved, agent=carl)
    actions.set_status(None, resolved, org.status("Resolved"))
    AssignmentPolicy.objects.create(department=org.dept("Online Banking"), method="fewest_open")
    (ticket,) = _open(org, karen)
    assert ticket.assignee == carl  # his only ticket is resolved: zero open
    assert "fewest open tickets (0)" in ticket.events.get(kind=EventKind.ASSIGNED).reason


def test_help_topic_policy_wins_over_the_department_and_none_leaves_it(org, karen, banking_agents):
    topic = org.topic("Business Critical Outage")
    AssignmentPolicy.objects.create(department=org.dept("Online Banking"), method="round_robin")
    AssignmentPolicy.objects.create(help_topic=topic, method="none")
    (ticket,) = _open(org, karen, help_topic=topic, department=None)
    assert ticket.assignee is None
    (other,) = _open(org, karen)
    assert other.assignee is not None


def test_an_explicit_assignee_or_rule_wins(org, karen, banking_agents, make_rule):
    jane, amir, *_ = banking_agents
    AssignmentPolicy.objects.create(department=org.dept("Online Banking"), method="round_robin")
    make_rule(
        "cards to amir",
        conditions=[("subject", "contains", "card")],
        actions=[("assign_agent", {"agent": amir})],
    )
    tickets = _open(org, karen, n=3)
    assert {t.assignee for t in tickets} == {amir}
    assert "routing rule" in tickets[0].events.get(kind=EventKind.ASSIGNED).reason


def test_no_available_agent_is_said(org, karen):
    AssignmentPolicy.objects.create(department=org.dept("SysAdmins"), method="round_robin")
    Agent.objects.update(on_vacation=True)
    (ticket,) = _open(org, karen, department=org.dept("SysAdmins"))
    assert ticket.assignee is None
    assert "No agent available" in ticket.events.get(kind=EventKind.RULE).reason


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_round_robin_is_fair_under_concurrent_intake(org, karen, banking_agents):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    AssignmentPolicy.objects.create(department=org.dept("Online Banking"), method="round_robin")
    results, errors = [], []

    def work():
        try:
            for _ in range(4):
                results.extend(_open(org, karen))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert Counter(t.assignee_id for t in results) == {u.pk: 4 for u in banking_agents}
