"""Canned responses follow the reply permission: seeing a ticket is not enough to read the
department's private texts."""

import pytest

from helpline.automation.models import CannedResponse
from helpline.tickets import actions

SECRET = "Support's internal escalation number is 555-0199"


@pytest.fixture
def support_texts(org):
    """A global response and one private to Support."""
    return (
        CannedResponse.objects.create(title="Thanks", body="Thanks for writing."),
        CannedResponse.objects.create(
            title="Escalate", body=SECRET, department=org.dept("Support")
        ),
    )


@pytest.fixture
def janes_own_support_ticket(org, jane):
    """Jane (an Online Banking agent) asks Support for help, as a requester."""
    return actions.open_ticket(
        jane,
        requester=jane,
        subject="My monitor flickers",
        body="Since Monday.",
        help_topic=org.topic("General Inquiry"),
    )


def test_requester_agent_gets_no_canned_responses_of_another_department(
    client, jane, support_texts, janes_own_support_ticket
):
    ticket = janes_own_support_ticket
    _, private = support_texts
    client.force_login(jane)
    # She sees her own ticket …
    assert client.get(f"/staff/tickets/{ticket.number}/").status_code == 200
    # … but may not reply to it as an agent: no picker, no text.
    picked = client.get("/staff/canned/pick/", {"ticket": ticket.number, "q": ""})
    assert picked.status_code == 403
    assert "Escalate" not in picked.content.decode()
    text = client.get(f"/staff/canned/{private.pk}/text/", {"ticket": ticket.number})
    assert text.status_code == 403
    assert SECRET not in text.content.decode()


def test_invisible_ticket_looks_missing(client, jane, support_texts, support_ticket):
    support_ticket.department.restricted = True
    support_ticket.department.save()
    _, private = support_texts
    client.force_login(jane)
    assert client.get("/staff/canned/pick/", {"ticket": support_ticket.number}).status_code == 404
    url = f"/staff/canned/{private.pk}/text/"
    assert client.get(url, {"ticket": support_ticket.number}).status_code == 404
    assert client.get("/staff/canned/pick/", {"ticket": "999999999"}).status_code == 404


def test_an_agent_who_may_reply_gets_the_departments_texts(
    client, john, support_texts, janes_own_support_ticket
):
    ticket = janes_own_support_ticket
    _, private = support_texts
    client.force_login(john)  # Support agent
    picked = client.get("/staff/canned/pick/", {"ticket": ticket.number, "q": ""})
    assert picked.status_code == 200 and "Escalate" in picked.content.decode()
    text = client.get(f"/staff/canned/{private.pk}/text/", {"ticket": ticket.number})
    assert text.status_code == 200 and text.content.decode() == SECRET


def test_private_texts_only_for_their_departments_tickets(client, jane, org, greg):
    """Jane may reply to Online Banking tickets; Support's private text is not offered there."""
    CannedResponse.objects.create(title="Escalate", body=SECRET, department=org.dept("Support"))
    banking = CannedResponse.objects.create(
        title="Banking hours", body="9 to 5", department=org.dept("Online Banking")
    )
    ticket = actions.open_ticket(
        greg,
        requester=greg,
        subject="Card blocked",
        body="x",
        help_topic=org.topic("Business Critical Outage"),
    )
    assert ticket.department == org.dept("Online Banking")
    client.force_login(jane)
    picked = client.get("/staff/canned/pick/", {"ticket": ticket.number, "q": ""}).content.decode()
    assert "Banking hours" in picked and "Escalate" not in picked
    text = client.get(f"/staff/canned/{banking.pk}/text/", {"ticket": ticket.number})
    assert text.status_code == 200
