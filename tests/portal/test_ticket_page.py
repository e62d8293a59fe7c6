"""One ticket on the portal: the public thread only, replies, and nothing to strangers."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpline.tickets import actions
from helpline.tickets.actions import NewAttachment
from helpline.tickets.models import State, Ticket


def url(ticket) -> str:
    return f"/tickets/{ticket.number}/"


def test_requester_sees_the_public_thread(client, karen, open_ticket_for):
    ticket = open_ticket_for(
        karen, subject="Mobile/online banking system down", body="Nothing loads."
    )
    client.force_login(karen)

    body = client.get(url(ticket)).content.decode()

    assert "Mobile/online banking system down" in body
    assert "Nothing loads." in body
    assert 'class="badge state-open">Open</span>' in body
    assert "<dt>Department</dt><dd>Support</dd>" in body
    assert f"Ticket #{ticket.number}" in body


def test_internal_notes_never_appear(client, karen, john, open_ticket_for):
    ticket = open_ticket_for(karen)
    actions.add_note(
        john,
        ticket,
        "SECRET-NOTE: requester is a VIP",
        attachments=[NewAttachment("internal.txt", b"x")],
    )
    actions.reply(john, ticket, "We are looking into it.")
    client.force_login(karen)

    body = client.get(url(ticket)).content.decode()

    assert "We are looking into it." in body
    assert "SECRET-NOTE" not in body and "internal.txt" not in body
    # Events (the internals: who was assigned, SLA changes) are not on the page either.
    assert "Sev-C" not in body and "SLA" not in body


def test_karen_cannot_open_kens_ticket(client, karen, ken, open_ticket_for):
    kens = open_ticket_for(ken, subject="Ken's Adobe upgrade")
    client.force_login(karen)

    response = client.get(url(kens))
    missing = client.get("/tickets/999999999/")
    reply = client.post(url(kens), {"message": "hijack"})

    assert response.status_code == missing.status_code == reply.status_code == 404
    assert "Adobe" not in response.content.decode()
    assert not kens.entries.filter(body_text="hijack").exists()


def test_agent_who_works_the_ticket_is_sent_to_the_agent_panel(
    client, john, karen, open_ticket_for
):
    ticket = open_ticket_for(karen)
    client.force_login(john)
    response = client.get(url(ticket))
    assert response.status_code == 302
    assert response["Location"] == f"/staff/tickets/{ticket.number}/"


def test_reply_adds_a_message(client, karen, open_ticket_for):
    ticket = open_ticket_for(karen)
    client.force_login(karen)

    response = client.post(
        url(ticket),
        {
            "message": "Here is the log.",
            "attachments": [SimpleUploadedFile("log.txt", b"boom")],
        },
        follow=True,
    )

    entry = ticket.entries.order_by("-pk").first()
    assert entry.kind == "message" and entry.body_text == "Here is the log."
    assert entry.attachments.get().filename == "log.txt"
    assert response.redirect_chain[-1][0] == f"{url(ticket)}#entry-{entry.pk}"
    assert "Your reply was added." in response.content.decode()


def test_reply_reopens_a_resolved_ticket(client, karen, john, org, open_ticket_for):
    ticket = open_ticket_for(karen)
    actions.reply(john, ticket, "Fixed: restart the app.", status=org.status("Resolved"))
    client.force_login(karen)
    assert "This ticket is resolved." in client.get(url(ticket)).content.decode()

    response = client.post(url(ticket), {"message": "It broke again."}, follow=True)

    ticket.refresh_from_db()
    assert ticket.state == State.OPEN and ticket.reopened_count == 1
    assert "Your reply reopened the ticket" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"message": "   "}, "Write a reply or attach a file."),
        ({"message": "x" * 20_001}, "at most 20000 characters"),
    ],
)
def test_bad_reply_is_refused_and_kept(client, karen, open_ticket_for, data, message):
    ticket = open_ticket_for(karen)
    client.force_login(karen)
    response = client.post(url(ticket), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "Your reply was not sent." in response.content.decode()
    assert ticket.entries.count() == 1


def test_reply_with_a_file_over_the_limit_keeps_the_text(client, karen, open_ticket_for, settings):
    settings.HELPLINE_MAX_ATTACHMENT_BYTES = 10
    ticket = open_ticket_for(karen)
    client.force_login(karen)
    response = client.post(
        url(ticket),
        {"message": "See attached", "attachments": [SimpleUploadedFile("big.bin", b"x" * 11)]},
    )
    body = response.content.decode()
    assert "“big.bin” is 11\xa0bytes; the limit is 10\xa0bytes per file." in body
    assert "See attached</textarea>" in body
    assert ticket.entries.count() == 1


def test_html_and_script_are_shown_escaped(client, demo, ticket_form):
    evil = "<script>alert(1)</script>"
    client.post(
        "/tickets/new/",
        {
            **ticket_form(name=f"Eve {evil}", subject=f"Subject {evil}", message=f"Body {evil}"),
            "attachments": [SimpleUploadedFile(f"{evil[:8]}x.txt", b"data")],
        },
    )
    ticket = Ticket.objects.get()
    client.force_login(ticket.requester)

    pages = [client.get(url(ticket)).content.decode(), client.get("/tickets/").content.decode()]

    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for page in pages:
        assert "<script>alert(1)" not in page
        assert f"Subject {escaped}" in page
    assert f"Body {escaped}" in pages[0]
    assert f"Eve {escaped}" in pages[0]
    assert "&lt;script&gt;x.txt" in pages[0]


def test_times_follow_the_browsers_time_zone(client, karen, open_ticket_for):
    ticket = open_ticket_for(karen)
    client.force_login(karen)
    client.cookies["helpline_tz"] = "Asia/Tokyo"
    assert "Times are shown in Asia/Tokyo." in client.get(url(ticket)).content.decode()
    client.cookies["helpline_tz"] = "../../etc/passwd"
    assert "Times are shown in America/New_York." in client.get(url(ticket)).content.decode()


def test_constant_number_of_queries(
    client, karen, john, open_ticket_for, django_assert_num_queries
):
    ticket = open_ticket_for(karen)

    def grow(n):
        for i in range(n):
            actions.reply(
                john, ticket, f"Reply {i}", attachments=[NewAttachment(f"r{i}.txt", b"r")]
            )
            actions.add_note(john, ticket, f"Note {i}")
            actions.add_message(karen, ticket, f"Message {i}")

    client.force_login(karen)
    grow(1)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(ticket)).status_code == 200
    grow(10)
    with django_assert_num_queries(len(few.captured_queries)):
        body = client.get(url(ticket)).content.decode()
    assert body.count('class="entry ') == 1 + 11 * 2
