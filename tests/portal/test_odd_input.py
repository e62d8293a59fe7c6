"""No input gives a server error: odd URLs, parameters and form values get a page or a 404."""

import pytest

from helpline.tickets import guest


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/tickets/%00/", {}),
        ("get", "/tickets/" + "9" * 300 + "/", {}),
        ("get", "/tickets/", {"q": "\x00<x>", "page": "9" * 5000, "tab": "\x00"}),
        ("get", "/tickets/", {"page": "-3"}),
        ("get", "/tickets/new/", {"topic": "²"}),
        ("get", "/tickets/new/", {"topic": "9" * 5000}),
        ("get", "/attachments/99999999999999999999999/", {}),
        ("get", "/t/" + "x" * 500 + "/", {}),
        ("post", "/status/", {"email": "a@b.example", "number": "\x00"}),
        ("post", "/status/", {"email": "a@b.example", "number": "9" * 500}),
        ("post", "/tickets/new/", {"help_topic": "99999999999999999999999", "email": "\x00"}),
        ("post", "/tickets/new/", {"help_topic": ["1", "2"], "subject": ["a", "b"]}),
        ("post", "/login/", {"username": "\x00", "password": "x"}),
        ("post", "/register/", {"email": "x" * 300, "password1": "\x00"}),
        ("post", "/password-reset/", {"email": "\x00"}),
    ],
)
def test_odd_input_never_fails(client, karen, method, path, data):
    client.force_login(karen)
    response = getattr(client, method)(path, data)
    assert response.status_code in (200, 302, 404)


def test_guest_can_leave_and_the_links_are_forgotten(client, karen, open_ticket_for):
    ticket = open_ticket_for(karen)
    client.get(f"/t/{guest.issue_link(ticket, 'karen@example.com')}/")
    page = client.get(f"/tickets/{ticket.number}/").content.decode()
    assert "Leave guest view" in page

    response = client.post("/logout/", follow=True)

    assert "This browser no longer opens your tickets" in response.content.decode()
    assert client.get(f"/tickets/{ticket.number}/").status_code == 302
