"""The spoofing matrix: forged and genuine inbound mail, through the channels people really use.

Every cell is (ticket state, how the mail threads, how its sender is verified, who sends it).
What each cell must do comes from the hand-written tables below (README "Mail you can trust",
written out by hand from the trust model's rules); nothing here asks `helpline.mail.trust.decide`,
so a wrong cell in the product shows up as a failing cell here.

Channels. `mail pipe` (an MTA piping into `helpline mail pipe --mailbox …`) runs the WHOLE
matrix: a management command over an in-memory message, some 60 ms a cell. IMAP (a real
Dovecot: append, then `fetch_all()` logs in, reads, marks) and the osTicket-compatible
`POST /api/tickets.email` end in the same `ingest()` and differ from the pipe only in how the
message arrives and in what they trust: the API has no mailbox, so no trusted
Authentication-Results host, and DMARC never verifies there. They run `SLICE`: one cell per
outcome class, which between them use every threading kind, verification kind and sender kind.
All 288 cells over all three channels would more than double the runtime (an IMAP cell costs
twice a pipe cell) and test the same decision code again, not a different channel.

Each cell asserts what the channel answered, the ReceivedMail outcome, the entries on the target
ticket (count, kind, author, verification, text), who can now see it (`access.can_view` for the
sender and for the two addresses in Cc), the collaborators, the notifications written for the
mail and the mail actually sent, the review list (HeldMail) and, for held or diverted mail, that
the target ticket's version and updated_at did not move.

The world (demo organisation, a view-only Support agent "victor", collaborator carl, a mailbox,
Karen's ticket, API keys) is built once for the module inside an outer transaction; every cell
runs in a savepoint that is rolled back (the pattern of tests/security_matrix/conftest.py).
"""

import io
import itertools
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

import pytest
from django.core import mail as outbox
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from helpline.accounts.demo import load_demo
from helpline.accounts.models import Agent, Department, Role, User
from helpline.accounts.people import get_or_create_requester
from helpline.api.models import ApiKey, Scope
from helpline.mail import review
from helpline.mail.fetch import fetch_all
from helpline.mail.models import HeldMail, Mailbox, ReceivedMail, Review, Security
from helpline.mail.threading import make_message_id, reply_address
from helpline.tickets import access, actions
from helpline.tickets.models import (
    Collaborator,
    EntryKind,
    HelpTopic,
    Notification,
    Source,
    State,
    Status,
    Ticket,
)

pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------------------------------------
# The rules, by hand

THREADINGS = ("header", "token", "subject", "none")
VERIFICATIONS = (
    "reply_token",
    "reply_address",
    "dmarc",
    "forged_ar",
    "none",
    "someone_elses_token",
)
SENDERS = (
    "requester",
    "collaborator",
    "agent",  # john: Expanded Access in Support, answers
    "agent_note",  # john again, the body starts with #note
    "agent_view_only",  # victor: "View only" in Support
    "agent_no_role",  # jane: Online Banking and SysAdmins, nothing in Support
    "stranger",  # ken: a registered requester, no part in Karen's ticket
    "unknown",  # mallory@evil.example: no account
)
STATES = ("open", "resolved")

ADDRESS = {
    "requester": "karen@example.com",
    "collaborator": "carl@example.com",
    "agent": "john@helpline.example",
    "agent_note": "john@helpline.example",
    "agent_view_only": "victor@helpline.example",
    "agent_no_role": "jane@helpline.example",
    "stranger": "ken@example.com",
    "unknown": "mallory@evil.example",
}
# Whose reply token a `someone_elses_token` mail carries: the requester's, or (for the requester
# herself) the collaborator's.
SOMEONE_ELSE = {sender: "karen@example.com" for sender in SENDERS} | {
    "requester": "carl@example.com"
}

