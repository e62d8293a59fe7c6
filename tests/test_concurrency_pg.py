"""Concurrent writers on PostgreSQL: unique ticket numbers, row locks on simultaneous changes.

SQLite serialises every writer on one file lock, so these only mean something on PostgreSQL; CI
runs this file there (scripts/pg-throwaway.sh). To make "at the same moment" repeatable, the test
itself holds the ticket's row lock while the writers queue up behind it one by one, then lets go.
"""

import threading
import time
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from helpline.accounts.models import User
from helpline.tickets import actions
from helpline.tickets.models import (
    EntryKind,
    EventKind,
    HelpdeskConfig,
    NumberFormat,
    State,
    Status,
    Ticket,
)
from tests.databases import postgres_only

pytestmark = [
    *postgres_only(),
    pytest.mark.django_db(transaction=True),
]

THREADS = 8
TICKETS_PER_THREAD = 10


class Writers:
    """Callables run each in its own thread and database connection; outcomes in call order."""

    def __init__(self):
        self.threads: list[threading.Thread] = []
        self.outcomes: dict[int, object] = {}

    def start(self, fn: Callable[[], object], gate: threading.Barrier | None = None) -> None:
        index = len(self.threads)

        def run():
            try:
                if gate is not None:
                    gate.wait(timeout=10)
                self.outcomes[index] = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                self.outcomes[index] = exc
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        self.threads.append(thread)
        thread.start()

    def finish(self) -> list:
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a writer hung"
        return [self.outcomes[i] for i in range(len(self.threads))]


def sessions_waiting_for_locks(expected: int, timeout: float = 10.0) -> int:
    """Wait until `expected` other sessions are blocked on a lock; returns how many are."""
    deadline = time.monotonic() + timeout
    waiting = 0
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(DISTINCT pid) FROM pg_locks"
                " WHERE NOT granted AND pid <> pg_backend_pid()"
            )
            waiting = cursor.fetchone()[0]
        if waiting >= expected:
            break
        time.sleep(0.02)
    return waiting


def queued_behind_row_lock(
    ticket: Ticket, work: list[Callable[[], object]], meanwhile: Callable[[], object] | None = None
) -> list:
    """Hold the ticket's row lock, queue each writer behind it in order (each one waits before
    the next starts), optionally change the ticket ourselves, then commit and let them run."""
    writers = Writers()
    with transaction.atomic():
        Ticket.objects.select_for_update().filter(pk=ticket.pk).values_list("pk").get()
        for queued, fn in enumerate(work, start=1):
            writers.start(fn)
            assert sessions_waiting_for_locks(queued) == queued, "writer did not queue"
        if meanwhile is not None:
            meanwhile()
    return writers.finish()


def as_user(username: str) -> User:
    return User.objects.get(username=username)


def loaded(ticket: Ticket) -> Ticket:
    """The ticket as a form loaded it before the writers started."""
    return Ticket.objects.get(pk=ticket.pk)


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number_format", "prefix", "digits"),
    [(NumberFormat.RANDOM, "", 4), (NumberFormat.SEQUENCE, "HL-", 6)],
    ids=["random-4-digits", "sequence"],
)
def test_numbers_stay_unique_under_concurrent_opening(demo, number_format, prefix, digits):
    config = HelpdeskConfig.load()
    config.number_format = number_format
    config.number_prefix = prefix
    config.number_digits = digits  # 4 digits: draws collide often enough to exercise retries
    config.save()
    karen = as_user("karen")

    def open_ten(thread: int) -> Callable[[], list[str]]:
        def work() -> list[str]:
            return [
                actions.open_ticket(
                    karen,
                    requester=karen,
                    subject=f"Thread {thread} ticket {n}",
                    body="Load.",
                    autorespond=False,
                    alert=False,
                ).number
                for n in range(TICKETS_PER_THREAD)
            ]

        return work

    writers, gate = Writers(), threading.Barrier(THREADS)
    for i in range(THREADS):
        writers.start(open_ten(i), gate)
    outcomes = writers.finish()
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    numbers = [n for batch in outcomes for n in batch]
    total = THREADS * TICKETS_PER_THREAD
    assert len(numbers) == total and len(set(numbers)) == total
    assert Ticket.objects.count() == total
    assert set(Ticket.objects.values_list("number", flat=True)) == set(numbers)
    if number_format == NumberFormat.SEQUENCE:
        assert sorted(numbers) == [f"HL-{i:06d}" for i in range(1, total + 1)]


