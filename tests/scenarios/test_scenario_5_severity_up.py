"""Scenario 5: severity corrected upward, answered at once.

Jane Doe, a customer without an account, files a normal Sev-B ticket; John raises it to Sev-A
and answers straight away; the first response is recorded; Jane Doe reads the answer through
the link "Check status" sends her.
"""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from helpline.tickets.models import Ticket
from tests.scenarios.helpers import (
    header_time,
    history,
    mail_to,
    open_from_queue,
    portal_open_ticket,
    route,
    send_reply,
    sidebar_queue,
)

pytestmark = [pytest.mark.browser]

JANE_DOE = "jane.doe@example.com"
ANSWER = "We can reproduce the 404 on the payment page and are fixing it now."


def test_scenario_5_severity_corrected_upward(page, site, sign_in, settings):
    settings.HELPLINE_GUEST_LINK_SHOWN = True
    page.context.clear_cookies()
    number = portal_open_ticket(
        page,
        site,
        name="Jane Doe",
        email=JANE_DOE,
        topic="Hardware",
        subject="Portal returns 404, cannot pay",
        message="Every time I press Pay, your portal shows 'Page not found'.",
    )
    expect(page.locator(".confirmation")).to_contain_text(JANE_DOE)
    assert any(number in m.subject for m in mail_to(JANE_DOE)), "no acknowledgement"

    # John finds it, raises it to Sev-A and a high priority, and answers at once.
    sign_in("john")
    sidebar_queue(page, "Open")
    open_from_queue(page, number)
    expect(page.locator("#ticket-sla")).to_have_text("Sev-B")
    expect(page.locator("#ticket-priority")).to_have_text("normal")
    expect(page.locator("#ticket-first-response")).not_to_contain_text("answered")
    route(page, sla_plan="Sev-A", priority="high")
    expect(page.locator("#ticket-sla")).to_have_text("Sev-A")
    expect(page.locator("#ticket-priority")).to_have_text("high")
    created, due = header_time(page, "Created"), header_time(page, "Due")
    assert abs(due - created - timedelta(hours=1)) < timedelta(seconds=1), (created, due)
    expect(history(page)).to_contain_text("John Smith changed the SLA plan from Sev-B to Sev-A")
    expect(history(page)).to_contain_text("John Smith changed the priority from normal to high")
    send_reply(page, ANSWER)

    # The first response is recorded: on the page, and in the ticket's record.
    expect(page.locator("#ticket-first-response")).to_contain_text("answered")
    ticket = Ticket.objects.get(number=number)
    reply = ticket.entries.get(kind="reply")
    assert ticket.first_responded_at == reply.created_at
    assert ticket.first_responded_at - ticket.created_at < timedelta(hours=1)
    assert any(ANSWER in m.body for m in mail_to(JANE_DOE)), "the reply was not mailed"

    # Jane Doe follows her ticket without an account: "Check status" sends a link.
    page.context.clear_cookies()
    page.goto(f"{site}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Check status").click()
    page.get_by_label("Email address").fill(JANE_DOE)
    page.get_by_label("Ticket number").fill(number)
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert any(number in m.body for m in mail_to(JANE_DOE) if "link" in m.body.lower())
    page.locator(".guest-link-shown a").click()
    expect(page.locator(".ticket-ref")).to_have_text(f"Ticket #{number}")
    expect(page.get_by_role("article", name="Reply from John Smith")).to_contain_text(ANSWER)
