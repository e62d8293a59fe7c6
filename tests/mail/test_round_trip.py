"""Scenario 6 end to end: mail in over a real IMAP server, mail out over a real SMTP sink."""

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.db import OperationalError
from django.utils import timezone

from helpline.mail import fetch, review
from helpline.mail.fetch import fetch_all
from helpline.mail.models import AfterFetch, HeldMail, Mailbox, Security
from helpline.mail.quotes import REPLY_MARKER
from helpline.mail.threading import ticket_id_from_token
from helpline.tickets import actions
from helpline.tickets.models import Source, State, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTER = "dana.new@example.org"


@pytest.fixture
def mailbox(org, imap_server):
    return Mailbox.objects.create(
        name="Support inbox",
        address="help@helpline.example",
        host=imap_server.host,
        port=imap_server.port,
        security=Security.NONE,
        username=imap_server.user,
        password=imap_server.password,
        department=org.dept("Support"),
        help_topic=org.topic("General Inquiry"),
    )


def first_mail(subject="Printer on fire", body="The printer on floor 2 is on fire.\n"):
    msg = EmailMessage()
    msg["From"] = f"Dana New <{REQUESTER}>"
    msg["To"] = "Helpline <help@helpline.example>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content(body)
    msg.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="fire.pdf")
    return msg


def answer_to(sent, body, *, quote=True, references=True):
    """What Dana's mail client sends when she answers `sent`, quoting all of it."""
    msg = EmailMessage()
    msg["From"] = f"Dana New <{REQUESTER}>"
    msg["To"] = sent["Reply-To"] or sent["From"]
    msg["Subject"] = "Re: " + sent["Subject"]
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = make_msgid(domain="example.org")
    if references:
        msg["In-Reply-To"] = sent["Message-ID"]
        msg["References"] = f"{sent['References'] or ''} {sent['Message-ID']}".strip()
    text = sent.get_body(("plain",)).get_content()
    quoted = "\n".join("> " + line for line in text.splitlines())
    when = "Tue, 3 Mar 2026 at 10:02"
    msg.set_content(
        f"{body}\n\nOn {when}, Helpline <{sent['From']}> wrote:\n{quoted}\n" if quote else body
    )
    return msg


