"""Fixtures for the agent panel's ticket page: signed-in clients and tickets in the demo setup."""

import pytest
from django.test import Client

from helpline.tickets import actions


@pytest.fixture
def client_for(db):
    """client_for(john) → a test client signed in as john."""

    def _client(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _client


@pytest.fixture
def support_ticket(org, karen):
    """Scenario 1's outage ticket: Support, General Inquiry (Sev-C), opened by Karen."""
    return actions.open_ticket(
        karen,
        requester=karen,
        subject="Mobile/online banking system down",
        body="Nothing loads since this morning.\nNot even the login page.",
        help_topic=org.topic("General Inquiry"),
    )


@pytest.fixture
def sysadmins_ticket(org, greg):
    """A SysAdmins ticket (restricted department) that John cannot see by default."""
    return actions.open_ticket(
        greg,
        requester=greg,
        subject="CFO's laptop will no longer turn on",
        body="Dead since the update.",
        help_topic=org.topic("Sev-A Emergency"),
    )


def url(ticket, action: str = "") -> str:
    base = f"/staff/tickets/{ticket.number}/"
    return f"{base}{action}/" if action else base
