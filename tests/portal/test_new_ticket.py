"""Opening a ticket on the portal: as a guest, signed in, and every way it can go wrong."""

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from helpline.accounts.models import User
from helpline.tickets.models import HelpTopic, Ticket

NEW = "/tickets/new/"


def opened_number(client) -> str:
    return client.session["helpline_portal_opened"]["number"]


@pytest.mark.django_db(transaction=True)
def test_guest_opens_a_ticket_sees_its_number_and_gets_the_acknowledgement(
    client, demo, org, ticket_form
):
    response = client.post(NEW, ticket_form(), follow=True)

    ticket = Ticket.objects.get()
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/tickets/new/done/"
    assert f"#{ticket.number}" in response.content.decode()
    assert ticket.subject == "Mobile/online banking system down"
    assert ticket.requester.email == "jane.doe@example.org"
    assert ticket.requester.name == "Jane Doe"
    assert not ticket.requester.has_usable_password()
    # The help topic routes it: department and SLA come from General Inquiry.
    assert ticket.help_topic == org.topic("General Inquiry")
    assert ticket.department == org.dept("Support")
    assert ticket.sla_plan == org.sla("Sev-C")
    assert ticket.source == "web"
    assert ticket.entries.get().body_text == "Nothing loads since this morning."
    acks = [m for m in mail.outbox if m.to == ["jane.doe@example.org"]]
    assert len(acks) == 1 and ticket.number in acks[0].subject


def test_signed_in_requester_opens_a_ticket_with_her_own_address(client, karen, org, ticket_form):
    client.force_login(karen)
    page = client.get(NEW).content.decode()
    assert 'value="karen@example.com"' in page and "disabled" in page

    # A forged email field is ignored: the ticket is Karen's.
    response = client.post(
        NEW, ticket_form(email="someone.else@example.org", name="Mallory"), follow=True
    )

    ticket = Ticket.objects.get()
    assert ticket.requester == karen
    body = response.content.decode()
    assert f"#{ticket.number}" in body
    assert f'href="/tickets/{ticket.number}/"' in body
    assert not User.objects.filter(email="someone.else@example.org").exists()


def test_topic_business_critical_outage_sets_department_priority_and_sla(
    client, demo, org, ticket_form
):
    client.post(NEW, ticket_form(help_topic=org.topic("Business Critical Outage").pk))
    ticket = Ticket.objects.get()
    assert ticket.department == org.dept("Online Banking")
    assert ticket.priority == org.priority("emergency")
    assert ticket.sla_plan == org.sla("Sev-A")


def test_phone_goes_to_a_new_requesters_profile(client, demo, ticket_form):
    client.post(NEW, ticket_form(phone="+1 555 0100"))
    assert User.objects.get(email="jane.doe@example.org").phone == "+1 555 0100"


def test_guest_using_a_known_address_keeps_the_phone_in_the_message(client, karen, ticket_form):
    client.post(NEW, ticket_form(email="karen@example.com", phone="+1 555 0199"))
    karen.refresh_from_db()
    assert karen.phone == ""
    assert "Phone: +1 555 0199" in Ticket.objects.get(requester=karen).entries.get().body_text


def test_attachments_are_stored_with_the_first_message(client, demo, ticket_form):
    files = [
        SimpleUploadedFile("screenshot.png", b"\x89PNG fake", content_type="image/png"),
        SimpleUploadedFile("log.txt", b"error 42", content_type="text/plain"),
    ]
    client.post(NEW, {**ticket_form(), "attachments": files})
    entry = Ticket.objects.get().entries.get()
    assert sorted(a.filename for a in entry.attachments.all()) == ["log.txt", "screenshot.png"]


def test_form_shows_the_attachment_limits(client, demo, settings):
    settings.HELPLINE_MAX_ATTACHMENTS = 3
    settings.HELPLINE_MAX_ATTACHMENT_BYTES = 2 * 2**20
    page = client.get(NEW).content.decode()
    assert "Up to 3 files, 2.0\xa0MB each." in page


def test_only_active_public_topics_are_offered(client, demo, org):
    HelpTopic.objects.filter(name="Hardware").update(public=False)
    HelpTopic.objects.filter(name="Sev-A Emergency").update(active=False)
    page = client.get(NEW).content.decode()
    assert "General Inquiry" in page
    assert "Hardware" not in page and "Sev-A Emergency" not in page


# ---------------------------------------------------------------------------------------------
# Spam


def test_honeypot_pretends_success_and_creates_nothing(client, demo, ticket_form, mailoutbox):
    page = client.get(NEW).content.decode()
    assert 'class="hp" aria-hidden="true"' in page
    assert 'tabindex="-1" autocomplete="off"' in page

    response = client.post(NEW, ticket_form(website="http://spam.example"), follow=True)

    assert response.status_code == 200
    assert "your ticket is open" in response.content.decode()
    assert not Ticket.objects.exists()
    assert not User.objects.filter(email="jane.doe@example.org").exists()
    assert mailoutbox == []


