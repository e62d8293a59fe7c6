"""The scheduler: one run per job and period whatever the number of schedulers; the periodic
jobs (overdue alerts, closing pending and resolved tickets, clean-ups) in bounded work."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from helpline.automation import jobs, scheduler
from helpline.automation.models import AutomationSettings, JobRun
from helpline.tickets import actions, sweeps
from helpline.tickets.models import (
    EventKind,
    GuestAccess,
    Notification,
    NotificationKind,
    State,
    Ticket,
)

NOW = datetime(2026, 11, 25, 10, 7, 30, tzinfo=UTC)


def counting_jobs(calls):
    def job(name, minutes):
        return jobs.Job(name, timedelta(minutes=minutes), lambda: calls.append(name) or 1, name)

    return {"every_minute": job("every_minute", 1), "hourly": job("hourly", 60)}


@pytest.fixture
def fake_jobs(monkeypatch):
    calls: list[str] = []
    table = counting_jobs(calls)
    monkeypatch.setattr(jobs, "all_jobs", lambda: table)
    return calls


def test_period_start_is_aligned():
    assert scheduler.period_start(NOW, timedelta(minutes=1)) == NOW.replace(second=0)
    assert scheduler.period_start(NOW, timedelta(hours=1)) == NOW.replace(minute=0, second=0)
    assert scheduler.period_start(NOW, timedelta(days=1)) == NOW.replace(hour=0, minute=0, second=0)


def test_two_schedulers_run_each_job_once_per_period(db, fake_jobs):
    first = scheduler.tick(NOW)
    second = scheduler.tick(NOW + timedelta(seconds=20))  # another scheduler, same minute
    assert sorted(r.job for r in first) == ["every_minute", "hourly"]
    assert second == []
    assert sorted(fake_jobs) == ["every_minute", "hourly"]
    later = scheduler.tick(NOW + timedelta(minutes=1))
    assert [r.job for r in later] == ["every_minute"]
    assert JobRun.objects.filter(job="every_minute").count() == 2
    run = JobRun.objects.filter(job="hourly").get()
    assert run.result == 1 and run.finished_at is not None and run.task_id


def test_the_unique_claim_holds_even_without_the_pre_check(db, fake_jobs):
    job = jobs.all_jobs()["hourly"]
    assert scheduler.claim_and_enqueue(job, NOW) is not None
    assert scheduler.claim_and_enqueue(job, NOW + timedelta(minutes=5)) is None
    assert fake_jobs == ["hourly"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_schedulers_claim_once(fake_jobs):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the claim test above covers it")
    barrier = threading.Barrier(4)

    def run():
        try:
            barrier.wait()
            scheduler.tick(NOW)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(fake_jobs) == ["every_minute", "hourly"]
    assert JobRun.objects.count() == 2


def test_a_failing_job_is_recorded(db, monkeypatch):
    def broken():
        raise RuntimeError("disk full")

    table = {"broken": jobs.Job("broken", timedelta(minutes=1), broken, "x")}
    monkeypatch.setattr(jobs, "all_jobs", lambda: table)
    scheduler.tick(NOW)
    assert "disk full" in JobRun.objects.get().error


def test_scheduler_command_once(db, fake_jobs):
    call_command("scheduler", "--once")
    call_command("scheduler", "--once")
    assert sorted(fake_jobs) == ["every_minute", "hourly"]


def test_intervals_can_be_changed_and_jobs_switched_off(settings):
    settings.HELPLINE_JOB_MINUTES = {"mark_overdue": 2, "purge_failed_mail": 0}
    table = jobs.all_jobs()
    assert table["mark_overdue"].every == timedelta(minutes=2)
    assert "purge_failed_mail" not in table
    assert {"close_pending", "close_resolved", "expire_guest_links"} <= set(table)


# ---------------------------------------------------------------------------------------------
# The periodic jobs over many tickets


def _many(org, karen, n, **kwargs):
    topic = org.topic("Hardware")  # Sev-B: due four hours after creation
    return [
        actions.open_ticket(
            karen, requester=karen, subject=f"Laptop {i}", body="x", help_topic=topic, **kwargs
        )
        for i in range(n)
    ]


N = 30
# Queries per ticket, whatever N: lock, event, save, outbox rows, event listeners (about 8 and
# 13 when written). Caps, with room for listeners other apps add; the keyset pages add one query
# per BATCH tickets. Nothing is loaded all at once and nothing grows faster than the tickets.
OVERDUE_PER_TICKET = 12
PENDING_PER_TICKET = 20


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(sweeps, "BATCH", 7)  # several keyset pages with N tickets


def test_overdue_alerts_once_in_bounded_queries(
    org, karen, john, small_batches, django_assert_max_num_queries
):
    tickets = _many(org, karen, N, created_at=timezone.now() - timedelta(hours=5))
    for ticket in tickets[:5]:
        actions.assign(None, ticket, agent=john)
    Notification.objects.all().delete()
    with django_assert_max_num_queries(N * OVERDUE_PER_TICKET + 10):
        assert jobs.mark_overdue() == N
    assert Ticket.objects.filter(is_overdue=True).count() == N
    alerts = Notification.objects.filter(kind=NotificationKind.OVERDUE_ALERT)
    # The department manager (John) for every ticket; John is also the assignee of five.
    assert alerts.count() == N
    assert jobs.mark_overdue() == 0  # once only
    assert tickets[0].events.filter(kind=EventKind.OVERDUE).count() == 1


def test_pending_tickets_close_with_a_note_in_bounded_queries(
    org, karen, john, small_batches, django_assert_max_num_queries
):
    tickets = _many(org, karen, N)
    for ticket in tickets:
        actions.set_status(john, ticket, org.status("Pending"))
    fresh = _many(org, karen, 1)[0]
    actions.set_status(john, fresh, org.status("Pending"))
    old = timezone.now() - timedelta(days=15)
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(paused_at=old, updated_at=old)
    AutomationSettings.objects.update_or_create(pk=1, defaults={"pending_close_days": 14})
    with django_assert_max_num_queries(N * PENDING_PER_TICKET + 10):
        assert jobs.close_pending() == N
    assert Ticket.objects.filter(state=State.CLOSED).count() == N
    fresh.refresh_from_db()
    assert fresh.state == State.PENDING
    notes = Notification.objects.filter(kind=NotificationKind.PENDING_AUTO_CLOSED)
    assert notes.count() == N


def test_closing_pending_can_be_switched_off_in_the_admin_settings(org, karen, john):
    (ticket,) = _many(org, karen, 1)
    actions.set_status(john, ticket, org.status("Pending"))
    Ticket.objects.update(paused_at=timezone.now() - timedelta(days=400))
    AutomationSettings.objects.update_or_create(pk=1, defaults={"close_pending_enabled": False})
    assert jobs.close_pending() == 0


def test_resolved_tickets_close_after_n_days(org, karen, john, small_batches):
    tickets = _many(org, karen, 10)
    for ticket in tickets:
        actions.set_status(john, ticket, org.status("Resolved"))
    Ticket.objects.filter(pk__in=[t.pk for t in tickets[:8]]).update(
        resolved_at=timezone.now() - timedelta(days=8)
    )
    AutomationSettings.objects.update_or_create(pk=1, defaults={"resolved_close_days": 7})
    Notification.objects.all().delete()
    assert jobs.close_resolved() == 8
    assert Ticket.objects.filter(state=State.CLOSED).count() == 8
    event = tickets[0].events.filter(kind=EventKind.STATUS).last()
    assert event.actor is None and "Resolved for more than 7 days" in event.reason
    # Resolved was announced already; closing quietly after it sends nothing more.
    assert not Notification.objects.filter(kind=NotificationKind.CLOSED).exists()


def test_a_ticket_reopened_meanwhile_is_not_closed(org, karen, john, monkeypatch):
    (ticket,) = _many(org, karen, 1)
    actions.set_status(john, ticket, org.status("Resolved"))
    Ticket.objects.update(resolved_at=timezone.now() - timedelta(days=30))
    real = actions.set_status

    def requester_answers_first(actor, t, status, **kwargs):
        actions.add_message(karen, Ticket.objects.get(pk=t.pk), "Still broken!")
        return real(actor, t, status, **kwargs)

    monkeypatch.setattr(actions, "set_status", requester_answers_first)
    assert sweeps.close_resolved_tickets(days=7) == 0
    assert Ticket.objects.get().state == State.OPEN


def test_expired_guest_links_are_deleted(org, karen):
    (ticket,) = _many(org, karen, 1)
    now = timezone.now()
    for i, expires in enumerate(
        (now - timedelta(days=3), now - timedelta(days=2), now + timedelta(days=1))
    ):
        GuestAccess.objects.create(
            ticket=ticket, email="x@example.com", token_hash=f"{i:064d}", expires_at=expires
        )
    assert jobs.expire_guest_links() == 2
    assert GuestAccess.objects.count() == 1


def test_old_failed_mail_is_purged(db):
    from helpline.mail.models import FailedMail

    old = FailedMail.objects.create(
        raw=b"x", error="bad", received_at=timezone.now() - timedelta(days=40)
    )
    FailedMail.objects.create(raw=b"y", error="bad")
    assert jobs.purge_failed_mail() == 1
    assert not FailedMail.objects.filter(pk=old.pk).exists()


def test_reminders_wait_for_their_notification_kind(org, karen, john):
    AutomationSettings.objects.update_or_create(pk=1, defaults={"remind_before_due_minutes": 300})
    _many(org, karen, 2)
    if jobs.reminder_kind() is None:
        assert jobs.remind_before_due() == 0
    else:
        assert jobs.remind_before_due() == 2
        assert jobs.remind_before_due() == 0  # once per ticket and due time


def test_sweeps_read_tickets_in_keyset_pages(org, karen, small_batches):
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    _many(org, karen, 10, created_at=timezone.now() - timedelta(hours=5))
    with CaptureQueriesContext(conn) as captured:
        assert sweeps.mark_overdue_tickets() == 10
    scans = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith("SELECT") and '"is_overdue"' in q["sql"].partition("WHERE")[2]
    ]
    # Pages of 7 (7, 3, then an empty one), each starting after the last id of the one before.
    assert len(scans) == 3
    assert all("LIMIT 7" in sql and '"id" >' in sql for sql in scans)
