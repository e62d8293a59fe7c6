"""Channel 4: answers by email, cell by cell, fed to mail intake as raw bytes.

Sender (requester, collaborator, a registered stranger, an unknown address, an agent who works
the ticket, a view-only agent, an agent without access) × threading evidence (the [#number] in
the subject, In-Reply-To naming a stored Message-ID, our signed token in References, a forged
token with the number in the subject, a reply token we signed for exactly this sender) × ticket
(Support, SysAdmins).

The intended rules, written out here and not taken from the code (README "Mail you can trust"):
a number in a subject is easy to guess, so it threads only for the requester, collaborators and
agents with a role on the ticket; anyone else (a forged token is no evidence) gets a ticket of
their own, and the target is untouched. Only a reply token signed for the sender verifies them;
a Message-ID or a token issued to someone else only threads. Requester and collaborators add a
message (marked unverified unless verified); a verified agent's mail is a reply if their role
allows replies; everything else that threads — unverified agents, agents whose role refuses,
strangers, agents without a role — waits in the review list and the ticket is untouched.
"""

import pytest

from helpline.accounts.models import User
from helpline.mail.ingest import ingest
from helpline.mail.models import HeldMail, Outcome
from helpline.mail.threading import make_message_id
from helpline.tickets.models import EntryKind
from tests.security_matrix.conftest import (
    PERSONAS,
    SPECS,
    World,
    relation,
    situation_id,
    snapshot,
    subject_of,
)

pytestmark = pytest.mark.django_db

EMAIL_TICKETS = ("support", "sysadmins")
# Who plays each kind of sender on each ticket (usernames; an address for the unknown sender).
SENDERS = {
    "requester": {"support": "karen", "sysadmins": "ken"},
    "collaborator": {"support": "greg", "sysadmins": "carl"},
    "stranger": {"support": "ken", "sysadmins": "karen"},
    "unknown_address": {"support": "mallory", "sysadmins": "mallory"},
    "agent_working": {"support": "john", "sysadmins": "jane"},
    "agent_view_only": {"support": "victor"},
    "agent_outsider": {"support": "jane", "sysadmins": "john"},
}
MODES = ("subject", "in_reply_to", "token", "forged_token", "own_token")
EMAIL_CELLS = [
    (kind, key, mode)
    for kind, by_ticket in SENDERS.items()
    for key in EMAIL_TICKETS
    if key in by_ticket
    for mode in MODES
]
ADDRESSES = {
    "karen": "karen@example.com",
    "ken": "ken@example.com",
    "greg": "greg@example.com",
    "carl": "carl@example.com",
    "mallory": "mallory@evil.example",
    "john": "john@helpline.example",
    "jane": "jane@helpline.example",
    "victor": "victor@helpline.example",
}
THREADED_BY = {
    "subject": "subject",
    "forged_token": "subject",
    "in_reply_to": "header",
    "own_token": "token",
}


def email_expectation(sender: str, key: str, mode: str) -> str:
    """From the threading rules, written out: what the message must become."""
    spec = SPECS[key]
    participant = sender in (spec.requester, *spec.collaborators)
    is_agent = sender in PERSONAS and PERSONAS[sender].is_agent
    works_on = is_agent and relation(sender, key).works and not participant
    found = mode in ("in_reply_to", "token", "own_token") or participant or works_on
    verified = mode == "own_token"
    if not found:
        return "new_ticket"
    if participant:
        return "message"
    if works_on and verified and relation(sender, key).allows("reply"):
        return "reply"
    return "held"


def _forged(token: str) -> str:
    head, _, domain = token.strip("<>").partition("@")
    parts = head.split(".")
    parts[3] = "0" * 16 if parts[3] != "0" * 16 else "f" * 16
    return f"<{'.'.join(parts)}@{domain}>"


def raw_mail(world: World, sender: str, key: str, mode: str, body: str) -> bytes:
    number = world.numbers[key]
    ticket = world.ticket(key)
    subject = f"Re: [#{number}] update" if mode in ("subject", "forged_token") else "Re: update"
    head = [
        f"From: {ADDRESSES[sender]}",
        "To: support@helpline.example",
        f"Subject: {subject}",
        f"Message-ID: <{sender}.{key}.{mode}@sender.example>",
    ]
    if mode == "in_reply_to":
        head.append(f"In-Reply-To: {world.message_ids[key]}")
    if mode == "token":
        head.append(f"References: {make_message_id(ticket)}")
    if mode == "forged_token":
        head.append(f"References: {_forged(make_message_id(ticket))}")
    if mode == "own_token":
        head.append(f"In-Reply-To: {make_message_id(ticket, ADDRESSES[sender])}")
    head.append("Content-Type: text/plain; charset=utf-8")
    return ("\r\n".join(head) + "\r\n\r\n" + body + "\r\n").encode()


def _world_rows(world: World) -> dict:
    """The snapshot without the user list and the ticket count: a new ticket (and a new
    requester) elsewhere is allowed; the world's tickets must stay as they were."""
    taken = snapshot(world)
    return {k: v for k, v in taken.items() if k not in ("users", "all tickets")}


@pytest.mark.parametrize("cell", EMAIL_CELLS, ids=situation_id)
def test_answer_by_email(world, cell):
    kind, key, mode = cell
    sender = SENDERS[kind][key]
    expected = email_expectation(sender, key, mode)
    body = f"Mail from {sender} about {key} by {mode}."
    before = _world_rows(world)
    result = ingest(raw_mail(world, sender, key, mode, body))
    target = world.ticket(key)
    author = User.objects.filter(email=ADDRESSES[sender]).first()

    if expected == "new_ticket":
        assert result.outcome == Outcome.NEW_TICKET, result.reason
        assert result.ticket.pk not in world.pks.values()
        assert result.ticket.requester == author
        assert subject_of(key) not in result.ticket.subject
        assert _world_rows(world) == before, "a stranger's mail changed the ticket"
        return
    if expected == "held":
        assert result.outcome == Outcome.HELD, (result.outcome, result.reason)
        held = HeldMail.objects.get()
        assert held.ticket == target and held.sender == ADDRESSES[sender]
        assert _world_rows(world) == before, "a held mail changed the ticket"
        return
    assert result.ticket == target, (result.outcome, result.reason)
    entry = result.entry
    assert entry.ticket_id == target.pk and entry.author == author and entry.body_text == body
    assert entry.verification == ("reply_address" if mode == "own_token" else "unverified")
    if expected == "reply":
        assert result.outcome == Outcome.REPLY and entry.kind == EntryKind.REPLY
        return
    assert result.outcome == Outcome.MESSAGE and entry.kind == EntryKind.MESSAGE
    assert entry.threaded_by == THREADED_BY.get(mode, mode)
    joined = target.collaborators.filter(user=author).exists()
    assert joined == (sender in SPECS[key].collaborators)
