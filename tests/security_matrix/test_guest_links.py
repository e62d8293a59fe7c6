"""Channel 5: guest links (/t/<token>/), cell by cell.

A valid link (the requester's, or a collaborator's) opens its own ticket and nothing else: the
page, a reply, the files of public entries — never internal files, never another ticket. Expired,
revoked, tampered and unknown links get one neutral page, byte for byte the same; a link to
another ticket, or a link revoked or expired after it was used, opens nothing of this ticket:
the same answer as for a ticket number that does not exist. Nothing refused changes anything.
"""

import secrets
from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from helpline.tickets import guest
from helpline.tickets.models import EntryKind, GuestAccess
from tests.security_matrix.conftest import (
    World,
    assert_reveals_nothing,
    assert_sign_in,
    normalised,
    note_of,
    reply_of,
    situation_id,
    snapshot,
    subject_of,
    text_of,
)

pytestmark = pytest.mark.django_db

# Kind of link → (the world's token it starts from, whom it lets act, what is done after use).
LINKS = {
    "valid": ("valid", "karen", None),
    "collaborator": ("collaborator", "greg", None),
    "expired": ("expired", None, None),
    "revoked": ("revoked", None, None),
    "tampered": ("valid", None, "tamper"),
    "unknown": (None, None, None),
    "other_ticket": ("other_ticket", None, None),
    "revoked_after_use": ("valid", None, "revoke"),
    "expired_after_use": ("valid", None, "expire"),
}
# Links whose visit leaves a grant in the session (for this ticket, or another one).
LEAVES_A_GRANT = {"valid", "collaborator", "other_ticket", "revoked_after_use", "expired_after_use"}
TARGET = "support"  # karen's ticket; greg collaborates on it
GUEST_BODY = "Guest reply through the link"


def token_for(world: World, kind: str) -> str:
    start, _, after = LINKS[kind]
    if start is None:
        return secrets.token_urlsafe(32)
    token = world.tokens[start]
    if after == "tamper":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    return token


