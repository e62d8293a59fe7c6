"""Reading mail as a person would: duplicates, reused and folded Message-IDs, the spam folder,
robots, `mail check` and the original one click away."""

import io
import logging

import pytest
from django.core.management import call_command

from helpline.mail.ingest import ingest
from helpline.mail.models import Folder, HeldMail, Mailbox, Outcome, ReceivedMail, Review
from helpline.mail.parse import msgids, normalise_msgid, parse_message
from helpline.tickets.models import Notification, NotificationKind, Ticket
from tests.mail.messages import raw

pytestmark = pytest.mark.django_db


SPAM = "X-Spam-Flag: YES\r\nReceived: from mx.example by mx.helpline.example; Tue, 3 Mar 2026\r\n"


@pytest.fixture
def mailbox(org):
    return Mailbox.objects.create(
        name="Support", address="help@helpline.example", department=org.dept("Support")
    )


def test_folded_and_spaced_message_ids_are_the_same_id():
    assert (
        normalise_msgid("<CAHx=abc\r\n def@mail.example.com>") == "<CAHx=abcdef@mail.example.com>"
    )
    assert normalise_msgid("< abc@x >") == "<abc@x>"
    assert msgids("<a@x>\r\n <b\r\n @y> <c@z>") == ["<a@x>", "<b@y>", "<c@z>"]
    folded = parse_message(raw(message_id="<abc\r\n def@x>", extra="In-Reply-To: <p\r\n q@y>\r\n"))
    assert folded.message_id == "<abcdef@x>" and folded.in_reply_to == ["<pq@y>"]


def test_a_true_duplicate_is_stored_once_and_logged(mailbox, karen, caplog):
    first = ingest(raw(), mailbox)
    with caplog.at_level(logging.INFO, logger="helpline.mail.ingest"):
        again = ingest(b"Received: by mx2.example\r\n" + raw(), mailbox)
        third = ingest(raw(), mailbox)
    assert first.outcome == Outcome.NEW_TICKET
    assert again.outcome == third.outcome == "duplicate"
    assert f"received mail {ReceivedMail.objects.get().pk}" in again.reason
    row = ReceivedMail.objects.get()
    assert row.duplicates == 2 and row.last_duplicate_at is not None
    assert Ticket.objects.count() == 1
    assert sum("Duplicate mail <m1@example.com>" in r.getMessage() for r in caplog.records) == 2


def test_a_reused_message_id_with_other_content_is_stored_and_the_clash_noted(mailbox, karen):
    first = ingest(raw(body="Invoice 113 is wrong."), mailbox)
    second = ingest(raw(subject="VAT", body="Invoice 114 has the wrong VAT number."), mailbox)
    assert second.outcome == Outcome.NEW_TICKET and second.ticket != first.ticket
    assert "already used by another message" in second.reason
    assert ReceivedMail.objects.get(ticket=second.ticket).reason == second.reason
    # The first message keeps the id: an answer to it threads to the first ticket.
    assert first.entry.message_id == "<m1@example.com>" and second.entry.message_id == ""
    answer = raw(
        body="More about 113.",
        message_id="<m9@example.com>",
        extra="In-Reply-To: <m1@example.com>\r\n",
    )
    assert ingest(answer, mailbox).ticket == first.ticket


def test_rows_from_before_contents_were_compared_still_count_as_duplicates(mailbox, karen):
    parsed = parse_message(raw())
    ReceivedMail.objects.create(
        fingerprint="old-style", message_id=parsed.message_id, outcome="new_ticket"
    )
    assert ingest(raw(), mailbox).outcome == "duplicate"
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    "headers, spam",
    [
        ("X-Spam-Flag: YES\r\nReceived: from a by b; Tue, 3 Mar 2026\r\n", True),
        ("X-Spam-Status: Yes, score=9\r\nReceived: from a by b; Tue, 3 Mar 2026\r\n", True),
        ("X-Spam: Yes\r\nReceived: from a by b\r\nReceived: from c by a\r\n", True),
        ("X-Spam-Flag: NO\r\nReceived: from a by b; Tue, 3 Mar 2026\r\n", False),
        # Forged: written by the sender below every Received line.
        ("Received: from a by b; Tue, 3 Mar 2026\r\nX-Spam-Flag: YES\r\n", False),
    ],
)
def test_only_a_mail_servers_yes_is_a_spam_verdict(headers, spam):
    assert bool(parse_message(raw(head=headers)).spam) is spam


