"""The ticket lifecycle through the action layer: statuses, SLA pauses, reopening, first response,
notifications, stale forms, merging, overdue and pending sweeps, and input validation.
"""

from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from helpline.accounts.models import Agent, Role, User
from helpline.sla.calendar import business_time_between
from helpline.sla.models import SLAPlan
from helpline.tickets import access, actions, sweeps, tasks
from helpline.tickets.models import (
    Attachment,
    Collaborator,
    DeliveryState,
    EntryKind,
    Event,
    EventKind,
    Notification,
    NotificationKind,
    SLAPause,
    State,
    ThreadEntry,
    Ticket,
)
from tests.conftest import local  # noqa: E402


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_related("status", "sla_plan").get(pk=ticket.pk)


def open_for(user: User, org, topic: str = "Hardware", **kwargs) -> Ticket:
    """A ticket from `user` under a help topic (Hardware: Support, Sev-B, 24/7)."""
    kwargs.setdefault("body", "It stopped working this morning.")
    return actions.open_ticket(
        user,
        requester=user,
        subject=kwargs.pop("subject", "Laptop will not boot"),
        help_topic=org.topic(topic),
        **kwargs,
    )


def deliver_earlier_mail() -> None:
    """Send what earlier steps queued, as their commits would have done (the test runs in one
    transaction, so their after-commit deliveries never ran and would blur the next step's)."""
    ids = list(Notification.objects.filter(state=DeliveryState.QUEUED).values_list("pk", flat=True))
    if ids:
        tasks.deliver_notifications.enqueue(ids)


def world() -> dict:
    """Row counts of everything an action writes."""
    return {
        m.__name__: m.objects.count()
        for m in (Ticket, ThreadEntry, Event, Notification, SLAPause, Attachment, Collaborator)
    }


# ---------------------------------------------------------------------------------------------
# Pending: the SLA clock stops and resumes


def test_pending_pauses_the_clock_and_the_answer_resumes_it(org, clock, karen, john):
    created = clock.now
    ticket = open_for(karen, org)
    assert ticket.due_at == created + timedelta(hours=4)  # Sev-B, 24/7

    clock.advance(minutes=10)
    actions.set_status(john, ticket, org.status("Work in Progress"))
    assert ticket.state == State.OPEN and ticket.paused_at is None

    paused = clock.advance(minutes=5)
    actions.reply(john, ticket, "Which model is it?", status=org.status("Pending"))
    assert ticket.state == State.PENDING and ticket.paused_at == paused
    pause = SLAPause.objects.get(ticket=ticket)
    assert pause.started_at == paused and pause.ended_at is None

    resumed = clock.advance(hours=1, minutes=10)
    actions.add_message(karen, ticket, "A ThinkPad T14.")
    ticket = fresh(ticket)
    assert ticket.status.name == "Open" and ticket.state == State.OPEN
    assert ticket.paused_at is None and ticket.reopened_count == 0
    pause.refresh_from_db()
    assert pause.ended_at == resumed
    assert ticket.due_at == created + timedelta(hours=4, minutes=70)

    due_event = ticket.events.filter(kind=EventKind.DUE).latest("id")
    assert "resumed" in due_event.reason and "1 h 10 min" in due_event.reason
    assert datetime.fromisoformat(due_event.before["due_at"]) == created + timedelta(hours=4)
    status_event = ticket.events.filter(kind=EventKind.STATUS).latest("id")
    assert status_event.after["name"] == "Open" and "requester answered" in status_event.reason


def test_pause_over_a_weekend_moves_the_due_time_by_business_time_only(org, clock, karen, john):
    clock.now = local(2026, 1, 22, 15, 0)  # Thursday
    ticket = open_for(karen, org, "General Inquiry")  # Sev-C: 8 business hours
    due_before = ticket.due_at
    assert due_before == local(2026, 1, 23, 14, 0)  # Thu 15–17, Fri 08–14

    started = clock.now = local(2026, 1, 22, 16, 0)
    actions.set_status(john, ticket, org.status("Pending"))
    ended = clock.now = local(2026, 1, 26, 10, 0)  # Monday
    actions.add_message(karen, ticket, "Here are the details.")

    ticket = fresh(ticket)
    calendar = ticket.sla_plan.calendar()
    paused = business_time_between(calendar, started, ended)
    assert paused == timedelta(hours=12)  # Thu 16–17, Fri 08–17, Mon 08–10
    assert ticket.due_at == local(2026, 1, 26, 17, 0)
    assert business_time_between(calendar, due_before, ticket.due_at) == paused


