"""The ticket page as agents see it: header, thread with history, controls by permission."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import dateformat, timezone

from helpline.accounts.models import Agent
from helpline.tickets import actions
from helpline.tickets.actions import NewAttachment
from helpline.tickets.views.staff_ticket_common import NO_ACCESS
from helpline.tickets.views.staff_ticket_history import STAMP
from tests.staff_ticket.conftest import url

CONTROLS = ("reply-tab", "note-tab", "reply-form", "note-form", "route-form", "status-form",
            "due-form", "merge-form", "collaborator-form")  # fmt: skip


def test_john_sees_a_support_ticket_with_every_control(client_for, john, support_ticket):
    response = client_for(john).get(url(support_ticket))
    assert response.status_code == 200
    page = response.content.decode()
    assert f"#{support_ticket.number}" in page
    assert "Mobile/online banking system down" in page
    for field in ("Support", "General Inquiry", "Sev-C", "Karen Miller", "karen@example.com"):
        assert field in page
    for control in CONTROLS:
        assert f'id="{control}"' in page, control
    assert 'class="entry message"' in page
    assert "Karen Miller opened the ticket via web portal in Support" in page
    # The textual body keeps its line breaks, escaped.
    assert "Nothing loads since this morning.<br>Not even the login page." in page


def test_jane_cannot_open_a_support_ticket(client_for, jane, support_ticket):
    response = client_for(jane).get(url(support_ticket))
    assert response.status_code == 404
    page = response.content.decode()
    assert NO_ACCESS in page
    assert support_ticket.subject not in page


def test_an_unknown_number_looks_the_same_as_no_access(client_for, john, demo):
    response = client_for(john).get("/staff/tickets/000000/")
    assert response.status_code == 404
    assert NO_ACCESS in response.content.decode()


def test_only_agents_reach_the_page(client, client_for, karen, support_ticket):
    path = url(support_ticket)
    for anonymous_or_requester in (client, client_for(karen)):
        response = anonymous_or_requester.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/staff/login/?next=")
        assert path in response["Location"]


def test_messages_replies_and_notes_look_different(client_for, john, support_ticket):
    actions.reply(john, support_ticket, "We are looking into it.")
    actions.add_note(john, support_ticket, "Probably the certificate again.")
    page = client_for(john).get(url(support_ticket)).content.decode()
    for kind in ("message", "reply", "note"):
        assert f'class="entry {kind}"' in page
    assert page.index("We are looking into it.") < page.index("Probably the certificate again.")


def test_events_are_told_in_words_interleaved_with_the_thread(
    client_for, admin_user, john, org, support_ticket
):
    actions.set_sla_plan(john, support_ticket, org.sla("Sev-A"))
    actions.reply(john, support_ticket, "On it.")
    actions.transfer(john, support_ticket, org.dept("Online Banking"))
    page = client_for(admin_user).get(url(support_ticket)).content.decode()
    transferred = "John Smith transferred the ticket from Support to Online Banking"
    assert transferred in page
    assert "John Smith changed the SLA plan from Sev-C to Sev-A" in page
    assert "Due time moved from" in page and "SLA plan changed to Sev-A" in page
    # In time order: SLA change, then the reply, then the transfer.
    assert page.index("changed the SLA plan") < page.index("On it.") < page.index(transferred)


def test_due_time_moved_after_waiting_says_why(client_for, john, org, support_ticket):
    actions.set_sla_plan(john, support_ticket, org.sla("Sev-A"))
    actions.set_status(john, support_ticket, org.status("Pending"))
    from helpline.tickets.models import SLAPause

    # Two hours waiting on the requester, then she answers.
    SLAPause.objects.filter(ticket=support_ticket).update(
        started_at=timezone.now() - timedelta(hours=2)
    )
    actions.add_message(support_ticket.requester, support_ticket, "Here are the details.")
    page = client_for(john).get(url(support_ticket)).content.decode()
    assert "SLA clock resumed after 2 h waiting on the requester" in page


def test_show_history_hides_events_without_javascript(client_for, john, support_ticket):
    client = client_for(john)
    shown = client.get(url(support_ticket)).content.decode()
    hidden = client.get(url(support_ticket) + "?history=0").content.decode()
    assert 'class="thread" id="thread"' in shown and 'href="?history=0"' in shown
    assert 'class="thread hide-events" id="thread"' in hidden and 'href="?history=1"' in hidden
    assert 'aria-checked="false"' in hidden


def test_attachments_link_to_the_download_view_with_their_size(client_for, john, support_ticket):
    entry = actions.add_note(
        john,
        support_ticket,
        "Log attached.",
        attachments=[NewAttachment("server.log", b"x" * 2048, "text/plain")],
    )
    attachment = entry.attachments.get()
    page = client_for(john).get(url(support_ticket)).content.decode()
    assert f'<a href="/attachments/{attachment.pk}/">server.log</a>' in page
    assert "2.0\xa0KB" in page


def test_the_requesters_other_tickets_are_listed_if_visible(
    client_for, john, org, karen, support_ticket
):
    visible = actions.open_ticket(karen, requester=karen, subject="Card blocked", body="Help")
    hidden = actions.open_ticket(
        karen,
        requester=karen,
        subject="Server room flooded",
        body="Water",
        help_topic=org.topic("Sev-A Emergency"),
    )
    page = client_for(john).get(url(support_ticket)).content.decode()
    assert f"#{visible.number}" in page and "Card blocked" in page
    assert hidden.number not in page and "Server room flooded" not in page


def test_times_show_in_the_viewers_time_zone(client_for, john, support_ticket):
    Agent.objects.filter(user=john).update(timezone="Asia/Tokyo")
    page = client_for(john).get(url(support_ticket)).content.decode()
    tokyo = timezone.localtime(support_ticket.created_at, timezone=_zone("Asia/Tokyo"))
    assert f'{dateformat.format(tokyo, STAMP)}</time> <span class="muted">(' in page  # Created.
    assert "In your time zone (Asia/Tokyo)" in page


def test_due_times_show_time_left_or_overdue(client_for, john, support_ticket):
    client = client_for(john)
    actions.set_due_time(john, support_ticket, timezone.now() + timedelta(minutes=45, seconds=30))
    assert "(in 45 min)" in client.get(url(support_ticket)).content.decode()
    actions.set_due_time(john, support_ticket, timezone.now() - timedelta(hours=3, minutes=1))
    page = client.get(url(support_ticket)).content.decode()
    assert "3 h overdue" in page and 'class="badge overdue"' in page


def test_people_typed_text_is_escaped(client_for, john, karen, org):
    karen.name = "<b>Karen</b>"
    karen.save()
    ticket = actions.open_ticket(
        karen,
        requester=karen,
        subject="<script>alert('subject')</script>",
        body="<img src=x onerror=alert('body')>",
        attachments=[NewAttachment("<svg onload=alert(1)>.txt", b"hi", "text/plain")],
    )
    actions.add_message(karen, ticket, "", body_html="<p>fine</p><script>alert('html')</script>")
    page = client_for(john).get(url(ticket)).content.decode()
    for raw in ("<script>alert", "<img src=x", "<svg onload", "<b>Karen</b>"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(&#x27;subject&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(&#x27;body&#x27;)&gt;" in page
    assert "&lt;svg onload=alert(1)&gt;.txt" in page
    assert "&lt;b&gt;Karen&lt;/b&gt;" in page
    assert "<p>fine</p>" in page  # Sanitised HTML is kept as HTML.


def _zone(name):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _busy_ticket(org, karen, john, entries: int):
    ticket = actions.open_ticket(
        karen,
        requester=karen,
        subject="Busy",
        body="Start",
        attachments=[NewAttachment("first.txt", b"1", "text/plain")],
    )
    actions.add_collaborator(john, ticket, org_user("ken"))
    statuses = [org.status("Work in Progress"), org.status("Open")]
    for i in range(entries - 1):
        files = [NewAttachment(f"file{i}.txt", b"abc", "text/plain")]
        if i % 3 == 0:
            actions.reply(john, ticket, f"Reply {i}", attachments=files)
        elif i % 3 == 1:
            actions.add_note(john, ticket, f"Note {i}", attachments=files)
        else:
            actions.add_message(karen, ticket, f"Message {i}", attachments=files)
        actions.set_status(john, ticket, statuses[i % 2])
    return ticket


def org_user(username):
    from helpline.accounts.models import User

    return User.objects.get(username=username)


def _count_queries(client, ticket) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url(ticket))
    assert response.status_code == 200
    return len(captured)


# The page's bound: session, user, agent profile and roles, the ticket, its thread, events,
# collaborators, the requester's other tickets, the forms' choices and the panel's sidebar.
MAX_PAGE_QUERIES = 32  # measured: 25 on SQLite


def test_the_page_costs_the_same_queries_for_3_and_60_entries(
    client_for, john, karen, org, django_assert_max_num_queries
):
    small = _busy_ticket(org, karen, john, 3)
    big = _busy_ticket(org, karen, john, 60)
    assert big.entries.count() == 60 and big.events.count() > 100
    client = client_for(john)
    client.get(url(small))  # Warm per-process caches (content types, sessions).
    few, many = _count_queries(client, small), _count_queries(client, big)
    assert few == many
    with django_assert_max_num_queries(MAX_PAGE_QUERIES):
        client.get(url(small))
    with django_assert_max_num_queries(MAX_PAGE_QUERIES):
        page = client.get(url(big)).content.decode()
    assert len(re.findall(r'class="entry ', page)) == 60
    assert page.count('href="/attachments/') == 60


@pytest.mark.parametrize("history", ["", "?history=0"])
def test_reply_and_note_tabs_work_without_javascript(client_for, john, support_ticket, history):
    client = client_for(john)
    sep = "&" if history else "?"
    page = client.get(url(support_ticket) + history + f"{sep}compose=note").content.decode()
    assert 'id="reply-panel" role="tabpanel" aria-labelledby="reply-tab" hidden' in page
    assert 'id="note-panel" role="tabpanel" aria-labelledby="note-tab">' in page
