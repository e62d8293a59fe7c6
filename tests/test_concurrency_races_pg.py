"""More races on PostgreSQL: sweeps against people, assignments, transfers, two mail fetchers.

Same method as tests/test_concurrency_pg.py (whose helpers this reuses): the test holds the
ticket's row lock, queues the competing writers behind it in a chosen order, then lets go, so
"at the same moment" is repeatable and both orders are checked. Each test states the invariant
that must hold whichever writer wins.
"""

import threading
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from django.utils import timezone

from helpline.accounts.models import Department, Team
from helpline.mail.ingest import ingest
from helpline.mail.models import AfterFetch
from helpline.tickets import access, actions, sweeps
from helpline.tickets.models import (
    EntryKind,
    EventKind,
    NotificationKind,
    Priority,
    State,
    Status,
    Ticket,
)
from tests.databases import postgres_only
from tests.mail.conftest import dovecot, imap_server  # noqa: F401 - fixtures for the fetchers
from tests.test_concurrency_pg import (
    Writers,
    as_user,
    loaded,
    queued_behind_row_lock,
    reply_as,
)

pytestmark = [
    *postgres_only(),
    pytest.mark.django_db(transaction=True),
]

REPLY = "Restarted the VPN concentrator."


@pytest.fixture
def ticket(demo) -> Ticket:
    """Karen's open ticket in Support, assigned to Garnet (so alerts have someone to go to)."""
    karen = as_user("karen")
    ticket = actions.open_ticket(
        karen, requester=karen, subject="VPN down", body="Since 9.", autorespond=False, alert=False
    )
    return actions.assign(as_user("john"), ticket, agent=as_user("garnet"))


def past_due(ticket: Ticket) -> Ticket:
    return actions.set_due_time(
        as_user("admin"), ticket, timezone.now() - timedelta(hours=1), reason="Test: overdue"
    )


def sweep_overdue():
    return sweeps.mark_overdue_tickets()


def events(ticket: Ticket, kind: str) -> list:
    return list(ticket.events.filter(kind=kind).order_by("created_at", "id"))


def notifications(ticket: Ticket, kind: str) -> list[str]:
    return sorted(ticket.notifications.filter(kind=kind).values_list("email", flat=True))


def entries_after_close_without_reopen(ticket: Ticket) -> bool:
    """A closed ticket with a requester message newer than the closing: what must never be."""
    ticket = loaded(ticket)
    return (
        ticket.state == State.CLOSED
        and ticket.entries.filter(kind=EntryKind.MESSAGE, created_at__gt=ticket.closed_at).exists()
    )


# ---------------------------------------------------------------------------------------------
# The overdue sweep against an agent's reply


@pytest.mark.parametrize("order", ["sweep-first", "reply-first"])
def test_overdue_sweep_racing_a_plain_reply_both_recorded(ticket, order):
    """A reply does not meet the resolution due time: the ticket is overdue either way, flagged
    once with its alerts once; the reply keeps its first-response stamp; the sweep neither
    bumps the version (no agent's form goes stale) nor touches the reply's fields."""
    ticket = past_due(ticket)
    version = ticket.version
    work = [sweep_overdue, reply_as("john", REPLY, ticket)]
    outcomes = queued_behind_row_lock(ticket, work if order == "sweep-first" else work[::-1])
    swept, reply = outcomes if order == "sweep-first" else outcomes[::-1]
    assert swept == 1 and reply.kind == EntryKind.REPLY, outcomes

    ticket = loaded(ticket)
    assert ticket.is_overdue and ticket.state == State.OPEN
    assert ticket.first_responded_at == reply.created_at
    assert ticket.updated_at == reply.created_at
    assert ticket.version == version + 1
    assert len(events(ticket, EventKind.OVERDUE)) == 1
    assert len(events(ticket, EventKind.REPLIED)) == 1
    assert notifications(ticket, NotificationKind.OVERDUE_ALERT) == [
        "garnet@helpline.example",
        "john@helpline.example",
    ]
    assert notifications(ticket, NotificationKind.REPLY) == ["karen@example.com"]


