"""The admin panel's "Access check": why can (or can't) a person see a ticket?"""

import pytest
from django.contrib.auth.models import Permission as DjangoPermission
from django.test import Client

from helpline.accounts.models import User
from helpline.tickets.models import Collaborator

pytestmark = pytest.mark.django_db

URL = "/admin/tickets/ticket/access-check/"


def _check(client, person: str, ticket: str):
    response = client.get(URL, {"person": person, "ticket": ticket})
    assert response.status_code == 200
    return response


def _answer(response) -> dict:
    answer = response.context["answer"]
    assert answer is not None, response.context["form"].errors
    return answer


def _allowed(answer) -> dict:
    return {action["label"]: action["allowed"] for action in answer["actions"]}


def test_page_answers_with_an_empty_form(admin_client):
    response = admin_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="person"' in html and 'name="ticket"' in html
    assert '<option value="john">' in html  # agents are suggested
    assert response.context["answer"] is None
    assert not response.context["form"].errors


def test_agent_with_a_role_in_the_department(admin_client, john, support_ticket):
    response = _check(admin_client, "john", support_ticket.number)
    answer = _answer(response)
    assert answer["visible"] is True
    assert answer["role"].name == "Expanded Access"
    assert any("primary access to Support" in reason for reason in answer["reasons"])
    allowed = _allowed(answer)
    assert allowed["Reply to the requester"] is True
    assert allowed["Delete tickets"] is False
    html = response.content.decode()
    assert f"can see\n      ticket #{support_ticket.number}" in html
    assert "role “Expanded Access” in Support" in html


def test_limited_role_shows_what_is_not_allowed(admin_client, garnet, support_ticket):
    answer = _answer(_check(admin_client, "garnet", support_ticket.number))
    assert answer["visible"]
    allowed = _allowed(answer)
    assert allowed["Reply to the requester"] is True
    assert allowed["Assign and release"] is False
    assert allowed["Transfer to another department"] is False


def test_agent_without_access_to_a_restricted_department(admin_client, john, sysadmins_ticket):
    response = _check(admin_client, "john@helpline.example", f"#{sysadmins_ticket.number}")
    answer = _answer(response)
    assert answer["visible"] is False
    assert "John Smith has no access to SysAdmins." in answer["reasons"]
    assert not any(_allowed(answer).values())
    assert "Cannot see it" in response.content.decode()


def test_requester_and_stranger(admin_client, karen, ken, support_ticket):
    own = _answer(_check(admin_client, "karen@example.com", support_ticket.number))
    assert own["visible"]
    assert "Karen Miller is the requester of this ticket." in own["reasons"]
    writes = "Write to it as the requester or a collaborator (portal, email)"
    assert _allowed(own)[writes] is True
    assert _allowed(own)["Reply to the requester"] is False

    stranger = _answer(_check(admin_client, "ken", support_ticket.number))
    assert stranger["visible"] is False
    assert _allowed(stranger)[writes] is False


def test_collaborator(admin_client, ken, support_ticket):
    Collaborator.objects.create(ticket=support_ticket, user=ken)
    answer = _answer(_check(admin_client, "ken", support_ticket.number))
    assert answer["visible"]
    assert "Ken Adams is a collaborator on this ticket." in answer["reasons"]


def test_agent_who_is_the_requester_elsewhere(admin_client, org, john, sysadmins_ticket):
    from helpline.tickets import actions

    own = actions.open_ticket(
        john,
        requester=john,
        subject="My laptop",
        body="Broken.",
        help_topic=org.topic("Sev-A Emergency"),
    )
    answer = _answer(_check(admin_client, "john", own.number))
    assert answer["visible"]
    assert answer["role"] is None
    assert any("the way a requester does" in reason for reason in answer["reasons"])
    assert not _allowed(answer)["Reply to the requester"]


def test_administrator_and_deactivated_user(admin_client, admin_user, garnet, support_ticket):
    admin_answer = _answer(_check(admin_client, "admin", support_ticket.number))
    assert admin_answer["visible"] and admin_answer["is_admin"]
    assert all(
        allowed
        for label, allowed in _allowed(admin_answer).items()
        if not label.startswith("Write to it")
    )

    User.objects.filter(pk=garnet.pk).update(is_active=False)
    gone = _answer(_check(admin_client, "garnet", support_ticket.number))
    assert gone["visible"] is False
    assert gone["reasons"] == ["Garnet Jones is deactivated."]
    assert not any(_allowed(gone).values())


def test_staff_flag_alone_gives_no_ticket_access(admin_client, ken, support_ticket):
    User.objects.filter(pk=ken.pk).update(is_staff=True)
    answer = _answer(_check(admin_client, "ken", support_ticket.number))
    assert answer["visible"] is False
    assert any("Staff status opens the admin panel only" in r for r in answer["reasons"])


@pytest.mark.parametrize(
    ("person", "ticket", "field", "message"),
    [
        ("nobody", "NUMBER", "person", "No user has the username or email address “nobody”."),
        ("john", "999999999", "ticket", "There is no ticket #999999999."),
        ("", "", "person", "This field is required."),
        ("john", "", "ticket", "This field is required."),
        ("x" * 300, "NUMBER", "person", "Ensure this value has at most 254 characters"),
        ("jo\x00hn", "NUMBER", "person", "Null characters are not allowed."),
        ("<script>", "<b>1</b>", "person", "No user has the username or email address"),
    ],
)
def test_bad_input_is_a_form_error(admin_client, support_ticket, person, ticket, field, message):
    ticket = ticket.replace("NUMBER", support_ticket.number)
    response = _check(admin_client, person, ticket)
    assert response.context["answer"] is None
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field]), errors
    assert "<script>" not in response.content.decode()


def test_ticket_page_and_list_link_to_the_check(admin_client, support_ticket):
    change = admin_client.get(f"/admin/tickets/ticket/{support_ticket.pk}/change/")
    assert f'href="{URL}?ticket={support_ticket.number}"' in change.content.decode()
    listing = admin_client.get("/admin/tickets/ticket/")
    assert f'href="{URL}"' in listing.content.decode()
    prefilled = admin_client.get(URL, {"ticket": support_ticket.number})
    assert prefilled.context["form"]["ticket"].value() == support_ticket.number
    assert not prefilled.context["form"].errors


def test_only_staff_who_may_view_tickets(client, john, karen, support_ticket):
    query = {"person": "john", "ticket": support_ticket.number}
    anonymous = Client().get(URL, query)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]

    client.force_login(john)  # an agent, but not staff of the admin panel
    response = client.get(URL, query)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]

    User.objects.filter(pk=karen.pk).update(is_staff=True)
    staff = Client()
    staff.force_login(User.objects.get(pk=karen.pk))
    assert staff.get(URL, query).status_code == 403

    karen = User.objects.get(pk=karen.pk)
    karen.user_permissions.add(DjangoPermission.objects.get(codename="view_ticket"))
    allowed = Client()
    allowed.force_login(karen)
    response = allowed.get(URL, query)
    assert response.status_code == 200
    assert response.context["answer"]["visible"] is True


def test_deactivated_agent_profile_counts_as_requester(admin_client, garnet, support_ticket):
    from helpline.accounts.models import Agent

    Agent.objects.filter(user=garnet).update(is_active=False)
    answer = _answer(_check(admin_client, "garnet", support_ticket.number))
    assert answer["visible"] is False
    assert (
        "Garnet Jones's agent profile is deactivated, so they count as a requester."
        in (answer["reasons"])
    )