# Which channels verify the sender, per verification kind. Reply tokens (in the Message-ID we
# sent, or in the reply address) are ours and verify everywhere; a DMARC pass counts only in an
# Authentication-Results header of a host the mailbox trusts, and the API has no mailbox.
VERIFIES = {
    "reply_token": {"pipe", "imap", "api"},
    "reply_address": {"pipe", "imap", "api"},
    "dmarc": {"pipe", "imap"},
    "forged_ar": set(),
    "none": set(),
    "someone_elses_token": set(),
}
# The verification badge of an entry from a verified mail.
BADGE = {"reply_token": "reply_address", "reply_address": "reply_address", "dmarc": "dkim"}
# Verifications that carry a token signed for the ticket: the mail threads whoever sends it.
CARRIES_TOKEN = {"reply_token", "reply_address", "someone_elses_token"}
# Threading by header or by our token works for anyone; by subject only for the ticket's
# requester, collaborators and agents with a role on it; with nothing, never.
THREADS_BY = {"header": set(SENDERS), "token": set(SENDERS), "none": set()}
THREADS_BY["subject"] = {"requester", "collaborator", "agent", "agent_note", "agent_view_only"}

MESSAGE, REOPEN, REPLY, NOTE, HELD, NEW = "message", "reopen", "reply", "note", "held", "new"
# What a mail that threads to the ticket does (a mail that does not thread opens a NEW ticket).
TRUST_COLUMNS = (("verified", "open"), ("verified", "resolved"),
                 ("unverified", "open"), ("unverified", "resolved"))  # fmt: skip
TRUST = {
    #                   verified            unverified
    #                   open      resolved  open      resolved
    "requester":       (MESSAGE,  REOPEN,   MESSAGE,  HELD),
    "collaborator":    (MESSAGE,  REOPEN,   MESSAGE,  HELD),
    "agent":           (REPLY,    REPLY,    HELD,     HELD),
    "agent_note":      (NOTE,     NOTE,     HELD,     HELD),
    "agent_view_only": (HELD,     HELD,     HELD,     HELD),
    "agent_no_role":   (HELD,     HELD,     HELD,     HELD),
    "stranger":        (HELD,     HELD,     HELD,     HELD),
    "unknown":         (HELD,     HELD,     HELD,     HELD),
}  # fmt: skip
# ReceivedMail.outcome of each act.
RECEIVED = {MESSAGE: "message", REOPEN: "message", REPLY: "reply", NOTE: "note", HELD: "held",
            NEW: "new_ticket"}  # fmt: skip
# HeldMail.sender_kind and .intent of a held mail from each sender.
HELD_AS = {
    "requester": ("requester", ""),
    "collaborator": ("collaborator", ""),
    "agent": ("agent", "reply"),
    "agent_note": ("agent", "note"),
    "agent_view_only": ("agent", "reply"),
    "agent_no_role": ("outside_agent", ""),
    "stranger": ("stranger", ""),
    "unknown": ("stranger", ""),
}
# Who sees Karen's ticket before any mail: requester, collaborator, agents with a role on it.
SEES_TARGET = {"requester", "collaborator", "agent", "agent_note", "agent_view_only"}
# Agents of Support (department of the ticket and of new mail): hear of new tickets and messages.
SUPPORT_AGENTS = {
    "admin@helpline.example",
    "john@helpline.example",
    "garnet@helpline.example",
    "victor@helpline.example",
}
CC = ("greg@example.com", "witness@example.net")  # a registered requester, an unknown address
MAILBOX, MAILBOX_ADDRESS = "Matrix inbox", "support@helpline.example"
TRUSTED_AR, EVIL_AR = "mx.helpline.example", "mx.evil.example"
SUBJECT = "Mobile/online banking system down"
ORIGINAL_ID = "<karen-original-0001@mail.example.com>"


@dataclass(frozen=True)
class Cell:
    state: str
    threading: str
    verification: str
    sender: str

    @property
    def id(self) -> str:
        return f"{self.state}-{self.threading}-{self.verification}-{self.sender}"


@dataclass(frozen=True)
class Expected:
    act: str
    verified: bool
    badge: str  # entry verification
    cc_join: bool  # the Cc'd addresses join (the target, or the new ticket)
    notifications: dict  # on the target: kind → set of addresses

    @property
    def appended(self) -> bool:
        return self.act in (MESSAGE, REOPEN, REPLY, NOTE)


