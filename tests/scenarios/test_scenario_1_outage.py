"""Scenario 1: an outage reported under the wrong topic is routed to the right team.

Karen (portal) → John (agent panel: queue, route form) → Jane (her team's queue, replies,
resolves) → Karen reads the answer in the portal → the dashboard counts it as resolved in SLA.
"""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.scenarios.helpers import (
    header_time,
    history,
    mail_to,
    open_from_queue,
    portal_my_ticket,
    portal_open_ticket,
    queue_row,
    route,
    send_reply,
    sidebar_queue,
    staff_ticket,
)

pytestmark = [pytest.mark.browser]

SUBJECT = "Mobile/online banking system down"
KAREN = "karen@example.com"


def test_scenario_1_outage_routed_to_the_right_team(page, site, sign_in):
    # 1. Karen submits the outage under General Inquiry and sees its number at once.
    sign_in("karen", portal=True)
    number = portal_open_ticket(
        page,
        site,
        topic="General Inquiry",
        subject=SUBJECT,
        message="Neither the app nor the website lets me sign in since 9:00.",
    )
    acks = [m for m in mail_to(KAREN) if number in m.subject]
    assert acks, f"no acknowledgement carrying #{number} in its subject"
    assert number in acks[0].body

    # 2. John mistypes his password: a plain message, and he stays on the sign-in page.
    page.context.clear_cookies()
    page.goto(f"{site}/staff/login/")
    page.get_by_label("Username or email").fill("john")
    page.get_by_label("Password").fill("not-my-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Wrong username or password. Check both and try again."
    )
    # Someone guessing at Garnet's account is stopped after five tries (John is not).
    for _ in range(5):
        page.get_by_label("Username or email").fill("garnet")
        page.get_by_label("Password").fill("guess")
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Too many failed sign-in attempts")).to_be_visible()

    sign_in("john")
    sidebar_queue(page, "Open")
    headers = page.locator("#queue-table thead th")
    for column in ("Number", "Last updated", "Subject", "Requester", "Priority", "Assigned to"):
        expect(headers.filter(has_text=column)).to_have_count(1)
    expect(headers.filter(has_text="Due")).to_have_count(1)
    row = queue_row(page, number)
    expect(row).to_have_count(1)
    cells = row.locator("td")
    expect(cells.nth(1)).to_have_text(f"#{number}")
    expect(cells.nth(2)).to_have_text(re.compile(r"^(just now|\d+ min ago)$"))
    expect(cells.nth(3)).to_have_text(SUBJECT)
    expect(cells.nth(4)).to_have_text("Karen Miller")
    expect(cells.nth(5)).to_have_text("normal")
    # Nobody has it yet: "—", and the one-click claim is offered.
    expect(cells.nth(6).locator(".muted")).to_have_text("—")
    expect(cells.nth(6).get_by_role("button", name="Assign to me")).to_be_visible()
    expect(cells.nth(7).locator("time")).to_have_text(re.compile(r"^\d{1,2} \w{3}, \d\d:\d\d$"))

    # 3. John routes it in one submit; the transfer comes last and takes it out of his reach.
    open_from_queue(page, number)
    expect(page.locator("#ticket-sla")).to_have_text("Sev-C")
    route(
        page,
        department="Online Banking",
        team="Online Banking Team",
        sla_plan="Sev-A",
        help_topic="Business Critical Outage",
    )
    expect(page.locator(".messages")).to_contain_text(
        f"Ticket #{number} transferred to Online Banking, assigned to Online Banking Team."
    )
    expect(page.locator(".messages")).to_contain_text("You no longer have access to it.")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.goto(f"{site}/staff/tickets/{number}/")
    expect(page.get_by_role("heading", name="No access")).to_be_visible()

    # 4. Jane finds it in her team's queue, with every change John made in its history.
    sign_in("jane")
    sidebar_queue(page, "My teams")
    expect(queue_row(page, number)).to_have_count(1)
    open_from_queue(page, number)
    expect(page.locator("#ticket-department")).to_have_text("Online Banking")
    expect(page.locator("#ticket-team")).to_have_text("Online Banking Team")
    expect(page.locator("#ticket-sla")).to_have_text("Sev-A")
    created, due = header_time(page, "Created"), header_time(page, "Due")
    assert abs(due - created - timedelta(hours=1)) < timedelta(seconds=1), (created, due)
    thread = history(page)
    expect(thread).to_contain_text("John Smith changed the SLA plan from Sev-C to Sev-A")
    expect(thread).to_contain_text(
        "John Smith changed the help topic from General Inquiry to Business Critical Outage"
    )
    expect(thread).to_contain_text("John Smith assigned the ticket to Online Banking Team")
    expect(thread).to_contain_text(
        "John Smith transferred the ticket from Support to Online Banking"
    )

    first_answer = "We know about the outage and are working on it: next update within the hour."
    send_reply(page, first_answer)
    assert any(first_answer in m.body for m in mail_to(KAREN)), "Karen got no reply by email"

    # Karen reads the answer in the portal.
    sign_in("karen", portal=True)
    portal_my_ticket(page, site, number)
    reply = page.get_by_role("article", name="Reply from Jane Lee")
    expect(reply).to_contain_text(first_answer)

    # Jane gives the root cause and resolves it in the same reply.
    sign_in("jane")
    staff_ticket(page, site, number)
    root_cause = "Root cause: an expired TLS certificate on the login service. Renewed at 10:40."
    send_reply(page, root_cause, status="Resolved")
    expect(page.locator("#ticket-status")).to_have_text("Resolved")
    assert any(root_cause in m.body for m in mail_to(KAREN))

    # 5. Out of the open queues; the history says who did what; the dashboard counts it.
    expect(thread).to_contain_text("Jane Lee changed the status from Open to Resolved")
    expect(page.get_by_role("article", name="Reply by Jane Lee")).to_have_count(2)
    when = re.compile(r"^\w{3} \d{1,2} \w{3} \d{4}, \d\d:\d\d$")
    expect(thread.locator(".event time").last).to_have_text(when)
    for queue in ("Open", "My teams"):
        sidebar_queue(page, queue)
        expect(queue_row(page, number)).to_have_count(0)
    sidebar_queue(page, "Resolved")
    expect(queue_row(page, number)).to_have_count(1)
    page.get_by_role("link", name="Dashboard").click()
    in_sla = page.locator(".kpi").filter(has_text="Resolved within SLA this week")
    expect(in_sla.locator(".n")).to_have_text("1")
    in_sla.click()
    expect(queue_row(page, number)).to_have_count(1)
