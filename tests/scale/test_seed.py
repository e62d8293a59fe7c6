"""`helpline bench seed`: realistic mixes, a working search index, and a database left usable."""

import io
import statistics

import pytest
from django.core.management import call_command
from django.db.models import Count

from helpline.accounts.models import User
from helpline.bench.data import BENCH_PASSWORD
from helpline.bench.load import seed
from helpline.search.query import search
from helpline.tickets import actions
from helpline.tickets.models import EntryKind, Event, EventKind, State, ThreadEntry, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def test_seed_writes_tickets_with_threads_history_and_search(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    meta = seed(400, batch=150, out=io.StringIO(), drop_indexes=False, threads=1)

    assert Ticket.objects.count() == 400
    per_ticket = list(Ticket.objects.annotate(n=Count("entries")).values_list("n", flat=True))
    assert min(per_ticket) >= 1 and max(per_ticket) <= 50
    assert 2 <= statistics.mean(per_ticket) <= 4
    assert meta["entries"] == ThreadEntry.objects.count()
    # Every ticket was opened by a message and has a "created" event.
    assert Event.objects.filter(kind=EventKind.CREATED).count() == 400
    first_kinds = {t.entries.order_by("id").first().kind for t in Ticket.objects.all()[:50]}
    assert first_kinds == {EntryKind.MESSAGE}
    states = set(Ticket.objects.values_list("state", flat=True))
    assert {State.CLOSED, State.OPEN} <= states
    assert Ticket.objects.values("department").distinct().count() >= 5
    assert User.objects.filter(username__startswith="req").count() >= 1000
    # The search index is filled: the marker word finds exactly the tickets that have it.
    admin = User.objects.get(username="admin")
    found = search(admin, meta["common_word"]).count()
    assert found == meta["common_tickets"]
    assert search(admin, meta["rare_word"]).count() == meta["rare_tickets"] > 0
    assert (tmp_path / "bench" / "seed.json").exists()


def test_the_help_desk_works_on_after_a_seed(settings, tmp_path, client):
    settings.VAR_DIR = tmp_path
    seed(50, batch=20, out=io.StringIO(), drop_indexes=False, threads=1, record=False)
    john = User.objects.get(username="john")
    assert john.check_password(BENCH_PASSWORD)
    # Sequences moved past the explicit ids: new rows get fresh ids.
    karen = User.objects.get(username="karen")
    ticket = actions.open_ticket(karen, requester=karen, subject="After seed", body="Hi there")
    entry = actions.reply(john, ticket, "Hello from after the seed.")
    assert entry.pk > 0 and ticket.pk > 0
    client.force_login(john)
    assert client.get(f"/staff/tickets/{ticket.number}/").status_code == 200
    assert client.get("/staff/queues/all/").status_code == 200


def test_bench_seed_command_reports_what_it_wrote(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    call_command("bench", "seed", "--tickets", "30", "--batch", "10")
    captured = capsys.readouterr()
    assert "Seeded 30 tickets" in captured.out
    assert "tickets: [" in captured.err  # the progress bar
