"""Attachment download at /attachments/<id>/: access checked, never rendered as a page."""

import pytest

from helpline.tickets import actions, guest
from helpline.tickets.actions import NewAttachment


@pytest.fixture
def karens_ticket(karen, open_ticket_for):
    return open_ticket_for(
        karen,
        attachments=[
            NewAttachment("page.html", b"<script>alert(1)</script>", "text/html"),
            NewAttachment("shot.png", b"\x89PNG\r\n\x1a\n", "image/png"),
            NewAttachment("drawing.svg", b"<svg onload='alert(1)'/>", "image/svg+xml"),
        ],
    )


def attachment(ticket, name):
    return ticket.entries.get(kind="message").attachments.get(filename=name)


def test_requester_downloads_her_file(client, karen, karens_ticket):
    client.force_login(karen)
    response = client.get(f"/attachments/{attachment(karens_ticket, 'shot.png').pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x89PNG\r\n\x1a\n"


def test_another_requester_gets_404(client, ken, karens_ticket):
    client.force_login(ken)
    assert (
        client.get(f"/attachments/{attachment(karens_ticket, 'shot.png').pk}/").status_code == 404
    )


def test_anonymous_gets_404_and_unknown_id_too(client, karens_ticket):
    assert (
        client.get(f"/attachments/{attachment(karens_ticket, 'shot.png').pk}/").status_code == 404
    )
    assert client.get("/attachments/987654/").status_code == 404


def test_uploaded_html_is_a_download_never_a_page(client, karen, karens_ticket):
    client.force_login(karen)
    response = client.get(f"/attachments/{attachment(karens_ticket, 'page.html').pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="page.html"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/octet-stream"
    assert "sandbox" in response["Content-Security-Policy"]


def test_svg_is_a_download_and_png_may_show_inline(client, karen, karens_ticket):
    client.force_login(karen)
    svg = client.get(f"/attachments/{attachment(karens_ticket, 'drawing.svg').pk}/")
    png = client.get(f"/attachments/{attachment(karens_ticket, 'shot.png').pk}/")
    assert svg["Content-Disposition"].startswith("attachment;")
    assert png["Content-Disposition"].startswith("inline;")
    assert png["Content-Type"] == "image/png" and png["X-Content-Type-Options"] == "nosniff"


def test_internal_note_files_are_for_agents_only(client, karen, john, karens_ticket):
    note = actions.add_note(
        john, karens_ticket, "internal", attachments=[NewAttachment("secret.txt", b"s")]
    )
    file_id = note.attachments.get().pk
    client.force_login(karen)
    assert client.get(f"/attachments/{file_id}/").status_code == 404
    client.force_login(john)
    assert client.get(f"/attachments/{file_id}/").status_code == 200


def test_agent_who_works_the_ticket_downloads_public_files(client, john, jane, karens_ticket):
    file_id = attachment(karens_ticket, "page.html").pk
    client.force_login(john)  # Support: the ticket's department.
    assert client.get(f"/attachments/{file_id}/").status_code == 200
    client.force_login(jane)  # Online Banking: no access to Support.
    assert client.get(f"/attachments/{file_id}/").status_code == 404


def test_guest_with_a_valid_link_downloads_and_loses_access_on_revoke(client, karens_ticket):
    file_id = attachment(karens_ticket, "shot.png").pk
    token = guest.issue_link(karens_ticket, "karen@example.com")
    client.get(f"/t/{token}/")
    assert client.get(f"/attachments/{file_id}/").status_code == 200

    guest.revoke(karens_ticket)

    assert client.get(f"/attachments/{file_id}/").status_code == 404


def test_attachment_link_is_on_the_ticket_page(client, karen, karens_ticket):
    client.force_login(karen)
    body = client.get(f"/tickets/{karens_ticket.number}/").content.decode()
    assert f'href="/attachments/{attachment(karens_ticket, "page.html").pk}/"' in body
