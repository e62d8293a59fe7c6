"""Scenario 7: waiting on the requester.

John asks Karen for details and sets Pending: the SLA clock stops. Karen answers in the portal:
the ticket is Open again and its due time moved later by the time spent waiting. A second
ticket left Pending is closed by the auto-close sweep, with a note to Karen by mail.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from helpline.tickets.sweeps import close_stale_pending
from tests.scenarios.helpers import (
    header_time,
    history,
    mail_to,
    portal_my_ticket,
    portal_open_ticket,
    portal_reply,
    portal_status,
    send_reply,
    staff_ticket,
)

pytestmark = [pytest.mark.browser]

KAREN = "karen@example.com"


def test_scenario_7_waiting_on_the_requester(page, site, sign_in):
    # Hardware is Sev-B, counted round the clock: any time spent waiting moves the due time.
    sign_in("karen", portal=True)
    waiting = portal_open_ticket(
        page,
        site,
        topic="Hardware",
        subject="Docking station drops the second screen",
        message="The right-hand screen goes black a few times an hour.",
    )
    forgotten = portal_open_ticket(
        page,
        site,
        topic="Hardware",
        subject="Keyboard missing a key",
        message="The F5 key came off.",
    )

    # John asks for details and sets Pending: the page shows the clock stopped.
    sign_in("john")
    staff_ticket(page, site, waiting)
    due_before = header_time(page, "Due")
    send_reply(page, "Which docking station model is it? The label is underneath.", "Pending")
    expect(page.locator("#ticket-status")).to_have_text("Pending")
    expect(page.locator("#ticket-due")).to_contain_text(
        "SLA clock paused: waiting on the requester"
    )
    staff_ticket(page, site, forgotten)
    send_reply(page, "Is it the laptop's keyboard or an external one?", status="Pending")
    expect(page.locator("#ticket-status")).to_have_text("Pending")

    # Karen answers in the portal: the ticket is Open again.
    sign_in("karen", portal=True)
    portal_my_ticket(page, site, waiting)
    expect(page.locator(".state-note")).to_have_text("We are waiting for your answer: reply below.")
    portal_reply(page, "It is a Dell WD19, firmware 01.00.14.")
    expect(portal_status(page)).to_have_text("Open")

    # The clock runs again, and the due time moved later by the time spent waiting.
    sign_in("john")
    staff_ticket(page, site, waiting)
    expect(page.locator("#ticket-status")).to_have_text("Open")
    expect(page.locator("#ticket-due")).not_to_contain_text("paused")
    due_after = header_time(page, "Due")
    assert due_after > due_before, (due_before, due_after)
    assert due_after - due_before < timedelta(minutes=5)
    expect(history(page)).to_contain_text("SLA clock resumed after")
    expect(history(page)).to_contain_text("waiting on the requester")

    # Two weeks later the forgotten ticket is closed by the sweep, with a note to Karen.
    mail_before = len(mail_to(KAREN))
    assert close_stale_pending(now=timezone.now() + timedelta(days=15)) == 1
    notes = mail_to(KAREN)[mail_before:]
    assert len(notes) == 1 and forgotten in notes[0].body, [m.subject for m in notes]
    assert "closed" in notes[0].body
    staff_ticket(page, site, forgotten)
    expect(page.locator("#ticket-status")).to_have_text("Closed")
    expect(history(page)).to_contain_text("No answer from the requester for 14 days")
    staff_ticket(page, site, waiting)
    expect(page.locator("#ticket-status")).to_have_text("Open")

    sign_in("karen", portal=True)
    portal_my_ticket(page, site, forgotten, tab="Closed")
    expect(portal_status(page)).to_have_text("Closed")