def test_rate_limit_per_address(client, demo, ticket_form, settings):
    settings.HELPLINE_PORTAL_TICKET_LIMIT = 2
    for n in range(2):
        client.post(NEW, ticket_form(subject=f"Ticket {n}"), REMOTE_ADDR=f"10.0.0.{n}")
    response = client.post(NEW, ticket_form(subject="Third"), REMOTE_ADDR="10.0.0.9")

    assert Ticket.objects.count() == 2
    body = response.content.decode()
    assert "You opened several tickets in a short time" in body
    assert 'value="Third"' in body  # Nothing typed is lost.
    # Another address from another network is not affected.
    client.post(NEW, ticket_form(email="other@example.org"), REMOTE_ADDR="10.0.0.8")
    assert Ticket.objects.count() == 3


def test_rate_limit_per_network_address(client, demo, ticket_form, settings):
    settings.HELPLINE_PORTAL_TICKET_LIMIT = 2
    for n in range(2):
        client.post(NEW, ticket_form(email=f"bot{n}@example.org"), REMOTE_ADDR="10.1.1.1")
    response = client.post(NEW, ticket_form(email="bot9@example.org"), REMOTE_ADDR="10.1.1.1")
    assert Ticket.objects.count() == 2
    assert "Please wait 10 minutes" in response.content.decode()


def test_default_rate_limit_is_five_per_ten_minutes(client, demo, ticket_form):
    for n in range(6):
        client.post(NEW, ticket_form(subject=f"Ticket {n}"))
    assert Ticket.objects.count() == 5


# ---------------------------------------------------------------------------------------------
# Bad input: a clear message on the form, and everything else typed is kept


def assert_kept_and_refused(response, message: str, kept: dict) -> None:
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body, body
    assert "Please correct the problems below." in body
    for value in kept.values():
        assert str(value) in body
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Enter your name."),
        ("email", "", "Enter your email address."),
        ("email", "not-an-address", "Enter a valid email address"),
        ("subject", "   ", "Enter a subject"),
        ("message", "", "Describe the problem"),
        ("help_topic", "", "Choose a help topic."),
        ("help_topic", "999999", "That help topic is not available"),
        ("help_topic", "general", "That help topic is not available"),
        ("subject", "x" * 256, "at most 255 characters"),
        ("name", "n" * 151, "at most 150 characters"),
        ("message", "m" * 20_001, "at most 20000 characters"),
        ("phone", "1" * 41, "at most 40 characters"),
    ],
)
def test_bad_input_is_refused_with_a_message(client, demo, ticket_form, field, value, message):
    data = ticket_form(**{field: value})
    kept = {k: v for k, v in data.items() if k not in (field, "help_topic", "website", "phone")}
    response = client.post(NEW, data)
    assert_kept_and_refused(response, message, kept)


def test_inactive_topic_is_refused(client, demo, org, ticket_form):
    topic = org.topic("Hardware")
    topic.active = False
    topic.save()
    response = client.post(NEW, ticket_form(help_topic=topic.pk))
    assert_kept_and_refused(
        response, "That help topic is not available", {"subject": "Mobile/online banking"}
    )


def test_private_topic_is_refused(client, demo, org, ticket_form):
    HelpTopic.objects.filter(name="Hardware").update(public=False)
    response = client.post(NEW, ticket_form(help_topic=org.topic("Hardware").pk))
    assert_kept_and_refused(response, "That help topic is not available", {})


def test_file_over_the_limit_is_refused(client, demo, ticket_form, settings):
    settings.HELPLINE_MAX_ATTACHMENT_BYTES = 1000
    big = SimpleUploadedFile("dump.bin", b"x" * 1001)
    response = client.post(NEW, {**ticket_form(), "attachments": [big]})
    assert_kept_and_refused(
        response,
        "“dump.bin” is 1001\xa0bytes; the limit is 1000\xa0bytes per file.",
        {"subject": "Mobile/online banking system down", "name": "Jane Doe"},
    )
    assert "Files are not kept" in response.content.decode()


def test_too_many_files_are_refused(client, demo, ticket_form, settings):
    settings.HELPLINE_MAX_ATTACHMENTS = 2
    files = [SimpleUploadedFile(f"f{n}.txt", b"data") for n in range(3)]
    response = client.post(NEW, {**ticket_form(), "attachments": files})
    assert_kept_and_refused(
        response, "You can attach at most 2 files to one message; you chose 3.", {}
    )


def test_empty_file_is_refused(client, demo, ticket_form):
    response = client.post(
        NEW, {**ticket_form(), "attachments": [SimpleUploadedFile("empty.txt", b"")]}
    )
    assert_kept_and_refused(response, "“empty.txt” is empty.", {})


def test_deactivated_requester_cannot_open_tickets(client, karen, ticket_form):
    karen.is_active = False
    karen.save()
    response = client.post(NEW, ticket_form(email="karen@example.com"))
    assert_kept_and_refused(response, "Tickets from this address are not accepted here.", {})


def test_confirmation_page_without_a_ticket_goes_to_the_form(client, demo):
    response = client.get("/tickets/new/done/")
    assert response.status_code == 302 and response["Location"] == NEW