@pytest.mark.parametrize("order", ["sweep-first", "reply-first"])
def test_overdue_sweep_racing_a_resolving_reply_never_leaves_a_resolved_ticket_overdue(
    ticket, order
):
    """Reply first: the sweep, re-checking under the lock, finds the ticket resolved and does
    nothing. Sweep first: flagged overdue, then resolving clears the flag. Never both overdue and
    resolved; resolved_at is the reply's time."""
    ticket = past_due(ticket)
    resolved = Status.objects.get(name="Resolved")
    work = [sweep_overdue, reply_as("john", REPLY, ticket, status=resolved)]
    outcomes = queued_behind_row_lock(ticket, work if order == "sweep-first" else work[::-1])
    swept, reply = outcomes if order == "sweep-first" else outcomes[::-1]
    assert reply.kind == EntryKind.REPLY, outcomes

    ticket = loaded(ticket)
    assert ticket.state == State.RESOLVED and not ticket.is_overdue
    assert ticket.resolved_at == reply.created_at == ticket.first_responded_at
    overdue = events(ticket, EventKind.OVERDUE)
    if order == "sweep-first":
        assert swept == 1 and len(overdue) == 1
        [status_change] = events(ticket, EventKind.STATUS)
        assert overdue[0].created_at <= status_change.created_at
    else:
        assert swept == 0 and overdue == []
        assert notifications(ticket, NotificationKind.OVERDUE_ALERT) == []


def test_two_overdue_sweeps_at_once_flag_once(ticket):
    ticket = past_due(ticket)
    outcomes = queued_behind_row_lock(ticket, [sweep_overdue, sweep_overdue])
    assert sorted(outcomes) == [0, 1]
    ticket = loaded(ticket)
    assert ticket.is_overdue and len(events(ticket, EventKind.OVERDUE)) == 1
    assert len(notifications(ticket, NotificationKind.OVERDUE_ALERT)) == 2


def test_overdue_event_stamped_after_a_reply_committed_before_it(ticket):
    ticket = past_due(ticket)
    reply, swept = queued_behind_row_lock(ticket, [reply_as("john", REPLY, ticket), sweep_overdue])
    assert swept == 1
    [overdue] = events(loaded(ticket), EventKind.OVERDUE)
    assert overdue.created_at >= reply.created_at  # stamps follow the commit order


# ---------------------------------------------------------------------------------------------
# The pending auto-close against the requester's answer


def answer_by(channel: str, ticket: Ticket):
    """Karen answering in the portal, or by email (mail intake, threaded by the subject tag)."""
    text = "Here is the log you asked for."
    if channel == "portal":
        return lambda: actions.add_message(as_user("karen"), loaded(ticket), text)
    msg = EmailMessage()
    msg["From"] = "Karen Miller <karen@example.com>"
    msg["To"] = "support@helpline.example"
    msg["Subject"] = f"Re: [#{ticket.number}] {ticket.subject}"
    msg["Message-ID"] = f"<answer-{ticket.number}@example.com>"
    msg.set_content(text)
    raw = msg.as_bytes(policy=SMTP)

    def by_email():
        result = ingest(raw)
        assert result.outcome == "message", result
        return result.entry

    return by_email


@pytest.mark.parametrize("channel", ["portal", "email"])
@pytest.mark.parametrize("order", ["close-first", "answer-first"])
def test_pending_auto_close_racing_the_requesters_answer(ticket, order, channel):
    """The answer always wins: answer first, the sweep finds the ticket no longer Pending and
    leaves it; close first, the answer reopens it (counted, with the reopen event). Never a
    closed ticket with a newer requester message."""
    actions.set_status(as_user("john"), ticket, Status.objects.get(name="Pending"))

    def close_stale():
        return sweeps.close_stale_pending(now=timezone.now() + timedelta(days=30), days=14)

    work = [close_stale, answer_by(channel, ticket)]
    outcomes = queued_behind_row_lock(ticket, work if order == "close-first" else work[::-1])
    closed, answer = outcomes if order == "close-first" else outcomes[::-1]
    assert not isinstance(answer, BaseException), answer

    ticket = loaded(ticket)
    assert not entries_after_close_without_reopen(ticket)
    assert ticket.state == State.OPEN and ticket.closed_at is None
    assert answer.ticket_id == ticket.pk and answer.kind == EntryKind.MESSAGE
    auto_closed = notifications(ticket, NotificationKind.PENDING_AUTO_CLOSED)
    if order == "close-first":
        assert closed == 1 and ticket.reopened_count == 1
        assert len(events(ticket, EventKind.REOPENED)) == 1
        assert auto_closed == ["karen@example.com"]
    else:
        assert closed == 0 and ticket.reopened_count == 0
        assert events(ticket, EventKind.REOPENED) == [] and auto_closed == []
    assert ticket.paused_at is None  # the SLA clock runs again


# ---------------------------------------------------------------------------------------------
# Assignments


