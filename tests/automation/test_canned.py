"""Canned responses: variables rendered safely for the ticket; the reply box's picker."""

import pytest
from django.core.exceptions import ValidationError

from helpline.automation import canned
from helpline.automation.models import CannedResponse
from helpline.tickets import actions


@pytest.fixture
def ticket(org, karen):
    return actions.open_ticket(
        karen,
        requester=karen,
        subject="VPN down",
        body="x",
        help_topic=org.topic("General Inquiry"),
    )


def test_variables_are_filled_in(ticket, john, karen):
    response = CannedResponse.objects.create(
        title="Hello",
        body="Dear {{ requester.name }}, about #{{ ticket.number }} ({{ ticket.subject }}): "
        "we are on it. {{ agent.name }}, {{ department.name }}",
    )
    text = canned.render_for(response, ticket, john)
    assert text == (
        f"Dear {karen.display_name}, about #{ticket.number} (VPN down): we are on it. "
        f"{john.display_name}, Support"
    )


@pytest.mark.parametrize(
    "body",
    [
        "{% debug %}",
        "{% load static %}{% static 'x' %}",
        "{% include 'base.html' %}",
        "{% url 'staff:dashboard' %}",
        "{{ ticket.number|nosuchfilter }}",
        "{% if %}",
    ],
)
def test_unsafe_or_broken_templates_are_refused(body):
    with pytest.raises(ValidationError):
        CannedResponse(title="x", body=body).full_clean()


def test_only_plain_strings_reach_the_template(ticket, john):
    # No model objects: a template cannot walk from the ticket to other data.
    response = CannedResponse.objects.create(
        title="Probe", body="[{{ ticket.requester.password }}][{{ ticket.department.manager }}]"
    )
    assert canned.render_for(response, ticket, john) == "[][]"


def test_department_responses_only_for_their_department(ticket, org):
    CannedResponse.objects.create(title="Global", body="g")
    CannedResponse.objects.create(title="Support only", body="s", department=org.dept("Support"))
    CannedResponse.objects.create(
        title="Banking only", body="b", department=org.dept("Online Banking")
    )
    CannedResponse.objects.create(title="Old", body="o", active=False)
    assert [r.title for r in canned.search(ticket, "")] == ["Global", "Support only"]
    assert [r.title for r in canned.search(ticket, "glob")] == ["Global"]


def test_picker_and_text_endpoints(client, john, ticket):
    response = CannedResponse.objects.create(title="Thanks", body="Thanks {{ requester.name }}!")
    client.force_login(john)
    picked = client.get("/staff/canned/pick/", {"ticket": ticket.number, "q": "than"})
    assert picked.status_code == 200 and "Thanks" in picked.content.decode()
    assert f"/staff/canned/{response.pk}/text/" in picked.content.decode()
    text = client.get(f"/staff/canned/{response.pk}/text/", {"ticket": ticket.number})
    assert text.status_code == 200
    assert text.content.decode() == f"Thanks {ticket.requester.display_name}!"
    assert text["Content-Type"].startswith("text/plain")


def test_picker_needs_a_ticket_the_agent_can_see(client, jane, ticket, karen):
    response = CannedResponse.objects.create(title="Thanks", body="x")
    # Support is not restricted in the demo: make it so, so Jane may not see the ticket.
    ticket.department.restricted = True
    ticket.department.save()
    client.force_login(jane)
    assert client.get("/staff/canned/pick/", {"ticket": ticket.number}).status_code == 404
    url = f"/staff/canned/{response.pk}/text/"
    assert client.get(url, {"ticket": ticket.number}).status_code == 404
    assert client.get("/staff/canned/pick/").status_code == 404
    client.force_login(karen)  # a requester is sent to sign in
    assert client.get("/staff/canned/pick/", {"ticket": ticket.number}).status_code == 302


def test_the_reply_box_offers_the_picker(client, john, ticket):
    client.force_login(john)
    page = client.get(f"/staff/tickets/{ticket.number}/").content.decode()
    assert "/staff/canned/pick/" in page and "/staff/kb/pick/" in page


def test_canned_list_page(client, john, org):
    CannedResponse.objects.create(
        title="Banking only", body="b", department=org.dept("Online Banking")
    )
    CannedResponse.objects.create(title="Global", body="g")
    client.force_login(john)
    page = client.get("/staff/canned/").content.decode()
    assert "Global" in page and "Banking only" not in page