def test_email_round_trip(mailbox, imap_server, smtp_sink, john, org):
    # 1. A new requester writes in: a ticket with the body and the attachment, an acknowledgement.
    original = first_mail()
    imap_server.deliver(original.as_bytes())
    [report] = fetch_all()
    assert report.outcomes == {"new_ticket": 1}, report.summary()
    ticket = Ticket.objects.get()
    assert ticket.source == Source.EMAIL
    assert ticket.requester.email == REQUESTER and ticket.requester.name == "Dana New"
    assert ticket.department == org.dept("Support")
    entry = ticket.entries.get()
    assert entry.body_text.strip() == "The printer on floor 2 is on fire."
    assert entry.message_id == original["Message-ID"]
    assert [a.filename for a in entry.attachments.all()] == ["fire.pdf"]
    assert entry.attachments.get().file.read() == b"%PDF-1.4 fake"
    [(flags, _)] = imap_server.messages()
    assert b"\\Seen" in flags  # marked only now that the ticket is stored

    [ack] = smtp_sink.to(REQUESTER)
    assert f"[#{ticket.number}]" in ack["Subject"]
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == original["Message-ID"]
    assert ticket_id_from_token(ack["Message-ID"]) == ticket.pk
    assert ack.get_body(("plain",)).get_content().startswith(REPLY_MARKER)
    assert ack.get_body(("html",)) is not None
    assert "support@helpline.example" in ack["From"]

    # 2. John's reply goes out threaded, with the ticket number in the subject.
    smtp_sink.clear()
    actions.reply(john, ticket, "Please pull the plug and step away from the printer.")
    [reply] = smtp_sink.to(REQUESTER)
    assert f"[#{ticket.number}]" in reply["Subject"]
    assert "Auto-Submitted" not in reply
    assert reply["References"].split()[0] == original["Message-ID"]
    assert ack["Message-ID"] in reply["References"]
    assert reply["In-Reply-To"] in reply["References"]

    # Dana answers from her mail client, quoting the whole reply: only her answer is shown.
    answer = answer_to(reply, "Done, the fire is out. Thanks!")
    imap_server.deliver(answer.as_bytes())
    [report] = fetch_all()
    assert report.outcomes == {"message": 1}, report.summary()
    assert Ticket.objects.count() == 1
    latest = ticket.entries.order_by("-id").first()
    assert latest.body_text == "Done, the fire is out. Thanks!"
    assert latest.threaded_by in {"header", "token"}
    assert latest.verification == "reply_address"  # she answered mail sent to her
    assert latest.message_id == answer["Message-ID"]

    # 3. An unverified answer to a Resolved ticket (this client kept only the subject) waits
    # for review; accepted by an agent, it reopens the ticket.
    actions.set_status(john, ticket, org.status("Resolved"))
    ticket.refresh_from_db()
    assert ticket.state == State.RESOLVED
    smtp_sink.clear()
    late = answer_to(reply, "Sorry, it is smoking again.", quote=False, references=False)
    imap_server.deliver(late.as_bytes())
    [report] = fetch_all()
    assert report.outcomes == {"held": 1}, report.summary()
    ticket.refresh_from_db()
    assert ticket.state == State.RESOLVED
    held = HeldMail.objects.get(ticket=ticket)
    review.accept(john, held.pk)
    ticket.refresh_from_db()
    assert ticket.state == State.OPEN and ticket.reopened_count == 1
    accepted = ticket.entries.order_by("-id").first()
    assert accepted.threaded_by == "subject" and accepted.verification == "accepted"

    # The same message delivered twice creates nothing twice.
    entries = ticket.entries.count()
    imap_server.deliver(late.as_bytes())
    [report] = fetch_all()
    assert report.outcomes == {"duplicate": 1}, report.summary()
    assert ticket.entries.count() == entries and Ticket.objects.count() == 1


def test_auto_reply_and_bounce_get_no_acknowledgement(mailbox, imap_server, smtp_sink):
    vacation = first_mail(subject="Out of office", body="I am away until Monday.")
    vacation.replace_header("From", "Away Person <away@example.org>")
    vacation["Auto-Submitted"] = "auto-replied"
    imap_server.deliver(vacation.as_bytes())
    [report] = fetch_all()
    assert report.outcomes == {"new_ticket": 1}
    assert smtp_sink.to("away@example.org") == []

    # A bounce of the acknowledgement of another ticket: no ticket, no acknowledgement.
    imap_server.deliver(first_mail().as_bytes())
    fetch_all()
    ticket = Ticket.objects.get(requester__email=REQUESTER)
    [ack] = smtp_sink.to(REQUESTER)
    bounce = bounce_for(ack)
    smtp_sink.clear()
    imap_server.deliver(bounce)
    [report] = fetch_all()
    assert report.outcomes == {"bounce": 1}, report.summary()
    assert Ticket.objects.count() == 2
    assert smtp_sink.received == []
    assert ticket.entries.count() == 1


def bounce_for(sent) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        "To: support@helpline.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.example.org')}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {REQUESTER}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {sent['Message-ID']}\r\nSubject: {sent['Subject']}\r\n"
        "--B--\r\n"
    ).encode()


@pytest.mark.parametrize("after", [AfterFetch.MOVE, AfterFetch.DELETE])
def test_moved_or_deleted_after_fetch(after, mailbox, imap_server, smtp_sink):
    mailbox.after_fetch = after
    mailbox.move_to = "Processed"
    mailbox.save()
    imap_server.deliver(first_mail().as_bytes())
    [report] = fetch_all()
    assert report.outcomes == {"new_ticket": 1}
    assert imap_server.messages("INBOX") == []
    assert len(imap_server.messages("Processed")) == (1 if after == AfterFetch.MOVE else 0)