def test_two_agents_assigning_at_once_last_wins_and_nothing_is_lost(ticket):
    """Four changes queued on one ticket: the later assignment wins, each one is recorded with
    the state the one before it left (before/after chain), and the fields the others changed
    (team, priority) survive."""
    john, admin, garnet = as_user("john"), as_user("admin"), as_user("garnet")
    level1 = Team.objects.get(name="Level 1 Support")
    emergency = Priority.objects.get(name="emergency")
    version = ticket.version
    outcomes = queued_behind_row_lock(
        ticket,
        [
            lambda: actions.assign(admin, loaded(ticket), agent=john),
            lambda: actions.set_priority(admin, loaded(ticket), emergency),
            lambda: actions.assign(john, loaded(ticket), agent=garnet, reason="Mine after all"),
            lambda: actions.assign(john, loaded(ticket), team=level1),
        ],
    )
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    ticket = loaded(ticket)
    assert (ticket.assignee, ticket.team, ticket.priority) == (garnet, level1, emergency)
    assert ticket.version == version + 4
    assigned = events(ticket, EventKind.ASSIGNED)[1:]  # the first is the fixture's
    assert [(e.before["agent"]["name"], e.after["agent"]["name"]) for e in assigned] == [
        (str(garnet), str(john)),
        (str(john), str(garnet)),
        (str(garnet), str(garnet)),
    ]
    assert assigned[-1].before["team"] is None and assigned[-1].after["team"]["id"] == level1.pk
    assert len(events(ticket, EventKind.PRIORITY)) == 1


def test_two_agents_assigning_from_the_same_form_one_is_told_it_changed(ticket):
    john, admin = as_user("john"), as_user("admin")
    version = ticket.version
    outcomes = queued_behind_row_lock(
        ticket,
        [
            lambda: actions.assign(admin, loaded(ticket), agent=john, expected_version=version),
            lambda: actions.assign(john, loaded(ticket), agent=admin, expected_version=version),
        ],
    )
    assert isinstance(outcomes[0], Ticket) and isinstance(outcomes[1], actions.StaleTicket)
    ticket = loaded(ticket)
    assert ticket.assignee == john and ticket.version == version + 1
    assert len(events(ticket, EventKind.ASSIGNED)) == 2  # the fixture's and the winner's
    assert notifications(ticket, NotificationKind.ASSIGNED_ALERT) == [
        "garnet@helpline.example",  # from the fixture
        "john@helpline.example",
    ]


# ---------------------------------------------------------------------------------------------
# A transfer against a reply


@pytest.mark.parametrize("order", ["reply-first", "transfer-first"])
def test_transfer_racing_a_reply_by_an_agent_who_loses_access(ticket, order):
    """Garnet (Support only) replies while John moves the ticket to SysAdmins (restricted).
    Reply first: both recorded, Garnet unassigned by the transfer. Transfer first: the ticket
    is no longer Garnet's to see, so her reply is refused, not written."""
    sysadmins = Department.objects.get(name="SysAdmins")
    john, garnet = as_user("john"), as_user("garnet")
    transfer = lambda: actions.transfer(john, loaded(ticket), sysadmins)  # noqa: E731
    work = [reply_as("garnet", REPLY, ticket), transfer]
    outcomes = queued_behind_row_lock(ticket, work if order == "reply-first" else work[::-1])
    reply, moved = outcomes if order == "reply-first" else outcomes[::-1]
    assert isinstance(moved, Ticket), moved

    ticket = loaded(ticket)
    assert ticket.department == sysadmins and ticket.assignee is None
    assert len(events(ticket, EventKind.TRANSFERRED)) == 1
    replies = ticket.entries.filter(kind=EntryKind.REPLY, author=garnet)
    if order == "reply-first":
        assert replies.count() == 1 and reply.pk == replies.get().pk
        assert notifications(ticket, NotificationKind.REPLY) == ["karen@example.com"]
    else:
        assert isinstance(reply, access.TicketNotFound), reply
        assert not replies.exists() and notifications(ticket, NotificationKind.REPLY) == []
    assert not access.can(garnet, "view", ticket)


