"""My tickets: only one's own, in Open and Closed tabs, searchable, at a constant query cost."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpline.tickets import actions

URL = "/tickets/"


def test_sign_in_is_required(client, demo):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/tickets/"


def test_shows_only_own_tickets_and_collaborations(client, karen, ken, greg, john, open_ticket_for):
    mine = open_ticket_for(karen, subject="Karen's laptop")
    kens = open_ticket_for(ken, subject="Ken's Adobe upgrade")
    cc = open_ticket_for(greg, subject="Greg's trackpad")
    actions.add_collaborator(john, cc, karen)
    client.force_login(karen)

    body = client.get(URL).content.decode()

    assert mine.number in body and "Karen&#x27;s laptop" in body
    assert cc.number in body
    assert kens.number not in body and "Adobe" not in body


def test_open_and_closed_tabs(client, karen, john, org, open_ticket_for):
    open_one = open_ticket_for(karen, subject="Still open")
    done = open_ticket_for(karen, subject="All done")
    actions.set_status(john, done, org.status("Resolved"))
    client.force_login(karen)

    open_tab = client.get(URL).content.decode()
    closed_tab = client.get(URL, {"tab": "closed"}).content.decode()

    assert open_one.number in open_tab and done.number not in open_tab
    assert done.number in closed_tab and open_one.number not in closed_tab
    assert 'Open <span class="count">1</span>' in open_tab
    assert 'Closed <span class="count">1</span>' in open_tab


def test_search_by_subject_or_number(client, karen, open_ticket_for):
    vpn = open_ticket_for(karen, subject="VPN drops every hour")
    mail = open_ticket_for(karen, subject="Mailbox full")
    client.force_login(karen)

    by_subject = client.get(URL, {"q": "vpn"}).content.decode()
    by_number = client.get(URL, {"q": f"#{mail.number}"}).content.decode()

    assert vpn.number in by_subject and mail.number not in by_subject
    assert mail.number in by_number and vpn.number not in by_number
    assert "No open tickets match" in client.get(URL, {"q": "zebra"}).content.decode()


def test_pages(client, karen, open_ticket_for, monkeypatch):
    monkeypatch.setattr("helpline.tickets.views.portal.PAGE_SIZE", 2)
    tickets = [open_ticket_for(karen, subject=f"Problem {n}") for n in range(5)]
    client.force_login(karen)

    first = client.get(URL).content.decode()
    last = client.get(URL, {"page": "3"}).content.decode()
    nonsense = client.get(URL, {"page": "abc"})

    assert "Page 1 of 3" in first and tickets[4].number in first
    assert tickets[0].number in last and tickets[4].number not in last
    assert nonsense.status_code == 200 and "Page 1 of 3" in nonsense.content.decode()
    assert "Page 3 of 3" in client.get(URL, {"page": "99"}).content.decode()


def test_agent_sees_own_requests_only_and_a_link_to_the_agent_panel(
    client, john, karen, open_ticket_for
):
    # John works Support, where Karen's ticket is; on the portal he is a requester like anyone.
    karens = open_ticket_for(karen, subject="Karen's ticket")
    johns = open_ticket_for(john, subject="John's own request")
    client.force_login(john)

    body = client.get(URL).content.decode()

    assert johns.number in body and karens.number not in body
    assert 'href="/staff/"' in body


def test_requester_has_no_agent_panel_link(client, karen):
    client.force_login(karen)
    assert 'href="/staff/"' not in client.get(URL).content.decode()


@pytest.mark.parametrize("tab", ["open", "closed"])
def test_constant_number_of_queries(
    client, karen, john, org, open_ticket_for, tab, django_assert_num_queries
):
    def make(n):
        for i in range(n):
            ticket = open_ticket_for(karen, subject=f"Problem {i}")
            if tab == "closed":
                actions.set_status(john, ticket, org.status("Resolved"))

    client.force_login(karen)
    make(3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL, {"tab": tab}).status_code == 200
    make(27)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(URL, {"tab": tab})
    assert response.content.decode().count('<td class="subject">') == 25
