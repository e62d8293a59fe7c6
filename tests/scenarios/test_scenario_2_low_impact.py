"""Scenario 2: a low-impact request worked by the first agent who picks it up.

Ken asks in the portal for an Adobe upgrade; John takes it, sets Sev-C (business hours only),
replies twice and resolves it.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from helpline.sla.calendar import add_business_time
from helpline.sla.models import SLAPlan
from tests.scenarios.helpers import (
    change_status,
    header_time,
    history,
    mail_to,
    open_from_queue,
    portal_my_ticket,
    portal_open_ticket,
    portal_status,
    queue_row,
    route,
    send_reply,
    sidebar_queue,
)

pytestmark = [pytest.mark.browser]

SUBJECT = "Accounting needs an Adobe upgrade"
KEN = "ken@example.com"


def test_scenario_2_low_impact_request_worked_by_the_first_agent(page, site, sign_in):
    # Ken files it under Hardware (Sev-B, four hours round the clock): more urgent than it is.
    sign_in("ken", portal=True)
    number = portal_open_ticket(
        page,
        site,
        topic="Hardware",
        subject=SUBJECT,
        message="Acrobat on the three accounting PCs is two versions behind; please upgrade.",
    )

    # John takes it and sets Sev-C in one submit of the route form.
    sign_in("john")
    sidebar_queue(page, "Unassigned")
    open_from_queue(page, number)
    expect(page.locator("#ticket-sla")).to_have_text("Sev-B")
    route(page, agent="John Smith", sla_plan="Sev-C")
    expect(page.locator(".messages")).to_contain_text("assigned to John Smith")
    expect(page.locator("#ticket-assignee")).to_have_text("John Smith")
    expect(page.locator("#ticket-sla")).to_have_text("Sev-C")

    # The due time shown counts eight business hours (Mon–Fri 08–17, holidays off).
    created, due = header_time(page, "Created"), header_time(page, "Due")
    business = SLAPlan.objects.get(name="Sev-C").calendar()
    assert due == add_business_time(business, created, timedelta(hours=8)), (created, due)
    local_due = timezone.localtime(due)
    assert local_due.weekday() < 5 and 8 <= local_due.hour + local_due.minute / 60 <= 17
    expect(page.locator("#ticket-due")).to_contain_text(
        local_due.strftime("%d %b %Y, %H:%M").lstrip("0")
    )
    expect(history(page)).to_contain_text("John Smith changed the SLA plan from Sev-B to Sev-C")

    sidebar_queue(page, "My tickets")
    open_from_queue(page, number)
    update = "The new Acrobat is licensed; I install it on the three PCs this afternoon."
    send_reply(page, update, status="Work in Progress")
    expect(page.locator("#ticket-status")).to_have_text("Work in Progress")
    done = "Acrobat is upgraded on all three accounting PCs. Restart Acrobat once to finish."
    send_reply(page, done)
    change_status(page, "Resolved")
    expect(page.locator("#ticket-status")).to_have_text("Resolved")
    expect(history(page)).to_contain_text(
        "John Smith changed the status from Work in Progress to Resolved"
    )
    sidebar_queue(page, "My tickets")
    expect(queue_row(page, number)).to_have_count(0)

    # Ken got both replies by mail and reads them, and the outcome, in the portal.
    bodies = " ".join(m.body for m in mail_to(KEN))
    assert update in bodies and done in bodies
    sign_in("ken", portal=True)
    portal_my_ticket(page, site, number, tab="Closed")
    expect(portal_status(page)).to_have_text("Resolved")
    replies = page.get_by_role("article", name="Reply from John Smith")
    expect(replies).to_have_count(2)
    expect(replies.first).to_contain_text(update)
    expect(replies.last).to_contain_text(done)