def test_a_plan_that_does_not_pause_keeps_the_clock_running(org, clock, karen, john):
    plan = SLAPlan.objects.create(name="No pause", grace_hours=4, pause_when_pending=False)
    ticket = open_for(karen, org, sla_plan=plan)
    due = ticket.due_at
    clock.advance(minutes=5)
    actions.set_status(john, ticket, org.status("Pending"))
    assert ticket.paused_at is None and not SLAPause.objects.filter(ticket=ticket).exists()
    clock.advance(hours=2)
    actions.add_message(karen, ticket, "Answer.")
    assert fresh(ticket).due_at == due


# ---------------------------------------------------------------------------------------------
# Resolved, closed, reopened


def test_resolved_then_requester_message_reopens(org, clock, karen, john):
    ticket = open_for(karen, org)
    resolved = clock.advance(hours=1)
    actions.reply(john, ticket, "Replaced the battery.", status=org.status("Resolved"))
    assert ticket.state == State.RESOLVED and ticket.resolved_at == resolved

    clock.advance(hours=2)
    actions.add_message(karen, ticket, "It died again.")
    ticket = fresh(ticket)
    assert ticket.state == State.OPEN and ticket.status.name == "Open"
    assert ticket.reopened_count == 1 and ticket.resolved_at is None
    reopened = ticket.events.get(kind=EventKind.REOPENED)
    assert reopened.actor == karen and reopened.before["name"] == "Resolved"
    assert Notification.objects.filter(
        ticket=ticket, kind=NotificationKind.REOPENED, recipient=karen
    ).exists()


def test_closed_sets_closed_at(org, clock, karen, john):
    ticket = open_for(karen, org)
    closed = clock.advance(hours=3)
    actions.set_status(john, ticket, org.status("Closed"))
    ticket = fresh(ticket)
    assert ticket.state == State.CLOSED and ticket.closed_at == closed
    assert ticket.resolved_at == closed
    assert not access.visible_tickets(john).filter(pk=ticket.pk, state=State.OPEN).exists()


def test_agent_reopen_is_counted_every_time(org, clock, karen, john):
    ticket = open_for(karen, org)
    actions.set_status(john, ticket, org.status("Resolved"))
    clock.advance(minutes=1)
    actions.reopen(john, ticket, reason="Customer called back")
    assert ticket.reopened_count == 1 and ticket.state == State.OPEN and ticket.resolved_at is None
    clock.advance(minutes=1)
    actions.set_status(john, ticket, org.status("Closed"))
    clock.advance(minutes=1)
    actions.reopen(john, ticket)
    assert ticket.reopened_count == 2 and ticket.closed_at is None
    events = ticket.events.filter(kind=EventKind.REOPENED)
    assert events.count() == 2 and events.first().reason == "Customer called back"
    assert {e.actor_id for e in events} == {john.pk}


def test_moving_between_open_statuses_is_not_a_reopen(org, karen, john):
    ticket = open_for(karen, org)
    actions.set_status(john, ticket, org.status("Work in Progress"))
    actions.set_status(john, ticket, org.status("Open"))
    assert ticket.reopened_count == 0
    assert not ticket.events.filter(kind=EventKind.REOPENED).exists()


# ---------------------------------------------------------------------------------------------
# First response and notifications


def test_first_response_time_is_set_by_the_first_reply_only(org, clock, karen, john, garnet):
    ticket = open_for(karen, org)
    clock.advance(minutes=5)
    actions.add_note(john, ticket, "Probably the battery.")
    clock.advance(minutes=5)
    actions.add_message(karen, ticket, "Any update?")
    assert fresh(ticket).first_responded_at is None

    first = clock.advance(minutes=10)
    actions.reply(garnet, ticket, "Bring it to the front desk.")
    clock.advance(minutes=10)
    actions.reply(john, ticket, "Fixed.")
    assert fresh(ticket).first_responded_at == first


