"""A help desk with a known two weeks of history (February 2026, New York time).

Times are set by patching the clock the action layer reads, and each step runs its on-commit
work (event listeners: business-time metrics, satisfaction surveys) right away, as in production.

The story, all in Support unless said otherwise ("Biz": 8 business hours Mon-Fri 08-17 with US
holidays, first response within 2; "Fast": 4 h around the clock, first response within 1 h):

- T6  Sun 8 Feb 10:00, Fast. Still open when the period ends; resolved on 25 Feb.
- T1  Fri 13 Feb 15:00, Biz. First reply Tue 17 Feb 09:00 (after the weekend and Presidents'
      Day), pending Tue 10:00-13:00, resolved Tue 15:00, reopened Wed 18 10:00, resolved 11:00.
- T2  Mon 16 Feb 09:00, Fast, assigned to John. Reply 09:30, resolved 12:00.
- T3  Tue 17 Feb 10:00, Fast. Reply 11:30, resolved 16:00.
- T4  Wed 18 Feb 08:00, SysAdmins, Fast. Marked overdue 12:30; still open.
- T5  Thu 19 Feb 09:00, Biz, transferred to Online Banking at 10:00; still open.
- T8  Tue 24 Feb 09:00, after the period; still open.
"""

from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from helpline.reports.periods import Period
from helpline.sla.models import Schedule, SLAPlan
from helpline.tickets import actions

NY = ZoneInfo("America/New_York")


def ny(day: int, hour: int, minute: int = 0, month: int = 2) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NY)


class Timeline:
    """Run actions at given times with their on-commit work done at that time too."""

    def __init__(self, monkeypatch, capture):
        self.now = ny(1, 0)
        self._capture = capture
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    @contextmanager
    def at(self, when: datetime):
        self.now = when
        with self._capture(execute=True):
            yield


@pytest.fixture
def timeline(monkeypatch, django_capture_on_commit_callbacks):
    return Timeline(monkeypatch, django_capture_on_commit_callbacks)


@pytest.fixture
def plans(demo):
    business = Schedule.objects.get(name="Business hours")
    always = Schedule.objects.get(name="24/7")
    biz = SLAPlan.objects.create(
        name="Biz", grace_hours=Decimal(8), first_response_hours=Decimal(2), schedule=business
    )
    fast = SLAPlan.objects.create(
        name="Fast", grace_hours=Decimal(4), first_response_hours=Decimal(1), schedule=always
    )
    return SimpleNamespace(biz=biz, fast=fast)


@pytest.fixture
def february(timeline, plans, org, admin_user, john, karen, greg):
    """The story above; returns the tickets by name and the period 9-22 Feb 2026."""
    support, sysadmins = org.dept("Support"), org.dept("SysAdmins")
    banking = org.dept("Online Banking")
    resolved, pending = org.status("Resolved"), org.status("Pending")

    def open_(when, dept=support, plan=plans.fast, requester=karen, subject="Help"):
        with timeline.at(when):
            return actions.open_ticket(
                admin_user, requester=requester, subject=subject, body="Please help.",
                department=dept, sla_plan=plan, created_at=when,
            )  # fmt: skip

    t = SimpleNamespace()
    t.t6 = open_(ny(8, 10), subject="T6")
    t.t1 = open_(ny(13, 15), plan=plans.biz, subject="T1")
    with timeline.at(ny(17, 9)):
        actions.reply(admin_user, t.t1, "Looking into it.")
    with timeline.at(ny(17, 10)):
        actions.set_status(admin_user, t.t1, pending)
    with timeline.at(ny(17, 13)):
        actions.add_message(karen, t.t1, "Here is the screenshot.")
    with timeline.at(ny(17, 15)):
        actions.set_status(admin_user, t.t1, resolved)
    with timeline.at(ny(18, 10)):
        actions.add_message(karen, t.t1, "It is broken again.")
    with timeline.at(ny(18, 11)):
        actions.set_status(admin_user, t.t1, resolved)

    t.t2 = open_(ny(16, 9), subject="T2")
    with timeline.at(ny(16, 9, 10)):
        actions.assign(admin_user, t.t2, agent=john)
    with timeline.at(ny(16, 9, 30)):
        actions.reply(admin_user, t.t2, "On it.")
    with timeline.at(ny(16, 12)):
        actions.set_status(admin_user, t.t2, resolved)

    t.t3 = open_(ny(17, 10), subject="T3")
    with timeline.at(ny(17, 11, 30)):
        actions.reply(admin_user, t.t3, "On it.")
    with timeline.at(ny(17, 16)):
        actions.set_status(admin_user, t.t3, resolved)

    t.t4 = open_(ny(18, 8), dept=sysadmins, requester=greg, subject="T4")
    with timeline.at(ny(18, 12, 30)):
        actions.mark_overdue(t.t4)

    t.t5 = open_(ny(19, 9), plan=plans.biz, subject="T5")
    with timeline.at(ny(19, 10)):
        actions.transfer(admin_user, t.t5, banking)

    t.t8 = open_(ny(24, 9), subject="T8")
    with timeline.at(ny(25, 9)):
        actions.set_status(admin_user, t.t6, resolved)

    timeline.now = ny(10, 12, month=3)
    for ticket in vars(t).values():
        ticket.refresh_from_db()
    period = Period(ny(9, 0).date(), ny(22, 0).date(), NY)
    return SimpleNamespace(tickets=t, period=period, now=timeline.now)
