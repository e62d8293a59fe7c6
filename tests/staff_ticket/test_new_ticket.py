"""New ticket on behalf of a requester (phone call, walk-in), and the requester lookup."""

import pytest
from django.contrib.messages import get_messages
from django.core import mail

from helpline.accounts.models import User
from helpline.tickets.models import EventKind, Source, Ticket

NEW = "/staff/tickets/new/"
LOOKUP = "/staff/requesters/lookup/"


def _form(org, **changes):
    data = {
        "requester_email": "walter.white@example.com",
        "requester_name": "Walter White",
        "source": Source.PHONE,
        "help_topic": org.topic("Hardware").pk,
        "department": "",
        "priority": "",
        "sla_plan": "",
        "assignee": "",
        "team": "",
        "subject": "Printer on floor 3 jams",
        "body": "Called at 9:10; every job jams after two pages.",
        "autorespond": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_form_offers_only_johns_departments(client_for, john, admin_user, demo):
    page = client_for(john).get(NEW).content.decode()
    department_select = page.split('name="department"')[1].split("</select>")[0]
    assert "Support" in department_select and "Online Banking" not in department_select
    admin_page = client_for(admin_user).get(NEW).content.decode()
    admin_select = admin_page.split('name="department"')[1].split("</select>")[0]
    assert "Online Banking" in admin_select and "SysAdmins" in admin_select


def test_a_phone_call_opens_a_ticket_for_a_new_requester(
    client_for, john, org, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(john).post(NEW, _form(org))
    walter = User.objects.get(email="walter.white@example.com")
    ticket = Ticket.objects.get(requester=walter)
    assert (
        response.status_code == 302
        and response["Location"] == f"/staff/tickets/{ticket.number}/#main"
    )
    assert walter.name == "Walter White" and not walter.has_usable_password()
    assert ticket.source == Source.PHONE
    assert ticket.department == org.dept("Support") and ticket.sla_plan == org.sla("Sev-B")
    assert ticket.entries.get().body_text == "Called at 9:10; every job jams after two pages."
    created = ticket.events.get(kind=EventKind.CREATED)
    assert created.actor == john and created.reason == "Opened by John Smith for Walter White"
    assert any("walter.white@example.com" in m.to for m in mail.outbox)  # The acknowledgement.
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert f"Ticket #{ticket.number} opened for Walter White (new requester)." in messages


def test_an_existing_requester_is_found_by_email_without_an_acknowledgement(
    client_for, john, karen, org, django_capture_on_commit_callbacks
):
    people = User.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(john).post(NEW, _form(
            org, requester_email="KAREN@example.com", requester_name="", source=Source.WALK_IN,
            autorespond=None, priority=org.priority("high").pk,
            assignee=john.pk, team=org.team("Level 1 Support").pk,
        ))  # fmt: skip
    assert response.status_code == 302
    assert User.objects.count() == people
    ticket = Ticket.objects.get(subject="Printer on floor 3 jams")
    assert ticket.requester == karen and ticket.source == Source.WALK_IN
    assert ticket.priority.name == "high" and ticket.assignee == john
    assert ticket.team == org.team("Level 1 Support")
    assert not any(karen.email in m.to for m in mail.outbox)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"requester_email": ""}, "Find the requester, or enter a new requester"),
        ({"requester_email": "nobody@"}, "Enter a valid email address."),
        ({"subject": ""}, "This field is required."),
        ({"body": ""}, "This field is required."),
        ({"source": "api"}, "Select a valid choice."),
        ({"department": "ONLINE_BANKING"}, "Unknown department: choose one from the list."),
        ({"department": "999999"}, "Unknown department: choose one from the list."),
        ({"assignee": "999999"}, "Unknown agent: choose one from the list."),
        ({"help_topic": "BCO"}, "You have no access to Online Banking"),
        ({"help_topic": ""}, "Choose a department or a help topic."),
    ],
)
def test_bad_input_is_explained_and_creates_nothing(client_for, john, org, changes, message):
    if changes.get("department") == "ONLINE_BANKING":
        changes["department"] = org.dept("Online Banking").pk
    if changes.get("help_topic") == "BCO":
        changes["help_topic"] = org.topic("Business Critical Outage").pk
    people, tickets = User.objects.count(), Ticket.objects.count()
    response = client_for(john).post(NEW, _form(org, **changes))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert (User.objects.count(), Ticket.objects.count()) == (people, tickets)


def test_assigning_someone_who_cannot_work_the_department_creates_nothing(
    client_for, admin_user, jane, org
):
    people = User.objects.count()
    response = client_for(admin_user).post(NEW, _form(
        org, help_topic="", department=org.dept("SysAdmins").pk,
        assignee=User.objects.get(username="garnet").pk,
    ))  # fmt: skip
    assert response.status_code == 400
    assert "Garnet Jones has no access to SysAdmins" in response.content.decode()
    assert User.objects.count() == people  # Walter was not left behind without a ticket.


def test_a_file_over_the_limit_is_explained(client_for, john, org, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.HELPLINE_MAX_ATTACHMENT_BYTES = 100
    response = client_for(john).post(
        NEW, _form(org, attachments=SimpleUploadedFile("scan.pdf", b"%" * 500))
    )
    assert response.status_code == 400
    assert "“scan.pdf” is 500\xa0bytes; the limit is 100\xa0bytes per file." in (
        response.content.decode()
    )


def test_the_lookup_finds_people_by_name_or_email(client_for, john, karen):
    client = client_for(john)
    by_name = client.get(LOOKUP, {"q": "kar"}).content.decode()
    assert 'data-email="karen@example.com"' in by_name and "Karen Miller" in by_name
    by_email = client.get(LOOKUP, {"q": "@example.com"}).content.decode()
    assert "karen@example.com" in by_email and "ken@example.com" in by_email
    assert "data-email" not in client.get(LOOKUP, {"q": "k"}).content.decode()
    assert "Nobody matches" in client.get(LOOKUP, {"q": "zzzz"}).content.decode()


def test_the_lookup_escapes_names(client_for, john, karen):
    karen.name = '"><script>alert(1)</script>'
    karen.save()
    page = client_for(john).get(LOOKUP, {"q": "karen"}).content.decode()
    assert "<script>" not in page
    assert 'data-name="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page


def test_the_lookup_and_the_form_are_for_agents_only(client, client_for, karen):
    for who in (client, client_for(karen)):
        for path in (LOOKUP + "?q=ken", NEW):
            response = who.get(path)
            assert response.status_code == 302 and response["Location"].startswith("/staff/login/")
