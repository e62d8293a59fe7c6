"""Intake rules without a mail server: threading, loop protection, ban list, failures, pipe."""

import io
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from helpline.mail.ingest import ingest, reprocess
from helpline.mail.models import (
    BannedAddress,
    FailedMail,
    HeldMail,
    Mailbox,
    Outcome,
    ReceivedMail,
)
from helpline.mail.threading import make_message_id, ticket_id_from_token
from helpline.tickets import actions
from helpline.tickets.models import EntryKind, EventKind, Notification, State, Ticket
from tests.mail.messages import raw

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox(org):
    return Mailbox.objects.create(
        name="Support", address="help@helpline.example", department=org.dept("Support")
    )


def test_new_ticket_from_an_existing_requester(mailbox, karen, org):
    result = ingest(raw(), mailbox)
    assert result.outcome == Outcome.NEW_TICKET
    ticket = result.ticket
    assert ticket.requester == karen and ticket.department == org.dept("Support")
    assert ticket.subject == "Printer broken"
    assert ReceivedMail.objects.get().ticket == ticket


def test_same_message_id_is_stored_once(mailbox, karen):
    assert ingest(raw(), mailbox).outcome == Outcome.NEW_TICKET
    assert ingest(raw(), mailbox).outcome == "duplicate"
    assert Ticket.objects.count() == 1


def test_same_content_without_message_id_is_stored_once(mailbox, karen):
    first = raw(message_id="")
    assert ingest(first, mailbox).outcome == Outcome.NEW_TICKET
    assert ingest(b"Received: by mx2\r\n" + first, mailbox).outcome == "duplicate"
    assert ingest(raw(message_id="", body="Other words"), mailbox).outcome == Outcome.NEW_TICKET
    assert Ticket.objects.count() == 2


def test_subject_number_threads_only_for_participants(mailbox, karen, ken):
    ticket = ingest(raw(), mailbox).ticket
    answer = raw(subject=f"Re: [#{ticket.number}] Printer broken", message_id="<m2@example.com>")
    result = ingest(answer, mailbox)
    assert result.ticket == ticket and result.entry.threaded_by == "subject"

    stranger = raw(
        sender="ken@example.com",
        subject=f"[#{ticket.number}] let me in",
        message_id="<m3@example.com>",
    )
    result = ingest(stranger, mailbox)
    assert result.outcome == Outcome.NEW_TICKET and result.ticket != ticket
    assert result.ticket.subject == "let me in"


def test_in_reply_to_threads_but_a_stranger_waits_for_review(mailbox, karen):
    ticket = ingest(raw(), mailbox).ticket
    colleague = raw(
        sender="Carl Colleague <carl@example.com>",
        subject="Re: Printer broken",
        message_id="<m2@example.com>",
        extra="In-Reply-To: <m1@example.com>\r\n",
        body="Same here on floor 3.",
    )
    result = ingest(colleague, mailbox)
    # A Message-ID is no secret: knowing one does not make a stranger part of the ticket.
    assert result.outcome == Outcome.HELD and result.ticket == ticket
    assert not ticket.collaborators.exists()
    held = HeldMail.objects.get()
    assert held.ticket == ticket and held.sender == "carl@example.com"
    assert held.threaded_by == "header" and "Same here" in held.preview


def test_signed_token_threads_and_forged_token_does_not(mailbox, karen):
    ticket = ingest(raw(), mailbox).ticket
    ours = make_message_id(ticket)
    assert ticket_id_from_token(ours) == ticket.pk
    answer = raw(message_id="<m2@example.com>", extra=f"References: {ours}\r\n")
    assert ingest(answer, mailbox).entry.threaded_by == "token"

    forged = ours.replace(ours.split(".")[3][:16], "0" * 16)
    assert ticket_id_from_token(forged) is None
    other = raw(message_id="<m3@example.com>", extra=f"References: {forged}\r\n")
    assert ingest(other, mailbox).outcome == Outcome.NEW_TICKET


def test_cc_of_a_verified_sender_becomes_collaborator_but_not_our_own_address(mailbox, karen):
    mailbox.trusted_authserv_ids = "mx.helpline.example"
    mailbox.save()
    passed = "Authentication-Results: mx.helpline.example; dmarc=pass header.from=example.com\r\n"
    message = raw(extra=passed + "Cc: Boss <boss@example.com>, support@helpline.example\r\n")
    ticket = ingest(message, mailbox).ticket
    emails = set(ticket.collaborators.values_list("user__email", flat=True))
    assert emails == {"boss@example.com"}


def test_cc_of_an_unverified_sender_does_not_join(mailbox, karen):
    message = raw(extra="Cc: Boss <boss@example.com>\r\n")
    ticket = ingest(message, mailbox).ticket
    assert not ticket.collaborators.exists()
    assert ticket.entries.get().verification == "unverified"