@pytest.fixture
def ticket(demo) -> Ticket:
    karen = as_user("karen")
    return actions.open_ticket(
        karen,
        requester=karen,
        subject="VPN down",
        body="Since 9.",
        autorespond=False,
        alert=False,
    )


def reply_as(username: str, text: str, ticket: Ticket, **kwargs) -> Callable[[], object]:
    def work():
        return actions.reply(as_user(username), loaded(ticket), text, **kwargs)

    return work


def test_two_agents_replying_at_once_are_both_recorded(ticket):
    version = ticket.version
    outcomes = queued_behind_row_lock(
        ticket,
        [
            reply_as("john", "Restarting the VPN.", ticket),
            reply_as("garnet", "Checking the firewall.", ticket),
        ],
    )
    assert [type(o).__name__ for o in outcomes] == ["ThreadEntry", "ThreadEntry"]
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.version == version + 2
    replies = ticket.entries.filter(kind=EntryKind.REPLY).order_by("id")
    assert [r.author.username for r in replies] == ["john", "garnet"]  # in lock order
    assert ticket.events.filter(kind=EventKind.REPLIED).count() == 2
    assert ticket.first_responded_at == replies[0].created_at


def test_two_agents_with_the_same_form_version_one_wins(ticket):
    version = ticket.version
    outcomes = queued_behind_row_lock(
        ticket,
        [
            reply_as("john", "Restarting the VPN.", ticket, expected_version=version),
            reply_as("garnet", "Checking the firewall.", ticket, expected_version=version),
        ],
    )
    assert type(outcomes[0]).__name__ == "ThreadEntry"
    assert isinstance(outcomes[1], actions.StaleTicket)
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.version == version + 1
    assert list(ticket.entries.filter(kind=EntryKind.REPLY).values_list("author__username")) == [
        ("john",)
    ]


def test_a_reply_waiting_while_another_agent_resolves_still_goes_through(ticket):
    resolved = Status.objects.get(name="Resolved")
    outcomes = queued_behind_row_lock(
        ticket,
        [reply_as("garnet", "One more thing: reboot first.", ticket)],
        meanwhile=lambda: actions.set_status(as_user("john"), loaded(ticket), resolved),
    )
    assert type(outcomes[0]).__name__ == "ThreadEntry", outcomes[0]
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.state == State.RESOLVED
    assert ticket.entries.filter(kind=EntryKind.REPLY, author__username="garnet").exists()


def test_time_stamps_follow_the_order_changes_are_committed(ticket):
    def admin_answers_first():
        time.sleep(0.05)
        actions.reply(as_user("admin"), loaded(ticket), "Ada here: looking at it.")

    queued_behind_row_lock(
        ticket,
        [reply_as("garnet", "Garnet here: rebooting the VPN box.", ticket)],
        meanwhile=admin_answers_first,
    )
    ticket = Ticket.objects.get(pk=ticket.pk)
    replies = list(ticket.entries.filter(kind=EntryKind.REPLY).order_by("id"))
    assert [r.author.username for r in replies] == ["admin", "garnet"]  # commit order
    assert replies[0].created_at <= replies[1].created_at
    assert ticket.updated_at == replies[1].created_at
    assert ticket.first_responded_at == replies[0].created_at


def test_opposite_merges_at_once_one_wins_and_the_other_is_refused(demo):
    karen, john = as_user("karen"), as_user("john")
    first, second = (
        actions.open_ticket(
            karen, requester=karen, subject=s, body="x", autorespond=False, alert=False
        )
        for s in ("Printer A", "Printer B")
    )
    outcomes = queued_behind_row_lock(
        first,  # both merges lock the lower id first
        [
            lambda: actions.merge(john, loaded(first), loaded(second)),
            lambda: actions.merge(john, loaded(second), loaded(first)),
        ],
    )
    first, second = loaded(first), loaded(second)
    assert first.merged_into_id == second.pk and second.merged_into_id is None
    assert isinstance(outcomes[1], ValidationError), outcomes[1]
