"""Report and dashboard figures count only the tickets the viewer works as an agent.

Jane is an agent of Online Banking and SysAdmins. Tickets she opened in Support, where she has
no role, are hers as a requester: she may read them, but they are not part of her figures.
"""

import csv
import io

import pytest
from django.utils import timezone

from helpline.reports import queries
from helpline.reports.models import CsatSurvey
from helpline.reports.periods import Period
from helpline.tickets import actions

pytestmark = pytest.mark.django_db


@pytest.fixture
def jane_asks_support(org, john, jane, karen):
    """Two Support tickets Jane requested (one open, one resolved in time with a rated survey)
    and one Online Banking ticket she works."""
    general = org.topic("General Inquiry")
    still_open = actions.open_ticket(
        jane, requester=jane, subject="My monitor flickers", body="Since Monday.",
        help_topic=general,
    )  # fmt: skip
    answered = actions.open_ticket(
        jane, requester=jane, subject="Need a new mouse", body="The wheel is broken.",
        help_topic=general,
    )  # fmt: skip
    actions.reply(john, answered, "A new one is on its way.")
    actions.set_status(john, answered, org.status("Resolved"))
    CsatSurvey.objects.update_or_create(
        ticket=answered,
        defaults={
            "email": jane.email, "rating": 5, "comment": "Quick, thank you",
            "responded_at": timezone.now(),
        },
    )  # fmt: skip
    banking = actions.open_ticket(
        karen, requester=karen, subject="Card payments fail", body="Since noon.",
        help_topic=org.topic("Business Critical Outage"),
    )  # fmt: skip
    return {"open": still_open, "answered": answered, "banking": banking}


@pytest.fixture
def today():
    day = timezone.localdate()
    return Period(day, day, timezone.get_current_timezone())


def test_report_figures_leave_out_the_tickets_she_only_requested(jane_asks_support, jane, today):
    report = queries.group_report(jane, today, "department")
    assert [f.label for f in report.rows] == ["Online Banking"]
    total = report.total
    assert (total.created, total.resolved, total.backlog) == (1, 0, 1)
    assert (total.res_targets, total.csat_answered) == (0, 0)
    assert sum(d.created for d in queries.daily(jane, today)) == 1
    assert list(queries.csat_comments(jane, today)) == []
    assert sum(b.wall for b in queries.resolution_distribution(jane, today)) == 0


def test_the_agents_of_the_department_count_them(jane_asks_support, john, today):
    report = queries.group_report(john, today, "department")
    assert [f.label for f in report.rows] == ["Support"]
    assert (report.total.created, report.total.resolved, report.total.backlog) == (2, 1, 1)
    assert [s.comment for s in queries.csat_comments(john, today)] == ["Quick, thank you"]


def test_the_report_page_and_its_export(jane_asks_support, jane, client, today):
    client.force_login(jane)
    day = today.first_day.isoformat()
    query = f"period=custom&start={day}&end={day}&group=department"
    html = client.get(f"/staff/reports/?{query}").content.decode()
    assert "Quick, thank you" not in html
    exported = client.get(f"/staff/reports/export/volume.csv?{query}").content.decode()
    rows = list(csv.reader(io.StringIO(exported)))
    assert [row[0] for row in rows[1:]] == ["Online Banking", "All"]


def _cards(client, user):
    client.force_login(user)
    response = client.get("/staff/")
    assert response.status_code == 200
    return {label: count for label, count, _ in response.context["cards"]}


def test_dashboard_counts_leave_out_the_tickets_she_only_requested(
    jane_asks_support, jane, john, client
):
    cards = _cards(client, jane)
    assert cards["Open"] == 1  # Card payments fail
    assert cards["Unassigned"] == 1
    assert cards["Resolved within SLA this week"] == 0
    cards = _cards(client, john)
    assert cards["Open"] == 1  # My monitor flickers
    assert cards["Unassigned"] == 1
    assert cards["Resolved within SLA this week"] == 1
