"""Registration and password reset answer the same for every address: whether an address has an
account is told only to that address, by mail."""

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.cache import cache
from django.test import Client

from helpline.accounts.models import User
from helpline.accounts.people import get_or_create_requester

PASSWORD = "a-long-Passphrase-7"
UNKNOWN = "nina@example.org"
WRONG = "Please enter a correct username/email and password."
_CSRF = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+"')


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Registrations are rate-limited per address and network in the cache: start with none."""
    cache.clear()
    yield
    cache.clear()


def masked(response, email: str) -> tuple:
    """What a visitor sees of an answer: CSRF tokens masked, and the address they typed (a form
    shown again with an error repeats it)."""
    content = _CSRF.sub(r'\1…"', response.content.decode()).replace(email, "ADDRESS")
    return (response.status_code, response.get("Location"), content, sorted(response.cookies))


def answers(email: str, path: str, data: dict) -> list[tuple]:
    """The answer to the form, and the page it leads to, from a fresh browser."""
    browser = Client()
    browser.get(path)
    first = browser.post(path, {**data, "email": email})
    seen = [masked(first, email)]
    if first.status_code == 302:
        seen.append(masked(browser.get(first["Location"]), email))
    return seen


def registration(**overrides) -> dict:
    return {"name": "Nina New", "password1": PASSWORD, "password2": PASSWORD, **overrides}


@pytest.fixture
def guest(demo):
    """An address known from a ticket opened without an account (no password yet)."""
    return get_or_create_requester("jane.doe@example.org", "Jane Doe")[0]


@pytest.mark.parametrize(
    "form",
    [
        registration(),
        registration(password1="short1!", password2="short1!"),  # an error shows the form again
        registration(password2="different-Passphrase-7"),
    ],
    ids=["valid", "weak password", "passwords differ"],
)
def test_registration_answers_the_same_for_known_and_unknown_addresses(
    demo, guest, karen, john, form
):
    unknown = answers(UNKNOWN, "/register/", form)
    assert ("Check your email" in unknown[-1][2]) == (form == registration())
    for known in ["karen@example.com", "KAREN@example.com", guest.email, "john@helpline.example"]:
        assert answers(known, "/register/", form) == unknown, known


def test_password_reset_answers_the_same_for_known_and_unknown_addresses(demo, guest, karen):
    unknown = answers(UNKNOWN, "/password-reset/", {})
    for known in ["karen@example.com", guest.email]:
        assert answers(known, "/password-reset/", {}) == unknown, known


def test_the_owner_of_a_known_address_is_told_by_mail(
    client, karen, password, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/register/", {**registration(name="Impostor"), "email": "Karen@Example.com"})
    (message,) = mail.outbox
    assert message.to == ["karen@example.com"]
    assert message.subject == "Someone tried to register with your address"
    assert "tried to register" in message.body
    assert "/login/" in message.body and "/password-reset/" in message.body
    # Nothing about the account changed.
    karen.refresh_from_db()
    assert karen.check_password(password) and karen.name == "Karen Miller"
    assert not karen.check_password(PASSWORD)


def test_a_guest_address_is_told_how_to_choose_a_password(
    client, guest, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/register/", {**registration(), "email": guest.email})
    (message,) = mail.outbox
    assert message.to == [guest.email] and "/password-reset/" in message.body
    guest.refresh_from_db()
    assert not guest.has_usable_password()


def finishing_link(message) -> tuple[str, dict]:
    link = re.search(r"https?://[^/\s]+(/register/\?\S+)", message.body).group(1)
    return link, dict(parse_qsl(urlsplit(link).query))


def test_a_new_account_works_only_after_the_link_is_followed(
    client, demo, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/register/", {**registration(), "email": UNKNOWN})
    (message,) = mail.outbox
    assert message.to == [UNKNOWN] and message.subject == "Finish creating your account"

    # Whoever typed the address cannot sign in with the password before the owner confirms.
    response = client.post("/login/", {"username": UNKNOWN, "password": PASSWORD})
    assert WRONG in response.content.decode()

    link, fields = finishing_link(message)
    # Opening the link (as a mail scanner does) changes nothing; the button does.
    assert client.get(link).status_code == 200
    assert client.get(link).status_code == 200
    response = client.post("/register/", fields)
    assert response.status_code == 302 and response["Location"] == "/tickets/"
    nina = User.objects.get(email=UNKNOWN)
    assert client.session["_auth_user_id"] == str(nina.pk)

    # The link works once.
    again = Client().post("/register/", fields)
    assert again.status_code == 404 and "This link no longer works" in again.content.decode()
    client.post("/logout/")
    assert client.post("/login/", {"username": UNKNOWN, "password": PASSWORD}).status_code == 302


@pytest.mark.parametrize(
    "fields",
    [
        {"account": "MQ", "token": "nope"},
        {"account": "!!", "token": "x"},
        {"account": "", "token": ""},
        {"account": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "token": "x"},
    ],
)
def test_a_forged_link_opens_nothing(client, demo, fields):
    assert client.get("/register/", fields).status_code == 404
    assert client.post("/register/", fields).status_code == 404
    assert "_auth_user_id" not in client.session


def test_a_reset_link_cannot_finish_a_registration(
    client, demo, django_capture_on_commit_callbacks
):
    """The two kinds of link are not interchangeable."""
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/register/", {**registration(), "email": UNKNOWN})
    nina = User.objects.get(email=UNKNOWN)
    _, fields = finishing_link(mail.outbox[-1])
    fields["token"] = default_token_generator.make_token(nina)
    assert client.post("/register/", fields).status_code == 404
