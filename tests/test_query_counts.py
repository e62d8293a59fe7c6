"""Query counts that must not grow with the data: a queue page, and the actions' notifications."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpline.accounts.models import Agent, User
from helpline.tickets import access, actions
from helpline.tickets.models import Collaborator, Priority, State, Status, Ticket

PAGE = 50
LISTING_QUERIES = 3  # the bound a queue page must stay under, however many tickets there are


def _layouts(org, people):
    """Ticket shapes that exercise every branch of visible_tickets."""
    return [
        dict(department=org.dept("Support"), requester=people["karen"], assignee=people["john"]),
        dict(
            department=org.dept("Online Banking"),
            requester=people["ken"],
            team=org.team("Online Banking Team"),
        ),
        dict(department=org.dept("SysAdmins"), requester=people["karen"]),
        dict(
            department=org.dept("Online Banking"),
            requester=people["greg"],
            team=org.team("Level 1 Support"),
            collaborator=people["karen"],
        ),
        dict(department=org.dept("Support"), requester=people["greg"], assignee=people["garnet"]),
    ]


def _add_tickets(org, count: int) -> None:
    """Insert `count` more tickets directly: this test measures reading, not the action layer."""
    people = {u.username: u for u in User.objects.all()}
    layouts = _layouts(org, people)
    status, priority = Status.default_for(State.OPEN), Priority.objects.get(name="normal")
    start = Ticket.objects.count()
    now = timezone.now()
    tickets, collaborations = [], []
    for i in range(start, start + count):
        layout = dict(layouts[i % len(layouts)])
        collaborator = layout.pop("collaborator", None)
        ticket = Ticket(
            number=f"Q{i:06d}",
            subject=f"Queue ticket {i}",
            status=status,
            state=status.state,
            priority=priority,
            created_at=now - timedelta(minutes=i),
            updated_at=now - timedelta(minutes=i),
            **layout,
        )
        tickets.append(ticket)
        if collaborator is not None:
            collaborations.append((ticket, collaborator))
    Ticket.objects.bulk_create(tickets)
    by_number = dict(Ticket.objects.values_list("number", "pk"))
    Collaborator.objects.bulk_create(
        Collaborator(ticket_id=by_number[t.number], user=u) for t, u in collaborations
    )


def _render_page(user) -> list[tuple]:
    """What a queue page shows per row, read the way the queue reads it."""
    page = (
        access.visible_tickets(user)
        .select_related("requester", "priority", "status", "assignee", "team", "department")
        .order_by("-updated_at", "-id")[:PAGE]
    )
    return [
        (
            t.number,
            t.subject,
            t.requester.display_name,
            t.priority.name,
            t.status.name,
            t.assignee.display_name if t.assignee else "",
            t.team.name if t.team else "",
            t.department.name,
            t.due_at,
            t.updated_at,
        )
        for t in page
    ]


@pytest.mark.parametrize(
    ("username", "rows_of_60"), [("john", 36), ("jane", 36), ("karen", 36), ("admin", 50)]
)
def test_queue_page_costs_the_same_for_5_and_60_tickets(
    org, django_assert_max_num_queries, username, rows_of_60
):
    user = User.objects.get(username=username)
    access.visible_tickets(user)  # warms the per-request agent-profile cache

    _add_tickets(org, 5)
    with CaptureQueriesContext(connection) as few:
        rows = _render_page(user)
    assert len(rows) == (5 if username == "admin" else 3)

    _add_tickets(org, 55)
    with django_assert_max_num_queries(LISTING_QUERIES), CaptureQueriesContext(connection) as many:
        rows = _render_page(user)
    assert len(rows) == rows_of_60
    assert len(few) == len(many)


def test_visible_tickets_builds_its_filter_once_per_request(org, john):
    john = User.objects.get(pk=john.pk)
    access.visible_tickets(john)
    with CaptureQueriesContext(connection) as repeat:
        for _ in range(5):
            access.visible_tickets(john).count()
    assert len(repeat) == 5  # one count each; profile, departments and teams are cached


def _collaborators(ticket: Ticket, n: int) -> None:
    users = User.objects.bulk_create(
        User(username=f"cc{ticket.pk}-{i}", email=f"cc{ticket.pk}-{i}@example.com")
        for i in range(n)
    )
    Collaborator.objects.bulk_create(Collaborator(ticket=ticket, user=u) for u in users)


def test_a_reply_costs_the_same_for_1_and_12_collaborators(org, karen, john):
    counts = []
    for n in (1, 12):
        ticket = actions.open_ticket(
            karen,
            requester=karen,
            subject=f"CC {n}",
            body="Copying colleagues.",
        )
        _collaborators(ticket, n)
        john = User.objects.get(pk=john.pk)
        actions.reply(john, ticket, "Warm-up")  # first reply also sets first_responded_at
        with CaptureQueriesContext(connection) as ctx:
            actions.reply(john, ticket, "An update for everyone.")
        counts.append(len(ctx))
    assert counts[0] == counts[1]


def test_a_team_message_alert_costs_the_same_for_small_and_large_teams(org, karen, john):
    counts = []
    for size in (1, 10):
        team = org.team("Level 1 Support")
        extra = []
        for i in range(size):
            u = User.objects.create_user(f"agent{size}-{i}", email=f"a{size}-{i}@helpline.example")
            extra.append(
                Agent.objects.create(
                    user=u, department=org.dept("Support"), role=org.role("Limited Access")
                )
            )
        team.members.add(*extra)
        # Assigned at intake by the help desk (a requester may not choose a team).
        ticket = actions.open_ticket(
            None, requester=karen, subject=f"Team {size}", body="Hi.", team=team
        )
        with CaptureQueriesContext(connection) as ctx:
            actions.add_message(User.objects.get(pk=karen.pk), ticket, "More details.")
        counts.append(len(ctx))
    assert counts[0] == counts[1]