def expect(cell: Cell, channel: str) -> Expected:
    verified = channel in VERIFIES[cell.verification]
    threads = cell.verification in CARRIES_TOKEN or cell.sender in THREADS_BY[cell.threading]
    column = TRUST_COLUMNS.index(("verified" if verified else "unverified", cell.state))
    act = TRUST[cell.sender][column] if threads else NEW
    notifications = {
        MESSAGE: {"new_message_alert": SUPPORT_AGENTS},
        REOPEN: {"new_message_alert": SUPPORT_AGENTS, "reopened": {ADDRESS["requester"]}},
        REPLY: {"reply": {ADDRESS["requester"], ADDRESS["collaborator"]}},
    }.get(act, {})
    return Expected(
        act=act,
        verified=verified,
        badge=BADGE[cell.verification] if verified else "unverified",
        cc_join=verified and act in (MESSAGE, REOPEN, NEW),
        notifications=notifications,
    )


ALL_CELLS = [
    Cell(*values)
    for values in itertools.product(STATES, THREADINGS, VERIFICATIONS, SENDERS)
    # A resolved ticket is reached by the two kinds that differ (any sender threads by header,
    # only participants by subject); token threading behaves as header threading on it.
    if values[0] == "open" or values[1] in ("header", "subject")
]
# One cell per outcome class and per verification kind, for the slower channels.
SLICE = [
    Cell("open", "header", "reply_token", "requester"),  # message, verified, Cc joins
    Cell("open", "subject", "none", "collaborator"),  # message, unverified, Cc stays out
    Cell("open", "token", "dmarc", "collaborator"),  # dkim by mailbox; unverified over the API
    Cell("open", "header", "reply_address", "agent"),  # reply
    Cell("open", "token", "reply_token", "agent_note"),  # note
    Cell("open", "header", "none", "agent"),  # held: unverified agent
    Cell("open", "header", "reply_token", "agent_view_only"),  # held: role refuses reply
    Cell("open", "token", "dmarc", "agent_no_role"),  # held: no role
    Cell("open", "header", "someone_elses_token", "stranger"),  # held: borrowed token
    Cell("open", "token", "forged_ar", "unknown"),  # held: forged A-R, no account made
    Cell("open", "subject", "none", "stranger"),  # new ticket of his own
    Cell("open", "none", "dmarc", "unknown"),  # new ticket; Cc only where DMARC counts
    Cell("resolved", "header", "none", "requester"),  # held: no reopening unverified
    Cell("resolved", "header", "reply_token", "requester"),  # reopens
]


# A product bug, found by the matrix (see test_the_signed_reply_address_never_joins_the_ticket).
def cells(chosen: list[Cell]) -> list:
    return [pytest.param(cell, id=cell.id) for cell in chosen]


def test_the_matrix_covers_every_combination():
    assert len(ALL_CELLS) == 8 * 6 * 4 + 8 * 6 * 2 == 288
    assert set(SLICE) <= set(ALL_CELLS)
    assert {expect(c, "pipe").act for c in ALL_CELLS} == {MESSAGE, REOPEN, REPLY, NOTE, HELD, NEW}
    assert {expect(c, "pipe").act for c in SLICE} == {MESSAGE, REOPEN, REPLY, NOTE, HELD, NEW}
    assert {expect(c, "api").act for c in SLICE} == {MESSAGE, REOPEN, REPLY, NOTE, HELD, NEW}
    assert {c.threading for c in SLICE} == set(THREADINGS)
    assert {c.verification for c in SLICE} == set(VERIFICATIONS)
    assert {c.sender for c in SLICE} == set(SENDERS)


# ---------------------------------------------------------------------------------------------
# The world


@dataclass
class World:
    ticket: int
    mailbox: int
    john_key: str
    karen_key: str


