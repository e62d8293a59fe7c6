"""The agent dashboard: cheap counts that link to their queues, "My tickets", times in the agent's
time zone, and the relative-time filters."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpline.tickets import actions, queues
from helpline.tickets.models import Ticket
from helpline.tickets.templatetags.helpline_staff import ago, capped, due_relative


def open_for(requester, subject, topic, **kwargs):
    return actions.open_ticket(
        requester, requester=requester, subject=subject, body="Details.", help_topic=topic, **kwargs
    )


def set_due(ticket, due):
    # A fixture shortcut: the product moves due times through actions and SLA plans.
    Ticket.objects.filter(pk=ticket.pk).update(due_at=due)
    ticket.refresh_from_db()


@pytest.fixture
def noon():
    """A fixed "now": noon today in the help desk's time zone, so days never roll over mid-test."""
    return queues.local_day_start(timezone.localdate()) + timedelta(hours=12)


@pytest.fixture
def known(org, karen, ken, john, jane, noon):
    """A known set of Support tickets around `noon`."""
    topic = org.topic("General Inquiry")
    day = queues.local_day_start(timezone.localdate(noon))
    t = {name: open_for(karen, name, topic) for name in (
        "due this evening", "overdue this morning", "overdue yesterday", "due tomorrow",
        "mine, no due time", "resolved in time", "resolved late", "pending",
    )}  # fmt: skip
    set_due(t["due this evening"], day + timedelta(hours=18))
    set_due(t["overdue this morning"], day + timedelta(hours=6))
    set_due(t["overdue yesterday"], day - timedelta(hours=6))
    set_due(t["due tomorrow"], day + timedelta(hours=36))
    set_due(t["mine, no due time"], None)
    actions.assign(john, t["mine, no due time"], agent=john)
    actions.assign(john, t["due tomorrow"], agent=john)
    actions.assign(john, t["overdue yesterday"], team=org.team("Level 1 Support"))
    # Resolved now (this week); one before its due time, one after.
    set_due(t["resolved in time"], timezone.now() + timedelta(days=2))
    set_due(t["resolved late"], timezone.now() - timedelta(days=2))
    actions.set_status(john, t["resolved in time"], org.status("Resolved"))
    actions.set_status(john, t["resolved late"], org.status("Resolved"))
    actions.set_status(john, t["pending"], org.status("Pending"))
    # Jane's department: never counted for John.
    open_for(ken, "banking", org.topic("Business Critical Outage"))
    return t


def test_dashboard_counts_for_a_known_set(known, john, noon):
    counts = queues.dashboard_counts(john, now=noon)
    assert counts == {
        "open": 5,  # every open ticket but the pending and resolved ones
        "overdue": 2,  # this morning and yesterday
        "due_today": 2,  # this evening and this morning (overdue but due today)
        "unassigned": 2,  # this evening and this morning (yesterday's is on a team)
        "resolved_in_sla": 1,
    }


def test_resolved_last_week_is_not_this_weeks(known, john, noon):
    last_week = queues.local_day_start(queues.week_start(timezone.localdate(noon))) - timedelta(
        hours=1
    )
    Ticket.objects.filter(pk=known["resolved in time"].pk).update(resolved_at=last_week)
    assert queues.dashboard_counts(john, now=noon)["resolved_in_sla"] == 0


def test_due_today_is_the_viewers_day(org, karen, john):
    # Noon on a day in Kiritimati (UTC+14) is still the previous day in New York.
    kiritimati = ZoneInfo("Pacific/Kiritimati")
    now = datetime(2026, 3, 10, 12, 0, tzinfo=kiritimati)
    ticket = open_for(karen, "late evening there", org.topic("General Inquiry"))
    set_due(ticket, datetime(2026, 3, 10, 23, 0, tzinfo=kiritimati))
    with timezone.override(kiritimati):
        assert queues.dashboard_counts(john, now=now)["due_today"] == 1
    with timezone.override(ZoneInfo("America/New_York")):
        assert queues.dashboard_counts(john, now=now)["due_today"] == 0


def test_dashboard_page_cards_link_to_their_queues(client, known, john):
    client.force_login(john)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/staff/")
    assert response.status_code == 200
    assert len(ctx.captured_queries) <= 12
    cards = {label: (count, url) for label, count, url in response.context["cards"]}
    # Counted at the real "now": the two fixed-time overdue tickets are overdue whatever the hour.
    assert cards["Open"] == (5, "/staff/queues/open/")
    assert cards["Unassigned"] == (2, "/staff/queues/unassigned/")
    assert cards["Resolved within SLA this week"][0] == 1
    assert cards["Overdue"][1] == "/staff/queues/overdue/"
    # Every card's link lists exactly what the card counts.
    for label, (count, url) in cards.items():
        listed = client.get(url).context["page"].tickets
        assert len(listed) == count, label
    html = response.content.decode()
    assert 'href="/staff/queues/open/?due=today"' in html


def test_my_tickets_top_ten_soonest_due_first(client, org, karen, john):
    client.force_login(john)
    topic = org.topic("General Inquiry")
    start = timezone.now() + timedelta(hours=1)
    tickets = []
    for i in range(12):
        t = open_for(karen, f"Mine {i:02d}", topic)
        actions.assign(john, t, agent=john)
        set_due(t, start + timedelta(hours=12 - i))
        tickets.append(t)
    shown = [t.number for t in client.get("/staff/").context["my_tickets"]]
    assert shown == [t.number for t in reversed(tickets)][:10]


def test_times_are_shown_in_the_agents_time_zone(client, org, karen, john):
    john.agent.timezone = "Asia/Kolkata"
    john.agent.save()
    client.force_login(john)
    ticket = open_for(karen, "Zoned", org.topic("General Inquiry"))
    actions.assign(john, ticket, agent=john)
    due = datetime(2030, 1, 2, 3, 4, tzinfo=ZoneInfo("UTC"))
    set_due(ticket, due)
    html = client.get("/staff/").content.decode()
    assert "2 Jan, 08:34" in html  # 03:04 UTC is 08:34 in Kolkata (UTC+5:30)
    assert "IST" in html


def test_relative_time_filters():
    now = timezone.now()
    assert due_relative(now + timedelta(minutes=45, seconds=10), now) == "in 45 min"
    assert due_relative(now - timedelta(hours=3, minutes=5), now) == "3 h overdue"
    assert due_relative(now + timedelta(days=3, hours=1), now) == "in 3 days"
    assert due_relative(None, now) == ""
    assert ago(now - timedelta(seconds=20), now) == "just now"
    assert ago(now - timedelta(minutes=5), now) == "5 min ago"
    assert ago(now - timedelta(hours=30), now) == "30 h ago"
    assert capped(999) == "999" and capped(1000) == "999+" and capped(0) == "0"