def test_mail_from_our_own_address_is_ignored(mailbox):
    result = ingest(raw(sender="support@helpline.example"), mailbox)
    assert result.outcome == Outcome.IGNORED
    assert Ticket.objects.count() == 0


def test_banned_address_and_domain_are_rejected_with_a_reason(mailbox):
    BannedAddress.objects.create(pattern="@spam.example", reason="spam")
    result = ingest(raw(sender="x@spam.example"), mailbox)
    assert result.outcome == Outcome.REJECTED and "spam" in result.reason
    assert Ticket.objects.count() == 0
    assert ReceivedMail.objects.get().reason == result.reason


@pytest.mark.django_db(transaction=True)
def test_acknowledgement_only_for_people_and_rate_limited(mailbox, settings):
    settings.HELPLINE_ACK_LIMIT = 2
    auto = raw(sender="away@example.org", extra="Auto-Submitted: auto-replied\r\n")
    ingest(auto, mailbox)
    assert not [m for m in mail.outbox if "away@example.org" in m.to]
    for n in range(4):
        ingest(raw(sender="eager@example.org", message_id=f"<e{n}@example.org>"), mailbox)
    acks = [m for m in mail.outbox if "eager@example.org" in m.to]
    assert len(acks) == 2
    suppressed = Notification.objects.filter(email="eager@example.org", state="suppressed")
    assert suppressed.count() == 2 and "limit" in suppressed.first().error


def test_verified_answer_to_a_resolved_ticket_reopens_it(mailbox, karen, john, org):
    ticket = ingest(raw(), mailbox).ticket
    actions.set_status(john, ticket, org.status("Resolved"))
    ours = make_message_id(ticket, "karen@example.com")  # the resolution mail Karen got
    ingest(raw(message_id="<m2@example.com>", extra=f"In-Reply-To: {ours}\r\n"))
    ticket.refresh_from_db()
    assert ticket.state == State.OPEN and ticket.reopened_count == 1


def test_unverified_answer_to_a_resolved_ticket_waits_for_review(mailbox, karen, john, org):
    ticket = ingest(raw(), mailbox).ticket
    actions.set_status(john, ticket, org.status("Resolved"))
    result = ingest(raw(message_id="<m2@example.com>", extra="In-Reply-To: <m1@example.com>\r\n"))
    ticket.refresh_from_db()
    assert result.outcome == Outcome.HELD and ticket.state == State.RESOLVED


def test_answer_to_a_long_closed_ticket_opens_a_new_one(mailbox, karen, john, org, settings):
    settings.HELPLINE_MAIL_REOPEN_CLOSED_DAYS = 30
    ticket = ingest(raw(), mailbox).ticket
    actions.set_status(john, ticket, org.status("Closed"))
    Ticket.objects.filter(pk=ticket.pk).update(closed_at=timezone.now() - timedelta(days=31))
    result = ingest(raw(message_id="<m2@example.com>", extra="In-Reply-To: <m1@example.com>\r\n"))
    assert result.outcome == Outcome.NEW_TICKET and result.ticket != ticket


def test_agent_answering_a_notification_by_mail_replies(mailbox, karen, john):
    ticket = ingest(raw(), mailbox).ticket
    answer = raw(
        sender="john@helpline.example",
        message_id="<j1@helpline.example>",
        extra=f"References: {make_message_id(ticket, 'john@helpline.example')}\r\n",
        body="Looks like a paper jam.",
    )
    result = ingest(answer, mailbox)
    assert result.outcome == Outcome.REPLY and result.entry.kind == EntryKind.REPLY
    assert result.entry.author == john and result.entry.verification == "reply_address"


def test_agent_note_command_by_mail(mailbox, karen, john):
    ticket = ingest(raw(), mailbox).ticket
    answer = raw(
        sender="john@helpline.example",
        message_id="<j1@helpline.example>",
        extra=f"References: {make_message_id(ticket, 'john@helpline.example')}\r\n",
        body="#note\nLooks like a paper jam.",
    )
    result = ingest(answer, mailbox)
    assert result.outcome == Outcome.NOTE and result.entry.kind == EntryKind.NOTE
    assert result.entry.body_text.strip() == "Looks like a paper jam."


def test_agent_with_someone_elses_token_is_held_never_a_note(mailbox, karen, john):
    ticket = ingest(raw(), mailbox).ticket
    forged = raw(
        sender="john@helpline.example",
        message_id="<j1@helpline.example>",
        extra=f"References: {make_message_id(ticket, 'karen@example.com')}\r\n",
        body="Close this, it is fine.",
    )
    result = ingest(forged, mailbox)
    assert result.outcome == Outcome.HELD and result.entry is None
    assert not ticket.entries.filter(author=john).exists()


