"""The default queues' queries use their indexes (EXPLAIN on PostgreSQL).

A few thousand generated tickets are enough for realistic statistics; sequential scans are
priced out (enable_seqscan = off) so that a Seq Scan on tickets_ticket in a plan means "no
index can serve this query" rather than "the table is small". The plans at 1,000,000 tickets
(docs/scale.md) use the same indexes.
"""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpline.accounts.models import User
from helpline.bench.load import seed
from helpline.tickets import queues
from helpline.tickets.models import State, Ticket
from tests.databases import postgres_only

pytestmark = [
    *postgres_only(
        "query plans are PostgreSQL's (EXPLAIN); CI runs this file there (scripts/pg-throwaway.sh)"
    ),
]

TICKETS = 3000

# Queue → indexes its first page may use, for John (an agent of Support). Which one wins
# depends on the data; any of them serves the queue's filter without reading the whole table.
EXPECTED = {
    "open": ("ticket_state_due", "ticket_state_updated", "ticket_open_not_overdue_due"),
    "mine": ("ticket_assignee_state",),
    "teams": ("ticket_team_state",),
    "unassigned": ("ticket_state_due", "ticket_assignee_state", "ticket_state_updated"),
    "overdue": ("ticket_state_due", "ticket_state_updated", "ticket_open_not_overdue_due"),
    "pending": ("ticket_state_updated", "ticket_state_due"),
    "resolved": ("ticket_state_updated", "ticket_state_due"),
    "closed": ("ticket_updated",),
    "all": ("ticket_updated",),
}
CASES = [pytest.param(slug, indexes) for slug, indexes in EXPECTED.items()]


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """TICKETS committed tickets (one connection, no parallel builds), removed afterwards."""
    with django_db_blocker.unblock():
        seed(TICKETS, batch=1000, out=io.StringIO(), drop_indexes=False, record=False, threads=1)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        yield
        call_command("flush", interactive=False, verbosity=0)


def plan_of(qs) -> str:
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute(f"EXPLAIN {sql}", params)
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")


def first_page(qs, sort: str):
    return queues.sorted_tickets(qs, sort).select_related(*queues.TABLE_RELATED)[:51]


@pytest.mark.parametrize("slug, indexes", CASES)
def test_default_queue_uses_its_index(seeded, db, slug, indexes):
    john = User.objects.get(username="john")
    queue = queues.QUEUES[slug]
    plan = plan_of(first_page(queue.tickets(john), queue.default_sort))
    assert "Seq Scan on tickets_ticket" not in plan, plan
    assert any(index in plan for index in indexes), plan


def test_search_uses_the_gin_index_and_probes_tickets_by_key(seeded, db):
    john = User.objects.get(username="john")
    for text in ("kerfuffle", '"blue screen of death"', "invoice -printer"):
        plan = plan_of(first_page(queues.QUEUES["all"].tickets(john, {"text": text}), "-updated"))
        assert "search_document_gin" in plan, plan
        assert "Seq Scan on tickets_ticket" not in plan, plan
        assert "Seq Scan on search_ticketdocument" not in plan, plan


def test_overdue_sweep_uses_the_partial_index(seeded, db):
    due = Ticket.objects.filter(state=State.OPEN, is_overdue=False, due_at__lt=timezone.now())
    plan = plan_of(due.order_by("pk")[:500])
    assert "ticket_open_not_overdue_due" in plan, plan


def test_a_deep_keyset_page_costs_the_queries_of_the_first(seeded, client):
    john = User.objects.get(username="john")
    client.force_login(john)
    url = "/staff/queues/closed/"
    client.get(url)
    with CaptureQueriesContext(connection) as first:
        response = client.get(url)
    cursor = response.context["page"].next_cursor
    for _ in range(5):
        cursor = client.get(url, {"after": cursor}).context["page"].next_cursor
    with CaptureQueriesContext(connection) as deep:
        response = client.get(url, {"after": cursor})
    assert response.status_code == 200 and len(response.context["page"].tickets) == 50
    assert len(deep.captured_queries) == len(first.captured_queries)
