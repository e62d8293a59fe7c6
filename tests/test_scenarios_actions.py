"""Scenarios 1, 2, 3, 4, 5 and 7 of scenarios.md, driven through the action layer.

The browser tests walk the same stories through the UI; these pin down what the domain promises:
numbers, mail, queues, history, due times and access, with the clock set by hand.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from helpline.accounts.models import DepartmentAccess, User
from helpline.sla.calendar import business_time_between
from helpline.tickets import access, actions, tasks
from helpline.tickets.models import (
    CLOSED_STATES,
    DeliveryState,
    EntryKind,
    EventKind,
    Notification,
    NotificationKind,
    SLAPause,
    State,
    Ticket,
)
from tests.conftest import local  # noqa: E402


def deliver_earlier_mail() -> None:
    """Send what earlier steps queued, as their commits would have done.

    The test runs in one transaction, so earlier steps' after-commit deliveries never ran; left
    queued, they would go out with the next step's mail and blur what that step sent.
    """
    queued = Notification.objects.filter(state=DeliveryState.QUEUED)
    ids = list(queued.values_list("pk", flat=True))
    if ids:
        tasks.deliver_notifications.enqueue(ids)


@pytest.fixture
def step(django_capture_on_commit_callbacks):
    """Run one step of a story and deliver its mail as the commit would; yields what it sent."""

    @contextmanager
    def run() -> Iterator[list]:
        deliver_earlier_mail()
        start = len(mail.outbox)
        sent: list = []
        with django_capture_on_commit_callbacks(execute=True):
            yield sent
        sent.extend(mail.outbox[start:])

    return run


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_related("status", "sla_plan", "department", "priority").get(
        pk=ticket.pk
    )


def user(username: str) -> User:
    """A fresh user, as a new request would load it (no cached access)."""
    return User.objects.get(username=username)


def to(person: User, sent: list) -> list:
    return [m for m in sent if person.email in m.to]


def history(ticket: Ticket) -> list[tuple[str, str]]:
    return [(e.kind, e.actor_name) for e in ticket.events.select_related("actor")]


def public_thread(ticket: Ticket) -> list[str]:
    """What the requester sees of the thread in the portal."""
    return [e.body_text for e in ticket.entries.exclude(kind=EntryKind.NOTE)]


# ---------------------------------------------------------------------------------------------


def test_scenario_1_outage_routed_to_the_right_team(
    org, clock, step, karen, john, jane, admin_user
):
    # 1. Karen submits under General Inquiry: a number at once and an acknowledgement carrying it.
    with step() as sent:
        ticket = actions.open_ticket(
            karen,
            requester=karen,
            subject="Mobile/online banking system down",
            body="Neither the app nor the website loads.",
            help_topic=org.topic("General Inquiry"),
        )
    created = ticket.created_at
    assert ticket.number and ticket.number != str(ticket.pk)
    ack = to(karen, sent)
    assert len(ack) == 1 and ticket.number in ack[0].subject and ticket.number in ack[0].body

    # 2. It is in John's Open queue with what the queue shows.
    row = (
        access.visible_tickets(john)
        .filter(state=State.OPEN)
        .select_related("requester", "priority", "assignee")
        .get(pk=ticket.pk)
    )
    assert (row.subject, row.requester, row.priority.name, row.assignee) == (
        "Mobile/online banking system down",
        karen,
        "normal",
        None,
    )
    assert row.department.name == "Support" and row.updated_at == created
    assert row.due_at == local(2026, 1, 22, 9, 0)  # Sev-C: Wed 10–17 and Thu 08–09

    # 3. John routes it; field changes first, the transfer last (after it he no longer sees it).
    clock.advance(minutes=5)
    actions.assign(john, ticket, team=org.team("Online Banking Team"))
    actions.set_sla_plan(john, ticket, org.sla("Sev-A"))
    assert ticket.due_at == created + timedelta(hours=1)
    actions.set_help_topic(john, ticket, org.topic("Business Critical Outage"))
    with step() as sent:
        actions.transfer(john, ticket, org.dept("Online Banking"))
    assert {m.to[0] for m in sent} >= {jane.email}  # transfer alert to the department
    with pytest.raises(access.TicketNotFound):
        access.access_ticket(user("john"), ticket.number)
    routed = history(ticket)
    for kind in (
        EventKind.ASSIGNED,
        EventKind.SLA,
        EventKind.DUE,
        EventKind.HELP_TOPIC,
        EventKind.TRANSFERRED,
    ):
        assert (kind, "John Smith") in routed

    # 4. Jane finds it in her team's queue and answers; Karen gets it by mail and in the portal.
    team_queue = access.visible_tickets(jane).filter(
        team=org.team("Online Banking Team"), state=State.OPEN
    )
    assert ticket in team_queue
    clock.advance(minutes=10)
    with step() as sent:
        actions.reply(jane, ticket, "We are on it.")
    assert len(to(karen, sent)) == 1 and "We are on it." in to(karen, sent)[0].body
    assert ticket.number in to(karen, sent)[0].subject
    assert fresh(ticket).first_responded_at == clock.now
    assert "We are on it." in public_thread(ticket)
    assert ticket in access.visible_tickets(karen)

    clock.advance(minutes=30)
    with step() as sent:
        actions.reply(
            jane,
            ticket,
            "Root cause: an expired certificate. Renewed.",
            status=org.status("Resolved"),
        )
    assert any("expired certificate" in m.body for m in to(karen, sent))

    # 5. Out of the open queues, resolved within SLA, history says who did what and when.
    ticket = fresh(ticket)
    assert ticket.state == State.RESOLVED and ticket.resolved_at == clock.now
    for person in (jane, admin_user):
        assert not access.visible_tickets(person).filter(pk=ticket.pk, state=State.OPEN).exists()
    assert ticket.resolved_at <= ticket.due_at
    events = list(ticket.events.all())
    assert [e.created_at for e in events] == sorted(e.created_at for e in events)
    assert events[0].kind == EventKind.CREATED and events[-1].kind == EventKind.STATUS
    assert events[-1].actor == jane and events[-1].after["name"] == "Resolved"


def test_scenario_2_low_impact_request_worked_by_the_first_agent(org, clock, step, ken, john):
    clock.now = local(2026, 1, 21, 15, 0)  # Wednesday afternoon
    with step() as sent:
        ticket = actions.open_ticket(
            ken,
            requester=ken,
            subject="Accounting needs an Adobe upgrade",
            body="Acrobat 2020 is out of support.",
            help_topic=org.topic("Hardware"),
        )
    assert ticket.number in to(ken, sent)[0].subject
    created = ticket.created_at

    clock.advance(minutes=15)
    actions.assign(john, ticket, agent=john)
    assert ticket in access.visible_tickets(john).filter(assignee=john, state=State.OPEN)
    actions.set_sla_plan(john, ticket, org.sla("Sev-C"))
    # Eight business hours from Wednesday 15:00: Wed 15–17, then Thursday 08–14.
    assert ticket.due_at == local(2026, 1, 22, 14, 0)
    assert ticket.due_at - created > timedelta(hours=8)
    due_event = ticket.events.filter(kind=EventKind.DUE).latest("id")
    assert due_event.reason == "SLA plan changed to Sev-C" and due_event.actor == john

    first = clock.advance(minutes=15)
    with step() as sent:
        actions.reply(john, ticket, "Ordered the licences; installing tomorrow.")
    assert len(to(ken, sent)) == 1 and ticket.number in to(ken, sent)[0].subject
    assert fresh(ticket).first_responded_at == first

    clock.now = local(2026, 1, 22, 11, 0)
    with step() as sent:
        actions.reply(
            john, ticket, "Done: Acrobat upgraded on all six PCs.", status=org.status("Resolved")
        )
    kinds = set(
        Notification.objects.filter(ticket=ticket, recipient=ken).values_list("kind", flat=True)
    )
    assert {NotificationKind.REPLY, NotificationKind.RESOLVED} <= kinds
    assert any("Acrobat upgraded" in m.body for m in to(ken, sent))
    ticket = fresh(ticket)
    assert ticket.state == State.RESOLVED and ticket.resolved_at <= ticket.due_at
    assert ticket.first_responded_at == first and ticket.assignee == john


def test_scenario_3_escalation_out_of_an_agents_reach(org, clock, greg, ken, john, admin_user):
    # 1. John works a ticket in Support under Sev-B and resolves it.
    laptop = actions.open_ticket(
        greg,
        requester=greg,
        subject="CFO's laptop will no longer turn on",
        body="No lights.",
    )
    assert laptop.department.name == "Support"
    actions.set_sla_plan(john, laptop, org.sla("Sev-B"))
    assert laptop.due_at == laptop.created_at + timedelta(hours=4)
    with pytest.raises(ValidationError) as caught:
        actions.transfer(john, laptop, org.dept("Support"))
    assert "already in Support" in str(caught.value)
    actions.assign(john, laptop, agent=john)
    actions.reply(john, laptop, "Replaced the power supply.", status=org.status("Resolved"))
    assert fresh(laptop).state == State.RESOLVED

    # 2. Another ticket John escalates to SysAdmins: it disappears from his view.
    switch = actions.open_ticket(
        ken,
        requester=ken,
        subject="Core switch in room 2 is down",
        body="Whole floor offline.",
    )
    actions.assign(john, switch, agent=john)
    actions.set_help_topic(john, switch, org.topic("Sev-A Emergency"))
    actions.transfer(john, switch, org.dept("SysAdmins"))
    assert fresh(switch).assignee is None
    released = switch.events.get(kind=EventKind.RELEASED)
    assert "no access to SysAdmins" in released.reason
    assert switch not in access.visible_tickets(user("john"))
    with pytest.raises(access.TicketNotFound):
        access.access_ticket(user("john"), switch.number)

    # 3. The administrator gives John view-only access to SysAdmins.
    DepartmentAccess.objects.create(
        agent=john.agent, department=org.dept("SysAdmins"), role=org.role("View only")
    )

    # 4. John sees it again, read-only: every change is refused and changes nothing.
    john = user("john")
    assert access.can(john, "view", switch)
    assert switch in access.visible_tickets(john)
    assert access.access_ticket(john, switch.number) == switch
    assert not any(access.explain(john, switch).allowed.values())
    writes = {
        "reply": lambda t: actions.reply(john, t, "On my way."),
        "note": lambda t: actions.add_note(john, t, "FYI"),
        "assign": lambda t: actions.assign(john, t, agent=user("jane")),
        "release": lambda t: actions.release(john, t),
        "transfer": lambda t: actions.transfer(john, t, org.dept("Support")),
        "status": lambda t: actions.set_status(john, t, org.status("Work in Progress")),
        "resolve": lambda t: actions.set_status(john, t, org.status("Resolved")),
        "reopen": lambda t: actions.reopen(john, t),
        "priority": lambda t: actions.set_priority(john, t, org.priority("low")),
        "sla": lambda t: actions.set_sla_plan(john, t, org.sla("Sev-C")),
        "topic": lambda t: actions.set_help_topic(john, t, org.topic("Hardware")),
        "due": lambda t: actions.set_due_time(john, t, local(2030, 1, 1, 9, 0)),
        "subject": lambda t: actions.set_subject(john, t, "Switch"),
        "collaborator": lambda t: actions.add_collaborator(john, t, greg),
        "merge": lambda t: actions.merge(john, t, laptop),
        "message": lambda t: actions.add_message(john, t, "Hello"),
    }
    version, event_count = fresh(switch).version, switch.events.count()
    entry_count = switch.entries.count()
    not_refused = []
    for name, write in writes.items():
        try:
            write(switch)
        except access.AccessDenied:
            continue
        not_refused.append(name)
    assert not_refused == []
    switch = fresh(switch)
    assert (switch.version, switch.events.count(), switch.entries.count()) == (
        version,
        event_count,
        entry_count,
    )
    assert switch.department.name == "SysAdmins" and switch.status.name == "Open"


def test_scenario_4_severity_corrected_downward_warm_hand_off(
    org, clock, step, greg, garnet, admin_user
):
    clock.now = local(2026, 1, 26, 9, 0)  # Monday 09:00
    ticket = actions.open_ticket(
        greg,
        requester=greg,
        subject="Laptop trackpad not working",
        body="The pointer does not move.",
        help_topic=org.topic("Sev-A Emergency"),
    )
    assert (ticket.department.name, ticket.sla_plan.name, ticket.priority.name) == (
        "SysAdmins",
        "Sev-A",
        "emergency",
    )
    assert ticket.due_at == local(2026, 1, 26, 10, 0)
    admin = user("admin")

    clock.advance(minutes=10)
    actions.set_sla_plan(admin, ticket, org.sla("Sev-C"))
    assert ticket.due_at == local(2026, 1, 26, 17, 0)  # 8 business hours from Monday 09:00
    actions.set_priority(admin, ticket, org.priority("low"))

    # Garnet has no access to SysAdmins (restricted): assigning her first is refused, clearly.
    version = fresh(ticket).version
    with pytest.raises(ValidationError) as caught:
        actions.assign(admin, ticket, agent=garnet)
    message = " ".join(caught.value.message_dict["assignee"])
    assert "Garnet Jones" in message and "SysAdmins" in message
    assert fresh(ticket).version == version and fresh(ticket).assignee is None

    actions.transfer(admin, ticket, org.dept("Support"))
    actions.assign(admin, ticket, agent=garnet, team=org.team("Level 1 Support"))
    with step() as sent:
        note = actions.add_note(admin, ticket, "Not an emergency: probably switched off (Fn+F7).")
    assert not to(greg, sent)
    assert not Notification.objects.filter(entry=note).exists()

    garnet = user("garnet")
    assert ticket in access.visible_tickets(garnet).filter(assignee=garnet)
    clock.advance(hours=1)
    with step() as sent:
        actions.reply(
            garnet,
            ticket,
            "Re-enabled the trackpad in Device Manager.",
            status=org.status("Resolved"),
        )
    assert any("Device Manager" in m.body for m in to(greg, sent))
    assert all("Fn+F7" not in m.body for m in mail.outbox if greg.email in m.to)

    # Greg sees his history and the ticket as resolved; never the internal note.
    mine = access.visible_tickets(greg).get(pk=ticket.pk)
    assert mine.state == State.RESOLVED
    assert public_thread(mine) == [
        "The pointer does not move.",
        "Re-enabled the trackpad in Device Manager.",
    ]
    # The administrator finds it under Closed.
    closed = access.visible_tickets(admin).filter(state__in=CLOSED_STATES)
    assert ticket in closed
    steps = history(ticket)
    for kind, who in [
        (EventKind.SLA, "Ada Admin"),
        (EventKind.PRIORITY, "Ada Admin"),
        (EventKind.TRANSFERRED, "Ada Admin"),
        (EventKind.ASSIGNED, "Ada Admin"),
        (EventKind.NOTE, "Ada Admin"),
        (EventKind.REPLIED, "Garnet Jones"),
        (EventKind.STATUS, "Garnet Jones"),
    ]:
        assert (kind, who) in steps


def test_scenario_5_severity_corrected_upward(org, clock, step, jane):
    guest = User.objects.create_user(
        "jane.doe@example.com", email="jane.doe@example.com", name="Jane Doe"
    )
    assert not guest.has_usable_password()
    with step() as sent:
        ticket = actions.open_ticket(
            guest,
            requester=guest,
            subject="Payment portal returns 404",
            body="I cannot pay my bill.",
            department=org.dept("Online Banking"),
            priority=org.priority("normal"),
        )
    assert ticket.sla_plan.name == "Sev-B" and ticket.due_at == ticket.created_at + timedelta(
        hours=4
    )
    assert ticket.number in to(guest, sent)[0].subject

    clock.advance(minutes=3)
    actions.set_sla_plan(jane, ticket, org.sla("Sev-A"))
    actions.set_priority(jane, ticket, org.priority("high"))
    with step() as sent:
        actions.reply(jane, ticket, "Fixed the payment page; please try again.")
    ticket = fresh(ticket)
    assert ticket.due_at == ticket.created_at + timedelta(hours=1)
    assert ticket.first_responded_at - ticket.created_at == timedelta(minutes=3)
    assert ticket.first_responded_at <= ticket.due_at
    assert "Fixed the payment page" in to(guest, sent)[0].body


def test_scenario_7_waiting_on_the_requester(org, clock, step, settings, karen, ken, john):
    settings.HELPLINE_PENDING_AUTO_CLOSE_DAYS = 7
    ticket = actions.open_ticket(
        karen,
        requester=karen,
        subject="Shared mailbox missing",
        body="Since today.",
        help_topic=org.topic("General Inquiry"),
    )
    assert ticket.due_at == local(2026, 1, 22, 9, 0)  # Sev-C from Wednesday 10:00

    # The agent asks for details and sets Pending: the clock stops.
    paused = clock.now = local(2026, 1, 21, 11, 0)
    actions.reply(john, ticket, "Which mailbox exactly?", status=org.status("Pending"))
    assert ticket.state == State.PENDING and ticket.paused_at == paused
    assert SLAPause.objects.filter(ticket=ticket, ended_at__isnull=True).count() == 1
    assert not actions.mark_overdue(ticket, local(2026, 1, 23, 9, 0))  # long past the old due

    # Karen answers the next morning: Open again, the due time moves by the time spent waiting.
    resumed = clock.now = local(2026, 1, 22, 10, 0)
    actions.add_message(karen, ticket, "accounting@, the shared one.")
    ticket = fresh(ticket)
    assert ticket.status.name == "Open" and ticket.paused_at is None
    waited = business_time_between(ticket.sla_plan.calendar(), paused, resumed)
    assert waited == timedelta(hours=8)  # Wed 11–17, Thu 08–10
    assert ticket.due_at == local(2026, 1, 22, 17, 0)
    assert (
        business_time_between(ticket.sla_plan.calendar(), local(2026, 1, 22, 9, 0), ticket.due_at)
        == waited
    )
    due_event = ticket.events.filter(kind=EventKind.DUE).latest("id")
    assert "waiting on the requester" in due_event.reason

    # Another ticket is left Pending past the configured days: closed, with a note to Ken.
    forgotten = actions.open_ticket(
        ken,
        requester=ken,
        subject="New headset",
        body="Mine is broken.",
    )
    actions.reply(john, forgotten, "Wired or wireless?", status=org.status("Pending"))
    clock.advance(days=6)
    assert tasks.sweep_pending.enqueue().return_value == 0
    clock.advance(days=2)
    with step() as sent:
        assert tasks.sweep_pending.enqueue().return_value == 1
    forgotten = fresh(forgotten)
    assert forgotten.state == State.CLOSED and forgotten.closed_at == clock.now
    assert "7 days" in forgotten.events.filter(kind=EventKind.STATUS).latest("id").reason
    note = to(ken, sent)
    assert len(note) == 1 and forgotten.number in note[0].subject
    assert note[0].extra_headers["Auto-Submitted"].startswith("auto-")
    assert fresh(ticket).state == State.OPEN  # Karen's answered ticket is left alone