IMMEDIATE_TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def build_world() -> World:
    load_demo()
    support = Department.objects.get(name="Support")
    victor = User.objects.create_user("victor", email=ADDRESS["agent_view_only"], name="Victor")
    Agent.objects.create(user=victor, department=support, role=Role.objects.get(name="View only"))
    carl, _ = get_or_create_requester(ADDRESS["collaborator"], "Carl Colleague")
    mailbox = Mailbox.objects.create(
        name=MAILBOX,
        address=MAILBOX_ADDRESS,
        department=support,
        help_topic=HelpTopic.objects.get(name="General Inquiry"),
        subaddress_separator="+",
        trusted_authserv_ids=TRUSTED_AR,
    )
    karen = User.objects.get(username="karen")
    ticket = actions.open_ticket(
        karen,
        requester=karen,
        subject=SUBJECT,
        body="Nothing loads since this morning.",
        help_topic=HelpTopic.objects.get(name="General Inquiry"),
        collaborators=[carl],
        source=Source.EMAIL,
        message_id=ORIGINAL_ID,
    )
    john = User.objects.get(username="john")
    _, john_key = ApiKey.issue(john, name="osTicket client", scopes=[Scope.TICKETS_INTAKE])
    _, karen_key = ApiKey.issue(karen, name="karen's", scopes=[Scope.TICKETS_INTAKE])
    return World(ticket.pk, mailbox.pk, john_key, karen_key)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once in an outer transaction, rolled back when the module is done."""
    overrides = override_settings(
        MEDIA_ROOT=tmp_path_factory.mktemp("spoofing-media"),
        TASKS=IMMEDIATE_TASKS,
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    with django_db_blocker.unblock(), overrides:
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def tmp_path(tmp_path_factory):
    """tests/conftest.py asks for a fresh directory per test; one is enough for ~300 cells."""
    return tmp_path_factory.getbasetemp() / "spoofing"


@pytest.fixture(autouse=True)
def _fresh_cache(world):
    cache.clear()
    yield
    cache.clear()


# ---------------------------------------------------------------------------------------------
# Mail


def user(address: str) -> User | None:
    return User.objects.filter(email__iexact=address).first()


def compose(cell: Cell, ticket: Ticket, body: str) -> bytes:
    sender = ADDRESS[cell.sender]
    msg = EmailMessage()
    msg["From"] = formataddr((cell.sender.replace("_", " ").title(), sender))
    if cell.verification == "reply_address":
        msg["To"] = reply_address(ticket, sender, MAILBOX_ADDRESS, "+")
    else:
        msg["To"] = f"Helpline <{MAILBOX_ADDRESS}>"
    msg["Cc"] = f"Greg Brown <{CC[0]}>, Wendy Witness <{CC[1]}>"
    tag = f"[#{ticket.number}] " if cell.threading == "subject" else ""
    msg["Subject"] = f"Re: {tag}{SUBJECT}"
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = make_msgid(domain="client.example")
    ids = []
    if cell.threading == "header":
        ids.append(ORIGINAL_ID)
    elif cell.threading == "token":
        ids.append(make_message_id(ticket))  # signed for the ticket only: threads, no proof
    if cell.verification == "reply_token":
        ids.append(make_message_id(ticket, sender))
    elif cell.verification == "someone_elses_token":
        ids.append(make_message_id(ticket, SOMEONE_ELSE[cell.sender]))
    if ids:
        msg["In-Reply-To"] = ids[-1]
        msg["References"] = " ".join(ids)
    domain = sender.rpartition("@")[2]
    if cell.verification == "dmarc":
        msg["Authentication-Results"] = f"{TRUSTED_AR}; dmarc=pass header.from={domain}"
    elif cell.verification == "forged_ar":
        msg["Authentication-Results"] = f"{EVIL_AR}; dmarc=pass header.from={domain}"
    msg.set_content(body)
    return msg.as_bytes()


def body_for(cell: Cell) -> tuple[str, str]:
    """(the body sent, the text the entry must show)."""
    text = f"Cell {cell.id}: the login page still times out."
    return (f"#note\n{text}\n", text) if cell.sender == "agent_note" else (text + "\n", text)


def via_pipe(raw: bytes, world: World, monkeypatch) -> str:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))  # pipe reads .buffer
    out = io.StringIO()
    call_command("mail", "pipe", "--mailbox", MAILBOX, stdout=out)
    return out.getvalue().strip()


def via_imap(raw: bytes, world: World, server) -> dict:
    Mailbox.objects.filter(pk=world.mailbox).update(
        host=server.host,
        port=server.port,
        security=Security.NONE,
        username=server.user,
        password=server.password,
    )
    server.deliver(raw)
    [report] = fetch_all()
    assert not report.error, report.summary()
    return dict(report.outcomes)


def via_api(raw: bytes, world: World, key: str):
    return Client(REMOTE_ADDR="127.0.0.1").post(
        "/api/tickets.email", raw, content_type="message/rfc822", headers={"X-API-Key": key}
    )


# ---------------------------------------------------------------------------------------------
# One cell


def run_cell(cell: Cell, channel: str, world: World, send) -> None:
    john = User.objects.get(username="john")
    target = Ticket.objects.get(pk=world.ticket)
    if cell.state == "resolved":
        actions.set_status(john, target, Status.objects.get(name="Resolved"))
    target.refresh_from_db()
    assert target.state == (State.RESOLVED if cell.state == "resolved" else State.OPEN)
    before = {
        "version": target.version,
        "updated_at": target.updated_at,
        "state": target.state,
        "entries": target.entries.count(),
        "tickets": set(Ticket.objects.values_list("pk", flat=True)),
        "notification": Notification.objects.order_by("-pk").values_list("pk", flat=True).first(),
        "held": set(HeldMail.objects.values_list("pk", flat=True)),
        "received": set(ReceivedMail.objects.values_list("pk", flat=True)),
    }
    exp = expect(cell, channel)
    sent_body, shown = body_for(cell)
    raw = compose(cell, target, sent_body)
    outbox.outbox.clear()

    answer = send(raw)

    # What the channel answered and what it recorded.
    [received] = ReceivedMail.objects.exclude(pk__in=before["received"])
    assert received.outcome == RECEIVED[exp.act], (received.outcome, received.reason)
    new_tickets = list(Ticket.objects.exclude(pk__in=before["tickets"]))
    assert len(new_tickets) == (1 if exp.act == NEW else 0)
    expected_ticket = new_tickets[0] if new_tickets else target
    assert received.ticket_id == expected_ticket.pk
    if channel == "pipe":
        assert answer.startswith(f"{RECEIVED[exp.act]} #{expected_ticket.number}"), answer
    elif channel == "imap":
        assert answer == {RECEIVED[exp.act]: 1}
    else:
        assert answer.status_code == (202 if exp.act == HELD else 201), answer.content
        if exp.act != HELD:
            assert answer.content.decode() == expected_ticket.number

    # The target ticket's thread and state.
    target.refresh_from_db()
    entries = list(target.entries.order_by("id"))
    assert len(entries) == before["entries"] + (1 if exp.appended else 0)
    if exp.appended:
        entry = entries[-1]
        author = "karen" if cell.sender == "requester" else user(ADDRESS[cell.sender]).username
        kind = {REPLY: EntryKind.REPLY, NOTE: EntryKind.NOTE}.get(exp.act, EntryKind.MESSAGE)
        assert (entry.kind, entry.author.username) == (kind, author)
        assert entry.verification == exp.badge
        assert entry.source == Source.EMAIL
        assert entry.body_text.strip() == shown
        assert received.entry_id == entry.pk
    if exp.act == REOPEN:
        assert (target.state, target.reopened_count) == (State.OPEN, 1)
    elif exp.act == MESSAGE:
        assert target.state == State.OPEN
    else:  # held, diverted, or an agent's answer: the state stays as it was
        assert target.state == before["state"]
        assert target.reopened_count == 0
    if exp.act in (HELD, NEW):
        assert (target.version, target.updated_at) == (before["version"], before["updated_at"])

    # Who can see the ticket now (the exact collaborator list is checked last, below).
    cc_on_target = exp.cc_join and exp.act != NEW
    sender = user(ADDRESS[cell.sender])
    if cell.sender == "unknown":
        assert (sender is not None) == (exp.act == NEW)  # an account only for a ticket of his own
    assert access.can_view(sender, target) == (cell.sender in SEES_TARGET)
    # The unknown address in Cc gets an account only by joining.
    assert (user(CC[1]) is not None) == exp.cc_join
    for address in CC:
        assert access.can_view(user(address), target) == cc_on_target, address

    # Notifications written for this mail, and the mail that went out.
    rows = Notification.objects.filter(pk__gt=before["notification"] or 0)
    on_target: dict = {}
    for kind, email in rows.filter(ticket=target).values_list("kind", "email"):
        on_target.setdefault(kind, set()).add(email)
    assert on_target == exp.notifications
    expected_rows = sum(len(v) for v in exp.notifications.values())
    if exp.act == NEW:
        [new] = new_tickets
        address = ADDRESS[cell.sender]
        assert new.requester.email == address
        assert new.department.name == "Support"
        [opening] = new.entries.all()
        assert (opening.kind, opening.verification) == (EntryKind.MESSAGE, exp.badge)
        assert opening.body_text.strip() == sent_body.strip()  # #note means nothing here
        joined = Collaborator.objects.filter(ticket=new).values_list("user__email", flat=True)
        assert set(joined) == (set(CC) if exp.cc_join else set())
        assert access.can_view(new.requester, new)
        on_new: dict = {}
        for kind, email in rows.filter(ticket=new).values_list("kind", "email"):
            on_new.setdefault(kind, set()).add(email)
        assert on_new == {
            "new_ticket_ack": {address},
            "new_ticket_alert": SUPPORT_AGENTS - {address},
        }
        expected_rows += 1 + len(SUPPORT_AGENTS - {address})
    assert rows.count() == expected_rows
    sent = sorted(address for message in outbox.outbox for address in message.to)
    assert sent == sorted(rows.values_list("email", flat=True))

    # The review list.
    held = list(HeldMail.objects.exclude(pk__in=before["held"]))
    if exp.act == HELD:
        [row] = held
        assert (row.sender, row.ticket_id) == (ADDRESS[cell.sender], target.pk)
        assert row.reason.strip()
        assert (row.sender_kind, row.intent) == HELD_AS[cell.sender]
        assert row.review == Review.PENDING
    else:
        assert held == []

    collaborators = set(
        Collaborator.objects.filter(ticket=target).values_list("user__email", flat=True)
    )
    assert collaborators == {ADDRESS["collaborator"], *(CC if cc_on_target else ())}


# ---------------------------------------------------------------------------------------------
# The channels


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a channel and then what it left for after commit (sending the notifications)."""

    def run(call):
        def send(raw):
            with django_capture_on_commit_callbacks(execute=True):
                return call(raw)

        return send

    return run