def _spoil_after_use(world: World, kind: str) -> None:
    """Revoke or expire a link the session has already used (checked again on every request)."""
    after = LINKS[kind][2]
    grant = GuestAccess.objects.filter(token_hash=guest._hash(world.tokens["valid"]))
    if after == "revoke":
        grant.update(revoked_at=timezone.now())
    elif after == "expire":
        grant.update(expires_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.parametrize("kind", LINKS)
def test_opening_a_link(world, kind):
    client = world.client("anonymous")
    response = client.get(f"/t/{token_for(world, kind)}/")
    if kind in LEAVES_A_GRANT:
        key = "support_ken" if kind == "other_ticket" else TARGET
        assert response.status_code == 302
        assert response["Location"] == f"/tickets/{world.numbers[key]}/"
        return
    # One neutral page for every link that does not work, whatever the reason.
    assert response.status_code == 404
    assert "This link no longer works" in text_of(response)
    assert_reveals_nothing(response, TARGET)
    unknown = world.client("anonymous").get(f"/t/{secrets.token_urlsafe(32)}/")
    assert normalised(response) == normalised(unknown)
    assert not client.session.get(guest.SESSION_KEY)


def _guest(world: World, kind: str):
    """An anonymous visitor who followed a link of this kind (then it may be spoiled)."""
    client = world.client("anonymous")
    client.get(f"/t/{token_for(world, kind)}/")
    _spoil_after_use(world, kind)
    return client


GUEST_ACTIONS = ("page", "reply", "message_file", "reply_file", "note_file", "another_ticket")
GUEST_CELLS = [(kind, action) for kind in LINKS for action in GUEST_ACTIONS]


def _request(world: World, client, action: str):
    number = world.numbers[TARGET]
    if action == "page":
        return client.get(f"/tickets/{number}/")
    if action == "reply":
        return client.post(f"/tickets/{number}/", {"message": GUEST_BODY})
    return client.get(f"/attachments/{world.attachments[TARGET][action.removesuffix('_file')]}/")


def guest_expectation(kind: str, action: str) -> str:
    actor = LINKS[kind][1]
    if action == "note_file":
        return "404"  # internal files are for agents only
    if action == "another_ticket":
        return "404" if kind in LEAVES_A_GRANT else "login"
    if actor is not None:
        return "allowed"
    if action.endswith("_file"):
        return "404"
    return "404" if kind in LEAVES_A_GRANT else "login"


@pytest.mark.parametrize("cell", GUEST_CELLS, ids=situation_id)
def test_guest_access(world, cell):
    kind, action = cell
    expected = guest_expectation(kind, action)
    client = _guest(world, kind)
    before = snapshot(world)
    if action == "another_ticket":
        # Any ticket but the link's: Ken's (or, for Ken's link, Karen's).
        other = TARGET if kind == "other_ticket" else "support_ken"
        response = client.get(f"/tickets/{world.numbers[other]}/")
        asked, key = world.numbers[other], other
    else:
        response = _request(world, client, action)
        asked, key = world.numbers[TARGET], TARGET

    if expected == "allowed":
        _check_allowed(world, kind, action, response)
        return
    assert snapshot(world) == before, "a refused guest changed something"
    assert_reveals_nothing(response, key)
    if expected == "login":
        assert_sign_in(response, panel=False)
    else:
        assert response.status_code == 404
    # The same answer, in the same session, as for a ticket (or file) that does not exist.
    if action.endswith("_file"):
        asked = str(world.attachments[TARGET][action.removesuffix("_file")])
        ghost = str(world.ghost_attachment())
        other_response = client.get(f"/attachments/{ghost}/")
    else:
        ghost = world.ghost_number(asked)
        other_response = (
            client.post(f"/tickets/{ghost}/", {"message": GUEST_BODY})
            if action == "reply"
            else client.get(f"/tickets/{ghost}/")
        )
    assert normalised(response, asked) == normalised(other_response, ghost)


def _check_allowed(world: World, kind: str, action: str, response) -> None:
    actor = world.user(LINKS[kind][1])
    if action == "page":
        text = text_of(response)
        assert response.status_code == 200
        assert subject_of(TARGET) in text and reply_of(TARGET) in text
        assert note_of(TARGET) not in text
        assert "You are viewing this ticket through a link sent to" in text
    elif action == "reply":
        assert response.status_code == 302
        entry = world.ticket(TARGET).entries.get(body_text=GUEST_BODY)
        assert entry.kind == EntryKind.MESSAGE and entry.author == actor
    else:
        kind_of_file = action.removesuffix("_file")
        assert response.status_code == 200
        assert text_of(response) == f"content of {TARGET}-{kind_of_file}.txt"


def test_a_guest_has_no_ticket_list(world):
    """A link opens one ticket; the list of "my tickets" still asks to sign in."""
    client = _guest(world, "valid")
    assert_sign_in(client.get("/tickets/"), panel=False)


LOOKUPS = [
    ("karen@example.com", "support", True),  # her own ticket: a link is sent
    ("greg@example.com", "support", True),  # a collaborator's address: a link is sent
    ("karen@example.com", "support_ken", False),  # someone else's ticket
    ("ken@example.com", "support", False),
    ("karen@example.com", None, False),  # a number nobody has
    ("mallory@evil.example", "support", False),
]


@pytest.mark.parametrize("lookup", LOOKUPS, ids=lambda x: str(x).replace("@", "_at_"))
def test_status_lookup_answers_alike(world, lookup, mailoutbox):
    """ "Check ticket status" gives one page whatever the details; a link only to a participant."""
    email, key, sends = lookup
    number = world.numbers[key] if key else world.ghost_number(world.numbers["support"])
    links = GuestAccess.objects.filter(email__iexact=email).count()
    before = snapshot(world)
    with TestCase.captureOnCommitCallbacks(execute=True):  # the link leaves through the outbox
        response = world.client("anonymous").post(
            "/status/", {"email": email, "number": number}, follow=True
        )
    unknown = world.ghost_number(number)
    reference = world.client("anonymous").post(
        "/status/", {"email": "nobody@example.org", "number": unknown}, follow=True
    )
    assert response.redirect_chain == reference.redirect_chain == [("/status/sent/", 302)]
    nobody = normalised(reference, "nobody@example.org", unknown)
    assert normalised(response, email, number) == nobody
    assert [m.to for m in mailoutbox] == ([[email]] if sends else [])
    assert GuestAccess.objects.filter(email__iexact=email).count() == links + sends
    if not sends:
        assert snapshot(world) == before