@pytest.mark.parametrize("order", ["reply-first", "transfer-first"])
def test_transfer_racing_a_reply_by_an_agent_who_keeps_access(ticket, order):
    """The administrator sees every department: both orders record both changes."""
    sysadmins = Department.objects.get(name="SysAdmins")
    work = [
        reply_as("admin", REPLY, ticket),
        lambda: actions.transfer(as_user("john"), loaded(ticket), sysadmins),
    ]
    outcomes = queued_behind_row_lock(ticket, work if order == "reply-first" else work[::-1])
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    ticket = loaded(ticket)
    assert ticket.department == sysadmins and ticket.assignee is None
    assert ticket.entries.filter(kind=EntryKind.REPLY, author__username="admin").count() == 1
    assert len(events(ticket, EventKind.TRANSFERRED)) == 1
    assert len(events(ticket, EventKind.REPLIED)) == 1
    assert notifications(ticket, NotificationKind.REPLY) == ["karen@example.com"]


# ---------------------------------------------------------------------------------------------
# Two fetchers


def fetch_at_once(desks: list, mailboxes: list[str]) -> list[str]:
    """`helpline fetchmail --mailbox NAME` in parallel processes, released by one barrier."""
    gate, writers = threading.Barrier(len(desks)), Writers()
    for desk, name in zip(desks, mailboxes, strict=True):
        writers.start(lambda d=desk, n=name: d.run("fetchmail", "--mailbox", n).stdout, gate)
    outputs = writers.finish()
    assert not [o for o in outputs if isinstance(o, BaseException)], outputs
    return outputs


def test_two_fetchmail_processes_on_one_mailbox_store_each_message_once(demo, request, tmp_path):
    """Two `helpline fetchmail` processes started together on one mailbox of forty messages
    (cron and a scheduled task, say), moving them to Processed. Without the per-folder fetch
    lock both read every message and both MOVEs of one message could succeed (Dovecot copied
    22 of 60 twice in a trial run); with it one fetches, the other waits briefly and skips.
    Either way every message is stored once and is in Processed once; neither process fails."""
    from tests.mail.test_fetch_interrupted import (
        MAILBOXES,
        MESSAGES,
        Desk,
        add_mailboxes,
        assert_processed_state,
        assert_stored_exactly_once,
        deliver_all,
        snapshot,
    )

    server = request.getfixturevalue("imap_server")  # Dovecot with an empty INBOX
    add_mailboxes(server.host, server.port)
    deliver_all(server)
    desks = [Desk(tmp_path / f"fetcher{i}") for i in (1, 2)]
    outputs = fetch_at_once(desks, [MAILBOXES[AfterFetch.MOVE]] * 2)
    fetched = [out for out in outputs if f"{MESSAGES}/{MESSAGES} messages" in out]
    [other] = [out for out in outputs if out not in fetched]
    assert len(fetched) == 1, outputs
    # Skipped while the first one ran, or (started late) found nothing left.
    assert "skipped, another process is fetching it" in other or "0/0 messages" in other
    assert_stored_exactly_once(snapshot())
    assert_processed_state(server, AfterFetch.MOVE)


def test_the_same_messages_fetched_from_two_mailboxes_at_once_are_stored_once(
    demo, request, tmp_path
):
    """The same mail in two folders (sent to two of our addresses), fetched by two processes
    at once: no lock keeps them apart, so both take in the same messages at the same moments.
    ReceivedMail's unique fingerprint (and the failed-mail check) keep each message once."""
    from helpline.mail.models import Mailbox, Security
    from tests.mail.test_fetch_interrupted import (
        PLAN,
        TRUSTED_MX,
        Desk,
        assert_stored_exactly_once,
        deliver_all,
        snapshot,
    )

    plan = PLAN[:20]  # requests, answers and the unparseable message
    server = request.getfixturevalue("imap_server")
    imap = server.imap()
    imap.create("Second")
    try:
        names = []
        for folder in ("INBOX", "Second"):
            deliver_all(server, plan, folder)
            names.append(f"{folder} inbox")
            Mailbox.objects.create(
                name=names[-1], address=f"{folder.lower()}@helpline.example", host=server.host,
                port=server.port, security=Security.NONE, username=server.user,
                password=server.password, folder=folder, after_fetch=AfterFetch.MARK_SEEN,
                department=Department.objects.get(name="Support"),
                trusted_authserv_ids=TRUSTED_MX,
            )  # fmt: skip
        desks = [Desk(tmp_path / f"fetcher{i}") for i in (1, 2)]
        outputs = fetch_at_once(desks, names)
        assert all(f"{len(plan)}/{len(plan)} messages" in out for out in outputs), outputs
        assert_stored_exactly_once(snapshot(), plan)
        for folder in ("INBOX", "Second"):
            flags = [f for f, _ in server.messages(folder)]
            assert len(flags) == len(plan) and all(b"\\Seen" in f for f in flags)
    finally:
        imap.select("INBOX")
        imap.delete("Second")
        imap.logout()