@pytest.mark.parametrize("cell", cells(ALL_CELLS))
def test_mail_pipe(cell, world, monkeypatch, committed):
    run_cell(cell, "pipe", world, committed(lambda raw: via_pipe(raw, world, monkeypatch)))


@pytest.mark.parametrize("cell", cells(SLICE))
def test_imap(cell, world, imap_server, committed):
    run_cell(cell, "imap", world, committed(lambda raw: via_imap(raw, world, imap_server)))
    [(flags, _)] = imap_server.messages()
    assert b"\\Seen" in flags  # taken in, held or not: marked only after it was stored


@pytest.mark.parametrize("cell", cells(SLICE))
def test_osticket_email_api(cell, world, committed):
    run_cell(cell, "api", world, committed(lambda raw: via_api(raw, world, world.john_key)))


@pytest.mark.parametrize("cell", SLICE[:3] + SLICE[-3:], ids=lambda c: c.id)
def test_osticket_email_api_refuses_a_requesters_key(cell, world):
    target = Ticket.objects.get(pk=world.ticket)
    version, entries = target.version, target.entries.count()
    raw = compose(cell, target, body_for(cell)[0])
    response = via_api(raw, world, world.karen_key)
    assert response.status_code == 403
    assert not ReceivedMail.objects.exists() and not HeldMail.objects.exists()
    target.refresh_from_db()
    assert (target.version, target.entries.count()) == (version, entries)