def test_internal_notes_never_reach_the_requester_side(
    org, karen, ken, john, django_capture_on_commit_callbacks
):
    ticket = open_for(karen, org)
    actions.add_collaborator(john, ticket, ken)
    deliver_earlier_mail()
    mail.outbox.clear()
    before = Notification.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        note = actions.add_note(john, ticket, "Karen's manager approved the replacement.")
    assert Notification.objects.count() == before
    assert not Notification.objects.filter(entry=note).exists()
    assert not [m for m in mail.outbox if {karen.email, ken.email} & set(m.to)]
    assert all("approved the replacement" not in m.body for m in mail.outbox)

    # The same path for a reply does reach them, so the check above can fail.
    with django_capture_on_commit_callbacks(execute=True):
        actions.reply(john, ticket, "A replacement is on its way.")
    recipients = {m.to[0] for m in mail.outbox}
    assert {karen.email, ken.email} <= recipients
    assert all(ticket.number in m.subject for m in mail.outbox)


# ---------------------------------------------------------------------------------------------
# Permissions within one action, stale forms


@pytest.fixture
def replier(org) -> User:
    """An agent in Support who may reply and change status, but not resolve or close."""
    role = Role.objects.create(name="Replies and status", can_reply=True, can_status=True)
    user = User.objects.create_user("rory", email="rory@helpline.example", name="Rory Reply")
    Agent.objects.create(user=user, department=org.dept("Support"), role=role)
    return User.objects.get(pk=user.pk)


def test_a_reply_that_resolves_needs_the_close_permission(org, karen, replier):
    ticket = open_for(karen, org)
    before, version = world(), fresh(ticket).version
    with pytest.raises(access.AccessDenied) as caught:
        actions.reply(replier, ticket, "Done, I think.", status=org.status("Resolved"))
    assert "Replies and status" in caught.value.message
    assert world() == before and fresh(ticket).version == version
    assert fresh(ticket).state == State.OPEN

    actions.reply(replier, ticket, "Which model is it?", status=org.status("Pending"))
    assert fresh(ticket).state == State.PENDING


def test_a_refused_resolving_reply_leaves_no_files_behind(org, karen, replier, settings):
    ticket = open_for(karen, org)
    with pytest.raises(access.AccessDenied):
        actions.reply(
            replier,
            ticket,
            "Log attached.",
            status=org.status("Resolved"),
            attachments=[actions.NewAttachment("log.txt", b"boot failed", "text/plain")],
        )
    stored = [p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()]
    assert stored == []


STALE_CALLS = {
    "reply": lambda t, u, o, v: actions.reply(u, t, "Hi", expected_version=v),
    "add_note": lambda t, u, o, v: actions.add_note(u, t, "Note", expected_version=v),
    "assign": lambda t, u, o, v: actions.assign(u, t, agent=u, expected_version=v),
    "release": lambda t, u, o, v: actions.release(u, t, expected_version=v),
    "transfer": lambda t, u, o, v: actions.transfer(
        u, t, o.dept("Online Banking"), expected_version=v
    ),
    "set_status": lambda t, u, o, v: actions.set_status(
        u, t, o.status("Resolved"), expected_version=v
    ),
    "set_priority": lambda t, u, o, v: actions.set_priority(
        u, t, o.priority("high"), expected_version=v
    ),
    "set_sla_plan": lambda t, u, o, v: actions.set_sla_plan(
        u, t, o.sla("Sev-A"), expected_version=v
    ),
    "set_help_topic": lambda t, u, o, v: actions.set_help_topic(
        u, t, o.topic("General Inquiry"), expected_version=v
    ),
    "set_due_time": lambda t, u, o, v: actions.set_due_time(
        u, t, local(2031, 1, 1, 9, 0), expected_version=v
    ),
}


