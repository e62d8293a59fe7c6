"""access.worked_tickets(user): the tickets a user works as an agent, in one query.

It must be exactly the tickets where role_for(user, ticket) is not None (administrators: all):
search, reports and the dashboard rely on it to leave out tickets an agent only requested or is
CC'd on in a department where they have no role.
"""

import pytest

from helpline.accounts.models import User
from helpline.tickets import access, actions
from helpline.tickets.models import Ticket


def _open(requester, subject, topic, org):
    return actions.open_ticket(
        requester, requester=requester, subject=subject, body="Details.",
        help_topic=org.topic(topic),
    )  # fmt: skip


@pytest.fixture
def tickets(org, john, jane, karen, greg):
    """Tickets in every relation to the demo agents: own department, extra department, assigned
    across departments (to a person, to a team), restricted, requested, CC'd."""
    t = {
        "support": _open(karen, "Support", "General Inquiry", org),
        "banking": _open(karen, "Banking", "Business Critical Outage", org),
        "sysadmins": _open(greg, "SysAdmins", "Sev-A Emergency", org),
        "jane_requested": _open(jane, "Jane asks Support", "General Inquiry", org),
        "jane_cc": _open(karen, "Jane CC'd in Support", "General Inquiry", org),
        "to_jane": _open(karen, "Assigned to Jane", "General Inquiry", org),
        "to_banking_team": _open(karen, "Assigned to her team", "General Inquiry", org),
        "john_requested": _open(john, "John asks SysAdmins", "Sev-A Emergency", org),
    }
    actions.add_collaborator(john, t["jane_cc"], jane)
    actions.assign(john, t["to_jane"], agent=jane)
    actions.assign(john, t["to_banking_team"], team=org.team("Online Banking Team"))
    # A restricted department: an assignment there grants nothing (set directly: the action
    # layer refuses to assign someone without access).
    Ticket.objects.filter(pk=t["john_requested"].pk).update(assignee=john)
    return t


def _fresh(user):
    # A new user object: agent profiles are cached on it.
    return User.objects.get(pk=user.pk)


def test_worked_tickets_are_exactly_those_with_a_role(tickets, admin_user, john, jane, garnet):
    everything = list(Ticket.objects.select_related("department"))
    for user in (admin_user, john, jane, garnet):
        user = _fresh(user)
        expected = {
            t.number
            for t in everything
            if access.is_admin(user) or access.role_for(user, t) is not None
        }
        worked = set(access.worked_tickets(user).values_list("number", flat=True))
        assert worked == expected, user.username
        # The same condition, as used inside one bigger query (search).
        inline = set(
            Ticket.objects.filter(access.worked_condition(user)).values_list("number", flat=True)
        )
        assert inline == expected, user.username


def test_requested_and_cc_tickets_are_visible_but_not_worked(tickets, jane, john):
    jane = _fresh(jane)
    worked = set(access.worked_tickets(jane).values_list("number", flat=True))
    visible = set(access.visible_tickets(jane).values_list("number", flat=True))
    for key in ("jane_requested", "jane_cc"):
        assert tickets[key].number in visible
        assert tickets[key].number not in worked
    for key in ("banking", "sysadmins", "to_jane", "to_banking_team"):
        assert tickets[key].number in worked
    assert tickets["support"].number not in visible
    john = _fresh(john)
    assert not access.worked_tickets(john).filter(pk=tickets["john_requested"].pk).exists()
    assert access.visible_tickets(john).filter(pk=tickets["john_requested"].pk).exists()


def test_requesters_and_nobody_work_nothing(tickets, karen, jane):
    assert not access.worked_tickets(karen).exists()
    assert not access.worked_tickets(None).exists()
    assert not Ticket.objects.filter(access.worked_condition(karen)).exists()
    jane.is_active = False
    assert not access.worked_tickets(jane).exists()


def test_worked_tickets_narrows_a_given_queryset(tickets, jane):
    jane = _fresh(jane)
    open_ones = Ticket.objects.filter(subject__startswith="Assigned")
    assert set(access.worked_tickets(jane, open_ones).values_list("subject", flat=True)) == {
        "Assigned to Jane",
        "Assigned to her team",
    }