def test_unreadable_mail_is_kept_and_can_be_reprocessed(mailbox):
    result = ingest(b"\x00\x01 no sender here", mailbox)
    assert result.outcome == "failed"
    failed = FailedMail.objects.get()
    assert "sender" in failed.error and bytes(failed.raw) == b"\x00\x01 no sender here"

    # The admin fixes the raw message (e.g. a relay lost the From line) and re-processes it.
    failed.raw = raw(sender="ken@example.com")
    failed.save()
    result = reprocess(failed)
    failed.refresh_from_db()
    assert result.outcome == Outcome.NEW_TICKET and failed.reprocessed_at
    assert FailedMail.objects.count() == 1


def test_too_many_or_too_large_attachments_are_listed_not_fatal(mailbox, settings):
    settings.HELPLINE_MAX_ATTACHMENT_BYTES = 10
    message = (
        b"From: ken@example.com\r\nSubject: big\r\nMessage-ID: <big@example.com>\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n'
        b"\r\nsee file\r\n--B\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="big.pdf"\r\n\r\n' + b"x" * 100 + b"\r\n--B--"
    )
    result = ingest(message, mailbox)
    assert result.outcome == Outcome.NEW_TICKET
    assert "big.pdf" in result.entry.body_text and not result.entry.attachments.exists()


def test_bounce_creates_no_ticket(mailbox, karen):
    ticket = ingest(raw(), mailbox).ticket
    result = ingest(bounce_raw(), mailbox)
    assert result.outcome == Outcome.BOUNCE and result.ticket == ticket
    assert Ticket.objects.count() == 1


def test_bounce_is_recorded_as_an_event(mailbox, karen):
    ticket = ingest(raw(), mailbox).ticket
    ingest(bounce_raw(), mailbox)
    assert ticket.events.filter(kind=EventKind.BOUNCE).exists()


def test_whole_message_is_kept_for_the_agent_to_expand(mailbox, karen):
    ingest(raw(), mailbox)
    answer = raw(
        message_id="<m2@example.com>",
        extra="In-Reply-To: <m1@example.com>\r\n",
        body="Fixed.\r\n\r\nOn Tue, 3 Mar 2026, Helpline wrote:\r\n> old text\r\n",
    )
    entry = ingest(answer, mailbox).entry
    assert entry.body_text == "Fixed."
    assert "> old text" in entry.full_text


def bounce_raw():
    return (
        b"From: MAILER-DAEMON@mx.example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <bounce1@mx.example.com>\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; karen@example.com\r\nAction: failed\r\nStatus: 5.2.2\r\n"
        b"Diagnostic-Code: smtp; 552 mailbox full\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <m1@example.com>\r\n--B--\r\n"
    )


def test_pipe_takes_one_message_from_stdin(mailbox, karen, monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO(raw()))
    monkeypatch.setattr("sys.stdin", stdin)
    out = io.StringIO()
    call_command("mail", "pipe", "--mailbox", "Support", stdout=out)
    assert out.getvalue().startswith("new_ticket #")
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "stdin", "code"),
    [(["--mailbox", "Nope"], b"From: a@b.example\r\n\r\nx", 67), ([], b"", 66)],
)
def test_pipe_exit_codes(mailbox, monkeypatch, args, stdin, code):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    with pytest.raises(CommandError) as error:
        call_command("mail", "pipe", *args)
    assert error.value.returncode == code


def test_import_files(mailbox, tmp_path):
    (tmp_path / "a.eml").write_bytes(raw(sender="ann@example.com", message_id="<a@x.example>"))
    (tmp_path / "b.eml").write_bytes(raw(sender="bob@example.com", message_id="<b@x.example>"))
    out = io.StringIO()
    call_command("mail", "import", str(tmp_path), stdout=out)
    assert "2 new_ticket" in out.getvalue()


def test_routing_rule_sees_headers_and_can_reject(mailbox):
    from helpline.accounts.models import User
    from helpline.tickets import hooks

    seen = {}

    def reject_newsletters(intake):
        seen.update(headers=intake.headers, recipient=intake.recipient)
        if "newsletter" in intake.subject.lower():
            raise hooks.TicketRejected("Newsletters are not requests", rule="No newsletters")

    hooks.on_intake(reject_newsletters)
    try:
        result = ingest(raw(sender="news@shop.example", subject="Our newsletter"), mailbox)
    finally:
        hooks._intake_filters.remove(reject_newsletters)
    assert result.outcome == Outcome.REJECTED
    assert result.reason == "Newsletters are not requests (rule “No newsletters”)"
    assert seen["recipient"] == "help@helpline.example"
    assert seen["headers"]["Subject"] == "Our newsletter"
    assert not User.objects.filter(email="news@shop.example").exists()
    assert Ticket.objects.count() == 0 and ReceivedMail.objects.get().outcome == "rejected"