@pytest.mark.parametrize("action_name", list(STALE_CALLS))
def test_a_stale_form_writes_nothing(org, karen, john, garnet, action_name):
    ticket = open_for(karen, org)
    actions.assign(john, ticket, team=org.team("Level 1 Support"))  # version 2 now
    seen = 1  # what a form loaded before the assignment carries
    before = world()
    row = {f.attname: getattr(fresh(ticket), f.attname) for f in Ticket._meta.concrete_fields}
    with pytest.raises(actions.StaleTicket) as caught:
        STALE_CALLS[action_name](ticket, john, org, seen)
    assert ticket.number in str(caught.value)
    assert world() == before
    after = {f.attname: getattr(fresh(ticket), f.attname) for f in Ticket._meta.concrete_fields}
    assert after == row

    # With the current version the same call goes through.
    STALE_CALLS[action_name](ticket, john, org, fresh(ticket).version)
    assert fresh(ticket).version == 3


# ---------------------------------------------------------------------------------------------
# Merge


def test_merge_moves_the_thread_and_closes_the_source(org, karen, ken, john):
    source = open_for(karen, org, subject="VPN drops")
    actions.reply(john, source, "Which office?")
    actions.add_note(john, source, "Same as Ken's.")
    target = open_for(ken, org, subject="VPN disconnects every hour")
    moved = set(source.entries.values_list("pk", flat=True))
    assert len(moved) == 3

    result = actions.merge(john, source, target)
    assert result is target
    source, target = fresh(source), fresh(target)
    assert source.merged_into_id == target.pk and source.state == State.CLOSED
    assert source.closed_at is not None and not source.entries.exists()
    assert moved <= set(target.entries.values_list("pk", flat=True))
    assert target.entries.count() == 4 and target.state == State.OPEN
    assert Collaborator.objects.filter(ticket=target, user=karen).exists()
    assert source.events.get(kind=EventKind.MERGED).after == {"into": target.number}
    assert target.events.get(kind=EventKind.MERGED).after == {"from": source.number}
    assert f"Merged into #{target.number}" in source.events.get(kind=EventKind.STATUS).reason
    # Karen hears nothing about a closure she did not cause; she follows the target now.
    assert not Notification.objects.filter(ticket=source, kind=NotificationKind.CLOSED).exists()
    assert access.visible_tickets(karen).filter(pk=target.pk).exists()

    with pytest.raises(ValidationError):
        actions.merge(john, source, target)
    with pytest.raises(ValidationError):
        actions.merge(john, target, target)


def test_merging_into_a_merged_ticket_is_refused(org, karen, ken, john):
    first = open_for(karen, org, subject="VPN drops")
    second = open_for(ken, org, subject="VPN disconnects")
    actions.merge(john, first, second)
    with pytest.raises(ValidationError):
        actions.merge(john, second, fresh(first))
    assert fresh(second).merged_into_id is None


# ---------------------------------------------------------------------------------------------
# Overdue


def test_mark_overdue_flags_once_with_one_event(org, clock, karen, john):
    ticket = open_for(karen, org, "General Inquiry", sla_plan=org.sla("Sev-A"))
    assert not actions.mark_overdue(ticket, clock.now + timedelta(minutes=59))
    late = clock.now + timedelta(hours=1, minutes=1)
    assert actions.mark_overdue(ticket, late)
    assert ticket.is_overdue
    alerts = Notification.objects.filter(ticket=ticket, kind=NotificationKind.OVERDUE_ALERT)
    assert list(alerts.values_list("recipient__username", flat=True)) == ["john"]  # manager

    assert not actions.mark_overdue(ticket, late + timedelta(hours=1))
    assert ticket.events.filter(kind=EventKind.OVERDUE).count() == 1
    assert alerts.count() == 1


def test_pending_and_resolved_tickets_are_never_overdue(org, clock, karen, john):
    ticket = open_for(karen, org, sla_plan=org.sla("Sev-A"))
    actions.set_status(john, ticket, org.status("Pending"))
    assert not actions.mark_overdue(ticket, clock.now + timedelta(days=3))
    actions.set_status(john, ticket, org.status("Resolved"))
    assert not actions.mark_overdue(ticket, clock.now + timedelta(days=3))
    assert not fresh(ticket).is_overdue


