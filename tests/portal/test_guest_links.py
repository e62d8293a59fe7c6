"""Guests follow a ticket through a signed link: asked for with email + number, sent by email."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import TestCase
from django.utils import timezone

from helpline.accounts.people import get_or_create_requester
from helpline.tickets import actions, guest
from helpline.tickets.models import GuestAccess

NEUTRAL = "If the details match a ticket, we sent a link to that address."


@pytest.fixture
def jane_doe(demo):
    user, _ = get_or_create_requester("jane.doe@example.org", "Jane Doe")
    return user


@pytest.fixture
def guest_ticket(jane_doe, open_ticket_for, org):
    return open_ticket_for(jane_doe, subject="Portal returns 404", help_topic=org.topic("Hardware"))


def ask_for_link(client, email, number):
    mail.outbox.clear()
    # The link leaves through the outbox once the request's transaction commits.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/status/", {"email": email, "number": number}, follow=True)


def link_from_mail() -> str:
    (message,) = mail.outbox
    return re.search(r"https?://[^/\s]+(/t/[\w-]+/)", message.body).group(1)


def test_match_and_no_match_give_the_same_page(client, guest_ticket):
    matched = ask_for_link(client, "jane.doe@example.org", guest_ticket.number)
    sent = len(mail.outbox)
    unknown_number = ask_for_link(client, "jane.doe@example.org", "000000")
    wrong_address = ask_for_link(client, "karen@example.com", guest_ticket.number)

    assert sent == 1
    assert mail.outbox == []
    # CSRF tokens are masked afresh on every page; everything else must be the same.
    pages = [
        re.sub(r'(X-CSRFToken": "|csrfmiddlewaretoken" value=")[^"]+', r"\1", r.content.decode())
        for r in (matched, unknown_number, wrong_address)
    ]
    assert NEUTRAL in pages[0]
    assert [r.redirect_chain for r in (matched, unknown_number, wrong_address)] == [
        [("/status/sent/", 302)]
    ] * 3
    assert pages[0] == pages[1] == pages[2]


def test_link_opens_the_ticket_as_its_requester_and_the_guest_can_reply(client, guest_ticket):
    ask_for_link(client, "jane.doe@example.org", f"#{guest_ticket.number}")
    (message,) = mail.outbox
    assert message.to == ["jane.doe@example.org"]
    assert guest_ticket.number in message.subject

    response = client.get(link_from_mail(), follow=True)

    assert response.redirect_chain[-1][0] == f"/tickets/{guest_ticket.number}/"
    body = response.content.decode()
    assert "Portal returns 404" in body
    assert "You are viewing this ticket through a link sent to" in body

    client.post(f"/tickets/{guest_ticket.number}/", {"message": "Still broken today."})
    entry = guest_ticket.entries.order_by("-pk").first()
    assert entry.body_text == "Still broken today."
    assert entry.author == guest_ticket.requester
    assert GuestAccess.objects.get().last_used_at is not None


def test_collaborator_address_gets_a_link_and_acts_as_the_collaborator(
    client, guest_ticket, john, greg
):
    actions.add_collaborator(john, guest_ticket, greg)
    ask_for_link(client, "GREG@example.com", guest_ticket.number)
    client.get(link_from_mail())
    client.post(f"/tickets/{guest_ticket.number}/", {"message": "Same here."})
    assert guest_ticket.entries.order_by("-pk").first().author == greg


def test_link_is_shown_on_the_page_only_when_the_setting_says_so(client, guest_ticket, settings):
    hidden = ask_for_link(client, "jane.doe@example.org", guest_ticket.number)
    assert "/t/" not in hidden.content.decode()

    settings.HELPLINE_GUEST_LINK_SHOWN = True
    shown = ask_for_link(client, "jane.doe@example.org", guest_ticket.number).content.decode()
    assert link_from_mail() in shown
    nothing = ask_for_link(client, "jane.doe@example.org", "000000").content.decode()
    assert "/t/" not in nothing and NEUTRAL in nothing


def test_expired_link_is_refused(client, guest_ticket, settings):
    settings.HELPLINE_GUEST_LINK_DAYS = 2
    token = guest.issue_link(guest_ticket, "jane.doe@example.org")
    grant = GuestAccess.objects.get()
    assert grant.expires_at - grant.created_at == timedelta(days=2)

    GuestAccess.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get(f"/t/{token}/")
    assert response.status_code == 404
    assert "This link no longer works" in response.content.decode()
    assert guest.resolve(token) is None


def test_link_expires_even_in_a_session_that_used_it(client, guest_ticket):
    token = guest.issue_link(guest_ticket, "jane.doe@example.org")
    client.get(f"/t/{token}/")
    url = f"/tickets/{guest_ticket.number}/"
    assert client.get(url).status_code == 200

    GuestAccess.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(url).status_code == 404


def test_revoked_link_is_refused_at_once(client, guest_ticket):
    token = guest.issue_link(guest_ticket, "jane.doe@example.org")
    client.get(f"/t/{token}/")
    url = f"/tickets/{guest_ticket.number}/"
    assert client.get(url).status_code == 200

    assert guest.revoke(guest_ticket) == 1

    assert client.get(url).status_code == 404
    assert client.get(f"/t/{token}/").status_code == 404
    assert client.post(url, {"message": "let me in"}).status_code == 404
    assert not guest_ticket.entries.filter(body_text="let me in").exists()


def test_revoke_for_one_address_leaves_the_others(guest_ticket):
    guest.issue_link(guest_ticket, "jane.doe@example.org")
    other = guest.issue_link(guest_ticket, "greg@example.com")
    assert guest.revoke(guest_ticket, email="JANE.DOE@example.org") == 1
    assert guest.resolve(other) is not None


def test_link_for_ticket_a_does_not_open_ticket_b(client, guest_ticket, jane_doe, open_ticket_for):
    other = open_ticket_for(jane_doe, subject="Second problem")
    token = guest.issue_link(guest_ticket, "jane.doe@example.org")
    client.get(f"/t/{token}/")

    response = client.get(f"/tickets/{other.number}/")

    assert response.status_code == 404
    assert "Second problem" not in response.content.decode()


def test_unknown_token_is_refused(client, demo):
    assert client.get("/t/not-a-real-token/").status_code == 404
    assert guest.resolve("") is None


def test_only_a_hash_of_the_token_is_stored(guest_ticket):
    token = guest.issue_link(guest_ticket, "jane.doe@example.org")
    stored = GuestAccess.objects.get()
    assert token not in stored.token_hash and len(stored.token_hash) == 64


def test_lookup_form_errors_and_rate_limit(client, guest_ticket, settings):
    empty = client.post("/status/", {"email": "", "number": ""}).content.decode()
    assert "Enter the email address the ticket was opened with." in empty
    assert "Enter the ticket number" in empty

    settings.HELPLINE_PORTAL_LOOKUP_LIMIT = 2
    for _ in range(2):
        ask_for_link(client, "jane.doe@example.org", "000000")
    response = ask_for_link(client, "jane.doe@example.org", guest_ticket.number)
    assert "Too many look-ups in a short time" in response.content.decode()
    assert mail.outbox == []


def test_anonymous_visitor_without_a_link_is_sent_to_sign_in(client, guest_ticket):
    for number in (guest_ticket.number, "000000"):
        response = client.get(f"/tickets/{number}/")
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next=/tickets/{number}/"
