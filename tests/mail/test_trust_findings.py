"""The three mail findings of the attack review, tried again exactly as the attacker did, and the
review list where the mail they sent now waits. Each test failed before the trust model."""

import io
import re
import sys

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from helpline.api.models import ApiKey, Scope
from helpline.mail import review
from helpline.mail.models import HeldMail, Mailbox, Review
from helpline.mail.parse import parse_message
from helpline.mail.threading import make_message_id
from helpline.tickets import access, actions
from helpline.tickets.models import EntryKind, Notification, NotificationKind, Ticket

pytestmark = pytest.mark.django_db


def message(sender, subject, body="Let me in.", *, extra="", message_id="<x1@evil.example>"):
    head = (
        f"From: {sender}\r\nTo: support@helpline.example\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\n{extra}"
    )
    return f"{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n".encode()


def pipe(raw: bytes, mailbox: str = "Support", monkeypatch=None) -> str:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    call_command("mail", "pipe", "--mailbox", mailbox, stdout=out)
    return out.getvalue()


@pytest.fixture
def support_mailbox(org):
    return Mailbox.objects.create(
        name="Support", address="support@helpline.example", department=org.dept("Support")
    )


@pytest.fixture
def kens_ticket(ken, org):
    return actions.open_ticket(
        ken, requester=ken, subject="Ken's salary question", body="private", source="web"
    )


@pytest.fixture
def gregs_restricted_ticket(greg, org):
    return actions.open_ticket(
        greg,
        requester=greg,
        subject="Server room keys",
        body="the code is 4711",
        source="web",
        department=org.dept("SysAdmins"),
    )


def _guest_link_for(email: str, ticket: Ticket, settings) -> str:
    settings.HELPLINE_GUEST_LINK_SHOWN = True
    client = Client()
    client.post("/status/", {"email": email, "number": ticket.number})
    return client.session.get("helpline_portal_status_sent", {}).get("link", "")


def test_finding_1_a_requesters_key_cannot_post_mail_into_anyones_ticket(kens_ticket, karen, john):
    _, karens_key = ApiKey.issue(karen, scopes=list(Scope.values))
    raw = message(
        "ken@example.com",
        f"Re: [#{kens_ticket.number}]",
        extra="Cc: karen@example.com\r\n",
    )
    response = Client().post(
        "/api/tickets.email", raw, content_type="message/rfc822", headers={"X-API-Key": karens_key}
    )
    assert response.status_code == 403
    assert not access.can_view(karen, kens_ticket)
    # An agent's intake key may post it, but the key does not vouch for From: nor for Cc.
    _, intake_key = ApiKey.issue(john, scopes=[Scope.TICKETS_INTAKE])
    response = Client().post(
        "/api/tickets.email", raw, content_type="message/rfc822", headers={"X-API-Key": intake_key}
    )
    assert response.status_code == 201
    assert not access.can_view(karen, kens_ticket)
    assert kens_ticket.entries.last().verification == "unverified"
    api = Client()
    _, karens_read = ApiKey.issue(karen, scopes=[Scope.TICKETS_READ])
    read = api.get(
        f"/api/v1/tickets/{kens_ticket.number}", headers={"Authorization": f"Bearer {karens_read}"}
    )
    assert read.status_code == 404


def test_finding_2_a_forged_requester_cannot_cc_an_outsider_into_a_restricted_ticket(
    support_mailbox, gregs_restricted_ticket, settings, monkeypatch
):
    ticket = gregs_restricted_ticket
    raw = message(
        "greg@example.com",
        f"Re: [#{ticket.number}] x",
        extra="Cc: mallory@evil.example\r\n",
    )
    assert pipe(raw, monkeypatch=monkeypatch).startswith("message")
    assert not ticket.collaborators.exists()
    assert _guest_link_for("mallory@evil.example", ticket, settings) == ""
    assert not [m for m in mail.outbox if "mallory@evil.example" in m.to]


def test_finding_3_nobody_forges_an_internal_note_by_an_agent(
    support_mailbox, karen, john, monkeypatch
):
    # Mallory (as Karen, the requester of her own ticket) knows the Message-ID of mail she got.
    own = actions.open_ticket(karen, requester=karen, subject="Mine", body="b", source="web")
    known_id = make_message_id(own, "karen@example.com")
    raw = message(
        "John Smith <john@helpline.example>",
        "Re: Mine",
        "Closing as agreed, no refund.",
        extra=f"In-Reply-To: {known_id}\r\n",
    )
    assert pipe(raw, monkeypatch=monkeypatch).startswith("held")
    assert not own.entries.filter(author=john).exists()
    assert not own.entries.filter(kind=EntryKind.NOTE).exists()
    held = HeldMail.objects.get()
    assert held.sender == "john@helpline.example" and held.intent == "reply"