def test_message_stays_on_the_server_when_the_database_fails(
    mailbox, imap_server, smtp_sink, monkeypatch
):
    def database_down(raw, mailbox):
        raise OperationalError("database is locked")

    monkeypatch.setattr(fetch, "ingest", database_down)
    imap_server.deliver(first_mail().as_bytes())
    [report] = fetch_all()
    assert "database is locked" in report.error
    [(flags, _)] = imap_server.messages()
    assert b"\\Seen" not in flags
    monkeypatch.undo()
    [report] = fetch_all()  # the next round takes it in
    assert report.outcomes == {"new_ticket": 1}
    assert Ticket.objects.count() == 1


def test_wrong_password_is_reported_not_raised(mailbox, imap_server):
    mailbox.password = "wrong"
    mailbox.save()
    [report] = fetch_all()
    assert report.error and report.done == 0
    mailbox.refresh_from_db()
    assert mailbox.last_error


def test_fetchmail_command_and_task(mailbox, imap_server, smtp_sink):
    import io

    from django.core.management import call_command

    from helpline.mail.tasks import fetch_mailboxes

    imap_server.deliver(first_mail().as_bytes())
    out = io.StringIO()
    call_command("fetchmail", stdout=out)
    assert "Support inbox: 1/1 messages (1 new ticket)" in out.getvalue()
    imap_server.deliver(first_mail(subject="Second").as_bytes())
    assert fetch_mailboxes.call() == 1
    assert Ticket.objects.count() == 2


def test_agent_answers_an_alert_by_email_and_the_requester_gets_the_reply(
    mailbox, imap_server, smtp_sink, john, org
):
    """The agent's mail client answers the new-ticket alert through the signed reply address
    (sub-addressing on): the answer is John's reply, sent to the requester over SMTP, threaded
    into her conversation; `#note` makes an internal note that goes nowhere."""
    mailbox.subaddress_separator = "+"
    mailbox.save()
    original = first_mail(subject="VPN down", body="The VPN refuses me.\n")
    imap_server.deliver(original.as_bytes())
    fetch_all()
    ticket = Ticket.objects.get()
    [ack] = smtp_sink.to(REQUESTER)
    [alert] = smtp_sink.to("john@helpline.example")
    assert alert["Reply-To"].startswith("help+hl-") and alert["Reply-To"].endswith(
        "@helpline.example"
    )
    assert "#note" in alert.get_body(("plain",)).get_content()

    smtp_sink.clear()
    answer = EmailMessage()
    answer["From"] = "John Smith <john@helpline.example>"
    answer["To"] = alert["Reply-To"]  # this client drops In-Reply-To: the address alone verifies
    answer["Subject"] = "Re: " + alert["Subject"]
    answer["Message-ID"] = make_msgid(domain="helpline.example")
    quoted = "\n".join("> " + line for line in alert.get_body(("plain",)).get_content().split("\n"))
    answer.set_content(
        f"Restart the client, then try again.\n\nOn Monday, Helpline wrote:\n{quoted}"
    )
    imap_server.deliver(answer.as_bytes())
    [report] = fetch_all()
    assert report.outcomes == {"reply": 1}, report.summary()
    entry = ticket.entries.order_by("-id").first()
    assert entry.author == john and entry.body_text == "Restart the client, then try again."
    assert entry.verification == "reply_address"
    [reply] = smtp_sink.to(REQUESTER)
    assert "Restart the client, then try again." in reply.get_body(("plain",)).get_content()
    assert reply["References"].split()[0] == original["Message-ID"]
    assert ack["Message-ID"] in reply["References"]

    smtp_sink.clear()
    note = EmailMessage()
    note["From"] = "john@helpline.example"
    note["To"] = alert["Reply-To"]
    note["Subject"] = "Re: " + alert["Subject"]
    note["Message-ID"] = make_msgid(domain="helpline.example")
    note.set_content("#note\nCustomer is on the old client version.")
    imap_server.deliver(note.as_bytes())
    [report] = fetch_all()
    assert report.outcomes == {"note": 1}, report.summary()
    assert (
        ticket.entries.order_by("-id").first().body_text == "Customer is on the old client version."
    )
    assert not smtp_sink.to(REQUESTER)