def test_sweep_marks_overdue_tickets_across_batches(org, clock, karen, john, monkeypatch):
    monkeypatch.setattr(sweeps, "BATCH", 3)
    sev_a = org.sla("Sev-A")
    late = [
        open_for(karen, org, sla_plan=sev_a, created_at=clock.now - timedelta(hours=2, minutes=i))
        for i in range(7)
    ]
    on_time = [open_for(karen, org, sla_plan=sev_a) for _ in range(3)]
    waiting = open_for(karen, org, sla_plan=sev_a, created_at=clock.now - timedelta(hours=3))
    actions.set_status(john, waiting, org.status("Pending"))

    assert sweeps.mark_overdue_tickets(clock.now) == 7
    assert {t.pk for t in Ticket.objects.filter(is_overdue=True)} == {t.pk for t in late}
    assert Event.objects.filter(kind=EventKind.OVERDUE).count() == 7
    assert sweeps.mark_overdue_tickets(clock.now) == 0
    assert Event.objects.filter(kind=EventKind.OVERDUE).count() == 7
    assert not any(fresh(t).is_overdue for t in on_time)


def test_a_later_due_time_clears_the_overdue_flag(org, clock, karen, john):
    ticket = open_for(
        karen, org, sla_plan=org.sla("Sev-A"), created_at=clock.now - timedelta(hours=2)
    )
    assert actions.mark_overdue(ticket, clock.now)
    actions.set_sla_plan(john, ticket, org.sla("Sev-B"))
    assert not fresh(ticket).is_overdue


def test_a_due_time_set_in_the_past_is_flagged_with_event_and_alert(org, clock, karen, john):
    ticket = open_for(karen, org)
    actions.set_due_time(john, ticket, clock.now - timedelta(minutes=30), reason="Promised by 9")
    sweeps.mark_overdue_tickets(clock.now)
    assert ticket.events.filter(kind=EventKind.OVERDUE).count() == 1
    assert Notification.objects.filter(ticket=ticket, kind=NotificationKind.OVERDUE_ALERT).exists()


# ---------------------------------------------------------------------------------------------
# Closing tickets left pending


def test_sweep_closes_tickets_left_pending_with_a_note_to_the_requester(
    org, clock, karen, ken, john, django_capture_on_commit_callbacks
):
    no_pause = SLAPlan.objects.create(name="No pause", grace_hours=4, pause_when_pending=False)
    start = clock.now
    stale = open_for(karen, org, subject="Old printer")
    stale_unpaused = open_for(ken, org, subject="Old scanner", sla_plan=no_pause)
    recent = open_for(karen, org, subject="New monitor")
    still_open = open_for(ken, org, subject="Keyboard")
    for t in (stale, stale_unpaused):
        actions.set_status(john, t, org.status("Pending"))
    clock.now = start + timedelta(days=10)
    actions.set_status(john, recent, org.status("Pending"))

    deliver_earlier_mail()
    mail.outbox.clear()
    clock.now = start + timedelta(days=15)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.close_stale_pending(clock.now, days=14) == 2
    for t in (stale, stale_unpaused):
        t = fresh(t)
        assert t.state == State.CLOSED and t.closed_at == clock.now
        assert t.events.filter(kind=EventKind.STATUS).latest("id").reason == (
            "No answer from the requester for 14 days"
        )
        note = Notification.objects.get(ticket=t, kind=NotificationKind.PENDING_AUTO_CLOSED)
        assert note.recipient == t.requester
    assert fresh(recent).state == State.PENDING and fresh(still_open).state == State.OPEN
    sent = {m.to[0]: m for m in mail.outbox if "closed it" in m.body}
    assert set(sent) == {karen.email, ken.email}
    assert stale.number in sent[karen.email].subject
    # RFC 3834: any value but "no" marks it automatic, so nobody's autoresponder answers it.
    assert sent[karen.email].extra_headers["Auto-Submitted"].startswith("auto-")

    assert sweeps.close_stale_pending(clock.now, days=14) == 0


def test_close_after_waiting_leaves_other_states_alone(org, karen):
    ticket = open_for(karen, org)
    assert not actions.close_after_waiting(ticket, 14)
    assert fresh(ticket).state == State.OPEN