# ---------------------------------------------------------------------------------------------
# The review list


def hold(cell: Cell, world: World, monkeypatch) -> HeldMail:
    target = Ticket.objects.get(pk=world.ticket)
    via_pipe(compose(cell, target, body_for(cell)[0]), world, monkeypatch)
    return HeldMail.objects.get(ticket=target, review=Review.PENDING)


STRANGER_FORGED = Cell("open", "header", "forged_ar", "stranger")


def test_john_accepts_a_held_strangers_mail(world, monkeypatch, john, ken):
    held = hold(STRANGER_FORGED, world, monkeypatch)
    target = held.ticket
    assert not access.can_view(ken, target)
    entry = review.accept(john, held.pk)
    assert (entry.kind, entry.author, entry.verification) == (EntryKind.MESSAGE, ken, "accepted")
    assert entry.ticket_id == target.pk
    assert entry.body_text.strip() == body_for(STRANGER_FORGED)[1]
    assert Collaborator.objects.filter(ticket=target, user=ken).exists()
    assert access.can_view(ken, target)
    # Accepting vouches for the sender, not for the people he copied in.
    for address in CC:
        assert not access.can_view(user(address), target)
    held.refresh_from_db()
    assert (held.review, held.decided_by, held.entry) == (Review.ACCEPTED, john, entry)


