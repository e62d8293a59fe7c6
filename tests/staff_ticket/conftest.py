"""Fixtures for the agent panel's ticket page: signed-in clients and tickets in the demo setup."""

import pytest
from django.test import Client


@pytest.fixture
def client_for(db):
    """client_for(john) → a test client signed in as john."""

    def _client(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _client


def url(ticket, action: str = "") -> str:
    base = f"/staff/tickets/{ticket.number}/"
    return f"{base}{action}/" if action else base