def test_close_after_waiting_spares_a_ticket_pending_for_a_day(org, clock, karen, john):
    ticket = open_for(karen, org)
    actions.set_status(john, ticket, org.status("Pending"))
    clock.advance(days=1)
    assert not actions.close_after_waiting(ticket, 14)
    assert fresh(ticket).state == State.PENDING


# ---------------------------------------------------------------------------------------------
# Validation: bad input opens nothing


def _attachment(size: int, name: str = "scan.pdf") -> actions.NewAttachment:
    return actions.NewAttachment(name, b"x" * size, "application/pdf")


INVALID_TICKETS = {
    "empty-subject": ("subject", lambda o, s: {"subject": "   "}),
    "long-subject": ("subject", lambda o, s: {"subject": "x" * 256}),
    "empty-body": ("body", lambda o, s: {"body": " \n "}),
    "html-only-whitespace": ("body", lambda o, s: {"body": "", "body_html": "<p> </p>"}),
    "attachment-too-big": (
        "attachments",
        lambda o, s: {"attachments": [_attachment(s.HELPLINE_MAX_ATTACHMENT_BYTES + 1)]},
    ),
    "too-many-attachments": (
        "attachments",
        lambda o, s: {
            "attachments": [
                _attachment(10, f"{i}.pdf") for i in range(s.HELPLINE_MAX_ATTACHMENTS + 1)
            ]
        },
    ),
    "inactive-help-topic": ("help_topic", lambda o, s: {"help_topic": _retired_topic(o)}),
    "unknown-source": ("source", lambda o, s: {"source": "pigeon"}),
}


def _retired_topic(org):
    topic = org.topic("Hardware")
    topic.active = False
    topic.save(update_fields=["active"])
    return topic


@pytest.mark.parametrize("case", list(INVALID_TICKETS))
def test_invalid_input_opens_no_ticket(org, karen, settings, case):
    settings.HELPLINE_MAX_ATTACHMENT_BYTES = 1024
    field, make = INVALID_TICKETS[case]
    kwargs = {"subject": "Printer on fire", "body": "Smoke everywhere."} | make(org, settings)
    before = world()
    with pytest.raises(ValidationError) as caught:
        actions.open_ticket(karen, requester=karen, **kwargs)
    assert field in caught.value.message_dict
    assert all(m.strip() for m in caught.value.message_dict[field])
    assert world() == before
    assert not [p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()]


def test_attachments_at_the_limit_are_stored_under_a_safe_name(org, karen, settings):
    settings.HELPLINE_MAX_ATTACHMENT_BYTES = 1024
    files = [_attachment(1024, "../../etc/passwd")] + [
        _attachment(1, f"{i}.pdf") for i in range(settings.HELPLINE_MAX_ATTACHMENTS - 1)
    ]
    ticket = actions.open_ticket(
        karen, requester=karen, subject="Scans", body="Attached.", attachments=files
    )
    stored = Attachment.objects.filter(entry__ticket=ticket)
    assert stored.count() == settings.HELPLINE_MAX_ATTACHMENTS
    big = stored.get(size=1024)
    assert big.filename == "passwd" and big.file.read() == b"x" * 1024


@pytest.mark.parametrize(
    "call",
    [
        lambda u, t: actions.reply(u, t, "   "),
        lambda u, t: actions.add_note(u, t, ""),
        lambda u, t: actions.reply(u, t, "Too big", attachments=[_attachment(2048)]),
    ],
    ids=["empty-reply", "empty-note", "reply-attachment-too-big"],
)
def test_invalid_thread_entries_write_nothing(org, karen, john, settings, call):
    settings.HELPLINE_MAX_ATTACHMENT_BYTES = 1024
    ticket = open_for(karen, org)
    before = world()
    with pytest.raises(ValidationError):
        call(john, ticket)
    assert world() == before and fresh(ticket).version == 1


def test_thread_entries_are_kinds_the_requester_may_or_may_not_see(org, karen, john):
    ticket = open_for(karen, org)
    actions.reply(john, ticket, "Public answer")
    actions.add_note(john, ticket, "Private note")
    public = [e.body_text for e in ticket.entries.all() if e.is_public]
    assert "Private note" not in public and "Public answer" in public
    assert ticket.entries.get(kind=EntryKind.NOTE).author_name == john.display_name