@pytest.mark.parametrize(
    "reviewer, error",
    [("garnet", access.AccessDenied), ("jane", access.TicketNotFound)],
    ids=["garnet-may-reply-not-edit", "jane-no-role"],
)
def test_who_may_not_accept_a_strangers_mail(world, monkeypatch, reviewer, error, ken):
    held = hold(STRANGER_FORGED, world, monkeypatch)
    target = held.ticket
    version, entries = target.version, target.entries.count()
    with pytest.raises(error):
        review.accept(User.objects.get(username=reviewer), held.pk)
    target.refresh_from_db()
    assert (target.version, target.entries.count()) == (version, entries)
    assert not Collaborator.objects.filter(ticket=target, user=ken).exists()
    assert not access.can_view(ken, target)
    held.refresh_from_db()
    assert (held.review, held.decided_by) == (Review.PENDING, None)


def test_garnet_may_accept_the_requesters_held_mail_and_it_reopens(world, monkeypatch, garnet, org):
    target = Ticket.objects.get(pk=world.ticket)
    actions.set_status(User.objects.get(username="john"), target, org.status("Resolved"))
    cell = Cell("resolved", "header", "none", "requester")
    held = hold(cell, world, monkeypatch)
    entry = review.accept(garnet, held.pk)
    assert (entry.kind, entry.author.username, entry.verification) == (
        EntryKind.MESSAGE,
        "karen",
        "accepted",
    )
    target.refresh_from_db()
    assert (target.state, target.reopened_count) == (State.OPEN, 1)


def test_reject_marks_it_rejected_and_changes_nothing(world, monkeypatch, john):
    held = hold(STRANGER_FORGED, world, monkeypatch)
    target = held.ticket
    version, entries = target.version, target.entries.count()
    review.reject(john, held.pk)
    held.refresh_from_db()
    assert (held.review, held.decided_by, held.entry) == (Review.REJECTED, john, None)
    target.refresh_from_db()
    assert (target.version, target.entries.count()) == (version, entries)
    assert not access.can_view(user(ADDRESS["stranger"]), target)
    with pytest.raises(ValidationError):
        review.accept(john, held.pk)


def test_the_signed_reply_address_never_joins_the_ticket(world, monkeypatch, john):
    """Karen answers John's reply as her mail client does: To: the Reply-To it carried."""
    target = Ticket.objects.get(pk=world.ticket)
    address = reply_address(target, ADDRESS["requester"], MAILBOX_ADDRESS, "+")
    cell = Cell("open", "header", "reply_address", "requester")
    raw = compose(cell, target, "Still down, see the screenshot.\n")
    assert address.encode() in raw
    assert via_pipe(raw, world, monkeypatch).startswith("message")
    assert target.entries.order_by("-id").first().verification == "reply_address"
    assert set(CC) <= set(target.collaborators.values_list("user__email", flat=True))
    actions.reply(john, target, "We are on it.")
    # Our own mailbox must be neither a user nor a collaborator, nor be sent the ticket's mail.
    assert user(address) is None
    assert not Notification.objects.filter(email__iexact=address).exists()
