"""Portal accounts: sign in and out, register, and claiming guest tickets by password reset."""

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from helpline.accounts.people import get_or_create_requester
from helpline.tickets.models import Notification

WRONG = "Please enter a correct username/email and password."


def test_sign_in_with_email_goes_to_my_tickets(client, karen, password):
    response = client.post("/login/", {"username": "karen@example.com", "password": password})
    assert response.status_code == 302 and response["Location"] == "/tickets/"


def test_sign_in_honours_next(client, karen, password):
    response = client.post(
        "/login/?next=/tickets/123/",
        {"username": "karen", "password": password, "next": "/tickets/123/"},
    )
    assert response["Location"] == "/tickets/123/"


def test_wrong_password_gives_a_plain_message(client, karen):
    response = client.post("/login/", {"username": "karen", "password": "nope"})
    assert response.status_code == 200
    assert WRONG in response.content.decode()


def test_repeated_wrong_passwords_lock_out(client, karen, password, settings):
    responses = [
        client.post("/login/", {"username": "karen", "password": f"wrong{n}"}) for n in range(6)
    ]
    assert WRONG in responses[0].content.decode()
    assert "Too many failed sign-in attempts" in responses[-1].content.decode()
    # Even the right password is refused while locked out.
    locked = client.post("/login/", {"username": "karen", "password": password})
    assert "Too many failed sign-in attempts" in locked.content.decode()


def test_sign_out_is_a_post(client, karen):
    client.force_login(karen)
    page = client.get("/tickets/").content.decode()
    assert re.search(r'<form method="post" action="/logout/">', page)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/", follow=True)
    assert "You are signed out." in response.content.decode()
    assert client.get("/tickets/").status_code == 302


def finishing_link(message) -> str:
    """The path of the link in a "finish creating your account" mail."""
    return re.search(r"https?://[^/\s]+(/register/\?\S+)", message.body).group(1)


def test_register_creates_an_account_after_confirming_the_address(
    client, demo, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/register/",
            {
                "name": "Nina New",
                "email": "nina@example.org",
                "password1": "a-long-Passphrase-7",
                "password2": "a-long-Passphrase-7",
            },
            follow=True,
        )
    assert "Check your email" in response.content.decode()
    assert "_auth_user_id" not in client.session
    user = get_user_model().objects.get(email="nina@example.org")
    # Not usable before the address is confirmed: the password is held back.
    assert user.name == "Nina New" and not user.check_password("a-long-Passphrase-7")
    (message,) = mail.outbox
    assert message.to == ["nina@example.org"]
    link = finishing_link(message)
    confirm_page = client.get(link)
    assert "Finish creating your account" in confirm_page.content.decode()
    # The page's button posts the link's account and token back to /register/.
    response = client.post("/register/", dict(parse_qsl(urlsplit(link).query)), follow=True)
    user.refresh_from_db()
    assert user.check_password("a-long-Passphrase-7")
    assert response.redirect_chain[-1][0] == "/tickets/"
    assert response.context["user"] == user


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"password2": "different-Passphrase-7"}, "The two passwords differ."),
        ({"password1": "123", "password2": "123"}, "This password is too short."),
        ({"password1": "password", "password2": "password"}, "too common"),
        ({"name": ""}, "Enter your name."),
        ({"email": "nope"}, "Enter a valid email address."),
    ],
)
def test_register_refuses_bad_input(client, karen, data, message):
    form = {
        "name": "Nina New",
        "email": "nina@example.org",
        "password1": "a-long-Passphrase-7",
        "password2": "a-long-Passphrase-7",
        **data,
    }
    users = get_user_model().objects.count()
    response = client.post("/register/", form)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert get_user_model().objects.count() == users
    assert "_auth_user_id" not in client.session


def test_guest_address_is_claimed_through_the_reset_email_not_directly(
    client, demo, django_capture_on_commit_callbacks
):
    guest, _ = get_or_create_requester("jane.doe@example.org", "Jane Doe")
    page = client.get("/register/").content.decode()
    assert "set a password through the email we send you" in page

    mail.outbox.clear()
    answer = client.post(
        "/register/",
        {
            "name": "Impostor",
            "email": "jane.doe@example.org",
            "password1": "a-long-Passphrase-7",
            "password2": "a-long-Passphrase-7",
        },
        follow=True,
    )
    guest.refresh_from_db()
    assert not guest.has_usable_password()
    assert "Check your email" in answer.content.decode()

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):  # the mail leaves through the outbox
        client.post("/password-reset/", {"email": "jane.doe@example.org"})
    (message,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/password-reset/\S+/)", message.body).group(1)
    form_page = client.get(link, follow=True)
    assert "Choose a password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "Claimed-passphrase-9", "new_password2": "Claimed-passphrase-9"},
        follow=True,
    )
    assert "Your password is saved" in done.content.decode()
    guest.refresh_from_db()
    assert guest.check_password("Claimed-passphrase-9")


def test_password_reset_skips_agents_without_a_password(client, john):
    john.set_unusable_password()
    john.save()
    mail.outbox.clear()
    client.post("/password-reset/", {"email": "john@helpline.example"})
    assert mail.outbox == []
    assert not Notification.objects.filter(email="john@helpline.example").exists()


def test_home_offers_the_three_ways_in(client, demo):
    body = client.get("/").content.decode()
    for text in ("Open a new ticket", "Check ticket status", "Sign in", "Register"):
        assert text in body