def test_agent_answering_their_own_notification_replies_to_the_requester(
    support_mailbox, karen, john, monkeypatch
):
    ticket = actions.open_ticket(karen, requester=karen, subject="Printer", body="b", source="web")
    ours = make_message_id(ticket, "john@helpline.example")
    raw = message(
        "john@helpline.example",
        f"Re: [#{ticket.number}] Printer",
        "Try the other tray.",
        extra=f"In-Reply-To: {ours}\r\n",
        message_id="<j1@helpline.example>",
    )
    mail.outbox.clear()
    assert pipe(raw, monkeypatch=monkeypatch).startswith("reply")
    entry = ticket.entries.last()
    assert (entry.kind, entry.author, entry.verification) == (
        EntryKind.REPLY,
        john,
        "reply_address",
    )
    [sent] = Notification.objects.filter(ticket=ticket, kind=NotificationKind.REPLY)
    assert sent.email == "karen@example.com" and sent.entry == entry


def test_msgid_in_encoded_words_still_threads():
    raw = (
        b"From: a@example.com\r\nSubject: x\r\n"
        b"In-Reply-To: =?utf-8?q?=3Chl=2E1=2Eabcdefab=2E0123456789abcdef=40h=2Eexample=3E?="
        b"\r\n\r\nx"
    )
    assert parse_message(raw).in_reply_to == ["<hl.1.abcdefab.0123456789abcdef@h.example>"]


# ---------------------------------------------------------------------------------------------
# The review list in the agent panel


@pytest.fixture
def held_from_mallory(support_mailbox, karen, monkeypatch):
    ticket = actions.open_ticket(karen, requester=karen, subject="Printer", body="b", source="web")
    first = ticket.entries.get()
    first.message_id = "<orig@example.com>"
    first.save()
    raw = message(
        "Mallory <mallory@evil.example>",
        "Re: Printer",
        "I <b>also</b> see it.",
        extra="In-Reply-To: <orig@example.com>\r\n",
    )
    assert pipe(raw, monkeypatch=monkeypatch).startswith("held")
    return HeldMail.objects.get()


def _client(user, password=None):
    client = Client()
    client.force_login(user)
    return client


def test_review_list_shows_held_mail_escaped_and_accept_adds_it(held_from_mallory, john, password):
    client = _client(john, password)
    page = client.get("/staff/mail/review/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "mallory@evil.example" in text and "&lt;b&gt;also&lt;/b&gt;" in text
    response = client.post(f"/staff/mail/review/{held_from_mallory.pk}/", {"decision": "accept"})
    assert response.status_code == 302
    held_from_mallory.refresh_from_db()
    ticket = held_from_mallory.ticket
    assert held_from_mallory.review == Review.ACCEPTED and held_from_mallory.decided_by == john
    entry = ticket.entries.last()
    assert entry.author.email == "mallory@evil.example" and entry.verification == "accepted"
    assert ticket.collaborators.filter(user__email="mallory@evil.example").exists()
    again = client.post(f"/staff/mail/review/{held_from_mallory.pk}/", {"decision": "accept"})
    assert again.status_code == 302 and ticket.entries.count() == 2


def test_reject_keeps_the_ticket_untouched(held_from_mallory, john, password):
    ticket = held_from_mallory.ticket
    version = Ticket.objects.get(pk=ticket.pk).version
    client = _client(john, password)
    client.post(f"/staff/mail/review/{held_from_mallory.pk}/", {"decision": "reject"})
    held_from_mallory.refresh_from_db()
    assert held_from_mallory.review == Review.REJECTED
    assert Ticket.objects.get(pk=ticket.pk).version == version
    assert not ticket.collaborators.exists() and ticket.entries.count() == 1


@pytest.mark.parametrize("who", ["jane", "karen"])
def test_who_cannot_answer_the_ticket_cannot_see_or_decide(
    held_from_mallory, who, password, request
):
    client = _client(request.getfixturevalue(who))
    page = client.get("/staff/mail/review/")
    assert "mallory@evil.example" not in page.content.decode()
    client.post(f"/staff/mail/review/{held_from_mallory.pk}/", {"decision": "accept"})
    held_from_mallory.refresh_from_db()
    assert held_from_mallory.review == Review.PENDING
    assert held_from_mallory.ticket.entries.count() == 1


def test_held_agent_answer_is_a_reply_only_when_that_agent_confirms(
    support_mailbox, karen, john, admin_user, monkeypatch
):
    ticket = actions.open_ticket(karen, requester=karen, subject="Printer", body="b", source="web")
    raw = message(
        "john@helpline.example",
        f"Re: [#{ticket.number}]",
        "Fixed it.",
        message_id="<j2@helpline.example>",
    )
    assert pipe(raw, monkeypatch=monkeypatch).startswith("held")
    held = HeldMail.objects.get()
    note = review.accept(admin_user, held.pk)  # someone else vouching: their note, quoting it
    assert note.kind == EntryKind.NOTE and note.author == admin_user
    assert re.search(r"Email from john@helpline\.example \(unverified sender\)", note.body_text)