def test_spam_goes_to_the_spam_folder_and_not_spam_takes_it_in(client, mailbox, john, karen):
    result = ingest(raw(head=SPAM), mailbox)
    assert result.outcome == Outcome.SPAM and "X-Spam-Flag" in result.reason
    assert not Ticket.objects.exists() and not Notification.objects.exists()
    held = HeldMail.objects.get()
    assert held.folder == Folder.SPAM and held.preview == "The printer is broken."

    client.force_login(john)
    review = client.get("/staff/mail/review/")
    assert (
        "Spam (1)" in review.content.decode()
        and "The printer is broken." not in review.content.decode()
    )
    page = client.get("/staff/mail/review/?folder=spam").content.decode()
    assert "The printer is broken." in page and "Not spam" in page

    response = client.post(
        f"/staff/mail/review/{held.pk}/", {"decision": "not_spam", "folder": "spam"}
    )
    assert response.status_code == 302 and response.url.endswith("?folder=spam")
    ticket = Ticket.objects.get()
    assert ticket.requester == karen and ticket.entries.get().body_text == "The printer is broken."
    assert Notification.objects.filter(kind=NotificationKind.NEW_TICKET_ACK).count() == 1
    held.refresh_from_db()
    assert held.review == Review.ACCEPTED and held.decided_by == john
    assert ReceivedMail.objects.get().outcome == Outcome.NEW_TICKET
    # Taken in once: a second delivery of the same message is a duplicate now.
    assert ingest(raw(head=SPAM), mailbox).outcome == "duplicate"


@pytest.mark.parametrize("who", ["jane", "karen", "forged"])
def test_spam_of_another_departments_mailbox_is_invisible(client, mailbox, jane, karen, who):
    """Jane (not in Support), Karen (a requester) and a forged `decision` post see nothing and
    change nothing."""
    ingest(raw(head=SPAM), mailbox)
    held = HeldMail.objects.get()
    client.force_login({"jane": jane, "karen": karen, "forged": jane}[who])
    if who != "karen":
        page = client.get("/staff/mail/review/?folder=spam").content.decode()
        assert "The printer is broken." not in page and "Spam (0)" in page
    client.post(f"/staff/mail/review/{held.pk}/", {"decision": "not_spam", "folder": "spam"})
    client.post(f"/staff/mail/review/{held.pk}/", {"decision": "accept"})
    held.refresh_from_db()
    assert held.review == Review.PENDING and not Ticket.objects.exists()


def test_admin_sees_spam_of_every_mailbox(client, admin_user, org):
    ingest(raw(head=SPAM), None)
    client.force_login(admin_user)
    assert (
        "The printer is broken." in client.get("/staff/mail/review/?folder=spam").content.decode()
    )


def test_robots_get_no_acknowledgement(mailbox):
    newsletter = raw(
        sender="ACME News <news@news.example.com>",
        extra="List-Unsubscribe: <https://news.example.com/u/1>\r\n",
    )
    result = ingest(newsletter, mailbox)
    assert result.outcome == Outcome.NEW_TICKET and "List-Unsubscribe" in result.reason
    assert not Notification.objects.filter(kind=NotificationKind.NEW_TICKET_ACK).exists()
    bounce = raw(
        sender="Mail Delivery Subsystem <bounces@corp.example>",
        subject="Undelivered Mail Returned to Sender",
        message_id="<b1@corp.example>",
    )
    assert ingest(bounce, mailbox).outcome == Outcome.BOUNCE
    assert Ticket.objects.count() == 1


def test_mail_check_says_what_would_happen_and_stores_nothing(mailbox, karen, tmp_path):
    path = tmp_path / "message.eml"
    path.write_bytes(raw(sender="Smith, Karen <karen@example.com>", body="Hello\n\n> old"))
    out = io.StringIO()
    call_command("mail", "check", str(path), "--mailbox", "Support", stdout=out)
    text = out.getvalue()
    assert "Smith, Karen <karen@example.com>" in text
    assert "Outcome       new ticket" in text and "Text the thread would show:\n  Hello" in text
    assert not Ticket.objects.exists() and not ReceivedMail.objects.exists()
    assert not Notification.objects.exists()

    spam = tmp_path / "spam.eml"
    spam.write_bytes(raw(head=SPAM, message_id="<s@x>"))
    out = io.StringIO()
    call_command("mail", "check", str(spam), stdout=out)
    assert "Outcome       spam" in out.getvalue() and "X-Spam-Flag: YES" in out.getvalue()
    assert not HeldMail.objects.exists()


def test_the_original_is_one_click_away(client, mailbox, john, karen):
    body = "Thanks, it works.\n\nOn 2 Mar 2026, Helpline <help@x.example> wrote:\n> Restart it."
    ticket = ingest(raw(body=body), mailbox).ticket
    client.force_login(john)
    page = client.get(f"/staff/tickets/{ticket.number}/").content.decode()
    assert "Show original" in page and "&gt; Restart it." in page


@pytest.mark.parametrize(
    "from_header",
    [
        "=?utf-8?q?Hi=0D=0ABcc:_victim@hostile.example?=",
        "=?utf-8?b?UHJpbnRlciBqYW0NCkJjYzogdmljdGltQGhvc3RpbGUuZXhhbXBsZQ==?=",
    ],
)
def test_an_address_inside_an_encoded_display_name_is_never_the_sender(from_header):
    """The lenient reading looks for addresses outside encoded-words only: a forger cannot make
    a decoded "…\\r\\nBcc: victim@…" the sender."""
    parsed = parse_message(raw(sender=from_header))
    assert parsed.sender == ""
    named = parse_message(raw(sender=f"{from_header} <real@example.com>"))
    assert named.sender == "real@example.com" and "victim@hostile.example" in named.sender_name
