"""SLA plans applied to tickets: due times over business hours, holidays, plan changes, manual due
times and first-response targets, computed by the action layer from the ticket's creation.
"""

from datetime import date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from helpline.sla.models import Holiday, SLAPlan
from helpline.tickets import actions
from helpline.tickets.models import EventKind, Ticket
from tests.conftest import NEW_YORK, local

FRIDAY_BEFORE_MLK = datetime(2026, 1, 16, 16, 30, tzinfo=NEW_YORK)


@pytest.fixture
def now(monkeypatch):
    """Pin the action layer's clock; returns a setter."""
    moment = {"now": local(2026, 1, 19, 12, 0)}  # MLK Day, noon: long after creation
    monkeypatch.setattr("helpline.tickets.actions.timezone.now", lambda: moment["now"])

    def set_to(value: datetime) -> datetime:
        moment["now"] = value
        return value

    return set_to


def open_sev_c(requester, org, created_at=FRIDAY_BEFORE_MLK, **kwargs) -> Ticket:
    return actions.open_ticket(
        requester,
        requester=requester,
        subject="Cannot print payslips",
        body="Since this morning.",
        help_topic=org.topic("General Inquiry"),
        created_at=created_at,
        **kwargs,
    )


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_related("sla_plan").get(pk=ticket.pk)


def test_sev_c_over_a_weekend_and_a_holiday(org, now, karen):
    ticket = open_sev_c(karen, org)
    assert ticket.sla_plan.name == "Sev-C"
    # Friday 16:30–17:00 is half an hour; Saturday, Sunday and Monday (MLK Day) do not count;
    # the remaining 7.5 hours run Tuesday 08:00–15:30.
    assert ticket.due_at == local(2026, 1, 20, 15, 30)
    assert ticket.due_at.astimezone(NEW_YORK).strftime("%a %H:%M") == "Tue 15:30"
    assert ticket.first_response_due_at is None
    created = ticket.events.get(kind=EventKind.CREATED)
    assert datetime.fromisoformat(created.after["due_at"]) == ticket.due_at
    assert created.after["sla_plan"]["name"] == "Sev-C"


def test_changing_the_plan_recomputes_from_creation_with_a_reason(org, now, karen, john):
    ticket = open_sev_c(karen, org)
    actions.set_sla_plan(john, ticket, org.sla("Sev-B"))
    # 4 hours around the clock from Friday 16:30, not from "now" (Monday noon).
    assert ticket.due_at == FRIDAY_BEFORE_MLK + timedelta(hours=4)
    sla_event = ticket.events.get(kind=EventKind.SLA)
    assert (sla_event.before["name"], sla_event.after["name"]) == ("Sev-C", "Sev-B")
    due_event = ticket.events.filter(kind=EventKind.DUE).latest("id")
    assert due_event.reason == "SLA plan changed to Sev-B" and due_event.actor == john
    assert datetime.fromisoformat(due_event.before["due_at"]) == local(2026, 1, 20, 15, 30)
    assert datetime.fromisoformat(due_event.after["due_at"]) == local(2026, 1, 16, 20, 30)

    actions.set_sla_plan(john, ticket, org.sla("Sev-C"))
    assert fresh(ticket).due_at == local(2026, 1, 20, 15, 30)
    assert ticket.events.filter(kind=EventKind.DUE).count() == 2


def test_a_due_time_set_by_hand_survives_a_plan_change(org, now, karen, john):
    ticket = open_sev_c(karen, org)
    promised = local(2026, 1, 21, 12, 0)
    actions.set_due_time(john, ticket, promised, reason="Promised to the CFO")
    assert ticket.due_at == promised and ticket.due_at_manual
    assert ticket.events.filter(kind=EventKind.DUE).latest("id").reason == "Promised to the CFO"

    actions.set_sla_plan(john, ticket, org.sla("Sev-A"))
    ticket = fresh(ticket)
    assert ticket.sla_plan.name == "Sev-A" and ticket.due_at == promised and ticket.due_at_manual

    # Back to the plan's due time on request.
    actions.set_due_time(john, ticket, None)
    ticket = fresh(ticket)
    assert not ticket.due_at_manual
    assert ticket.due_at == FRIDAY_BEFORE_MLK + timedelta(hours=1)


def test_a_due_time_without_a_time_zone_is_refused(org, now, karen, john):
    ticket = open_sev_c(karen, org)
    with pytest.raises(ValidationError) as caught:
        actions.set_due_time(john, ticket, datetime(2026, 1, 21, 12, 0))
    assert "due_at" in caught.value.message_dict
    assert fresh(ticket).due_at == local(2026, 1, 20, 15, 30)


def test_a_plan_with_a_first_response_target(org, now, karen, john):
    plan = SLAPlan.objects.create(
        name="Sev-C with first response",
        grace_hours=8,
        first_response_hours=2,
        schedule=org.sla("Sev-C").schedule,
        pause_when_pending=True,
    )
    ticket = open_sev_c(karen, org, sla_plan=plan)
    # Half an hour on Friday, then Tuesday 08:00–09:30.
    assert ticket.first_response_due_at == local(2026, 1, 20, 9, 30)
    assert ticket.due_at == local(2026, 1, 20, 15, 30)

    actions.set_sla_plan(john, ticket, org.sla("Sev-B"))
    assert fresh(ticket).first_response_due_at is None
    actions.set_sla_plan(john, ticket, plan)
    assert fresh(ticket).first_response_due_at == local(2026, 1, 20, 9, 30)


def test_a_pause_across_the_holiday_counts_business_time_only(org, now, karen, john):
    ticket = open_sev_c(karen, org)
    now(local(2026, 1, 16, 16, 45))
    actions.set_status(john, ticket, org.status("Pending"))
    now(local(2026, 1, 20, 9, 0))
    actions.add_message(karen, ticket, "Here is the printer name.")
    # Paused: Friday 16:45–17:00 and Tuesday 08:00–09:00 of working time; 1 h 15 min later.
    assert fresh(ticket).due_at == local(2026, 1, 20, 16, 45)


def test_an_extra_closed_day_of_the_schedule_counts(org, now, karen):
    schedule = org.sla("Sev-C").schedule
    Holiday.objects.create(schedule=schedule, date=date(2026, 1, 20), name="Office move")
    ticket = open_sev_c(karen, org)
    assert ticket.due_at == local(2026, 1, 21, 15, 30)


def test_business_hours_are_local_wall_time_across_daylight_saving(org, now, karen):
    # Clocks go forward on Sunday 2026-03-08 in New York.
    ticket = open_sev_c(karen, org, created_at=local(2026, 3, 6, 16, 30))
    assert ticket.due_at == local(2026, 3, 9, 15, 30)
    assert ticket.due_at.astimezone(NEW_YORK).utcoffset() == timedelta(hours=-4)


def test_a_plan_without_a_schedule_runs_around_the_clock(org, now, karen):
    plan = SLAPlan.objects.create(name="Two hours", grace_hours=2)
    ticket = open_sev_c(karen, org, sla_plan=plan)
    assert ticket.due_at == FRIDAY_BEFORE_MLK + timedelta(hours=2)


def test_no_plan_means_no_due_time(org, now, karen, john):
    ticket = open_sev_c(karen, org)
    now(local(2026, 1, 21, 9, 0))
    assert actions.mark_overdue(ticket, local(2026, 1, 21, 9, 0))
    actions.set_sla_plan(john, ticket, None)
    ticket = fresh(ticket)
    assert ticket.due_at is None and ticket.sla_plan is None and not ticket.is_overdue
    assert not actions.mark_overdue(ticket, local(2027, 1, 1, 0, 0))
