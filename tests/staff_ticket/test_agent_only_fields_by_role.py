"""Agents-only custom field values follow the viewer's role on that ticket, not "is an agent".

Jane (agent in Online Banking and SysAdmins) asks Support for new hardware: on that ticket she is
the requester, so the agent panel's ticket page and the API show her what the portal would, without
the agents-only "Replacement approved" field that John, Support's agent, set.
"""

import pytest
from django.test import Client

from helpline.api.models import ApiKey, Scope
from helpline.tickets import actions

APPROVED = "approved"  # the demo's agents-only field of the "Hardware" help topic


@pytest.fixture
def hardware_request(org, john, jane):
    topic = org.topic("Hardware")
    assert not topic.fields.get(name=APPROVED).requester_can_see
    ticket = actions.open_ticket(
        jane, requester=jane, subject="Laptop battery swollen", body="It bulges.",
        help_topic=topic, fields={"asset_tag": "HL-4711", "device": "Laptop"},
    )  # fmt: skip
    actions.set_fields(john, ticket, {APPROVED: True})
    ticket.refresh_from_db()
    assert ticket.custom_fields[APPROVED] is True
    return ticket


def page_fields(user, ticket):
    client = Client()
    client.force_login(user)
    response = client.get(f"/staff/tickets/{ticket.number}/")
    assert response.status_code == 200
    html = response.content.decode()
    names = {f.name for f in response.context["field_values"]}
    return names, html


def api_fields(user, ticket):
    _, key = ApiKey.issue(user, name="fields test key", scopes=[Scope.TICKETS_READ])
    response = Client().get(
        f"/api/v1/tickets/{ticket.number}", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.content
    return response.json()["fields"]


def test_the_ticket_page_hides_agents_only_fields_from_an_agent_who_only_requested_it(
    hardware_request, jane
):
    names, html = page_fields(jane, hardware_request)
    assert names == {"asset_tag", "device"}
    assert "Replacement approved" not in html
    assert 'data-field="approved"' not in html
    assert "HL-4711" in html


def test_the_ticket_page_shows_them_to_the_agents_of_the_ticket(hardware_request, john, admin_user):
    for user in (john, admin_user):
        names, html = page_fields(user, hardware_request)
        assert names == {"asset_tag", "device", APPROVED}
        assert "Replacement approved" in html


def test_an_assignment_makes_her_an_agent_of_the_ticket(hardware_request, john, jane):
    # Assigned to her (Support is not restricted), she works it with her primary role.
    actions.assign(john, hardware_request, agent=jane)
    names, _ = page_fields(jane, hardware_request)
    assert APPROVED in names


def test_the_api_hides_them_from_an_agent_key_that_only_requested_it(
    hardware_request, jane, john, admin_user
):
    assert api_fields(jane, hardware_request) == {"asset_tag": "HL-4711", "device": "Laptop"}
    for user in (john, admin_user):
        assert api_fields(user, hardware_request)[APPROVED] is True
