"""What people do in the browser, in a few words: open a ticket, route it, reply, read history.

Everything here clicks and types through the pages. The only look-ups outside the browser are
the mail outbox (`mail_to`), which no page shows.
"""

import json
import re
from datetime import datetime

from django.core import mail
from playwright.sync_api import Locator, Page, expect

# ---------------------------------------------------------------------------------------------
# Client portal


def portal_open_ticket(
    page: Page,
    site: str,
    *,
    topic: str,
    subject: str,
    message: str,
    name: str | None = None,
    email: str | None = None,
    files: list | None = None,
) -> str:
    """Fill in "Open a new ticket" (name and email only as a guest); returns the number shown."""
    page.goto(f"{site}/")
    page.get_by_role("link", name="Open a new ticket").click()
    if name is not None:
        page.get_by_label("Your name").fill(name)
    if email is not None:
        page.get_by_label("Email address").fill(email)
    page.get_by_label("Help topic").select_option(label=topic)
    page.get_by_label("Subject", exact=True).fill(subject)
    page.get_by_label("Message", exact=True).fill(message)
    if files:
        page.get_by_label("Attachments").set_input_files(files)
    page.get_by_role("button", name="Open ticket").click()
    expect(page.get_by_role("heading", name="Thank you: your ticket is open")).to_be_visible()
    number = page.locator("[data-ticket-number]").get_attribute("data-ticket-number")
    assert number, "the confirmation page shows no ticket number"
    expect(page.locator(".ticket-number")).to_have_text(f"#{number}")
    return number


def portal_my_ticket(page: Page, site: str, number: str, tab: str = "Open") -> None:
    """My tickets → the tab → the ticket's link: the portal's ticket page."""
    page.goto(f"{site}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My tickets").click()
    page.get_by_role("navigation", name="Ticket state").get_by_role("link", name=tab).click()
    page.get_by_role("link", name=f"#{number}", exact=True).click()
    expect(page.locator(".ticket-ref")).to_have_text(f"Ticket #{number}")


def portal_reply(page: Page, text: str) -> None:
    """Answer from the portal's ticket page."""
    page.get_by_label("Your reply").fill(text)
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".messages")).to_contain_text("Your reply")


def portal_status(page: Page) -> Locator:
    """The status badge of the portal's ticket page."""
    return page.locator(".portal-ticket-head .badge")


# ---------------------------------------------------------------------------------------------
# Agent panel


def sidebar_queue(page: Page, name: str) -> None:
    """Click a queue in the panel's sidebar (its count follows the name in the link)."""
    link_name = re.compile(rf"^{re.escape(name)} \d")
    page.get_by_role("navigation", name="Queues").get_by_role("link", name=link_name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def queue_row(page: Page, number: str) -> Locator:
    """The queue table's row of ticket `number`."""
    link = page.get_by_role("link", name=f"#{number}", exact=True)
    return page.locator("#queue-table tbody tr").filter(has=link)


def open_from_queue(page: Page, number: str) -> None:
    queue_row(page, number).get_by_role("link", name=f"#{number}", exact=True).click()
    expect(page.locator("#ticket-page")).to_have_attribute("data-number", number)


def staff_ticket(page: Page, site: str, number: str) -> None:
    """Open the agent panel's ticket page by its address."""
    page.goto(f"{site}/staff/tickets/{number}/")
    expect(page.locator("#ticket-page")).to_have_attribute("data-number", number)


def route(page: Page, **choices: str) -> None:
    """Pick values in the Route form (by label, e.g. Department="Online Banking") and apply."""
    labels = {
        "department": "Department",
        "agent": "Agent",
        "team": "Team",
        "sla_plan": "SLA plan",
        "priority": "Priority",
        "help_topic": "Help topic",
    }
    form = page.locator("#route-form")
    for key, value in choices.items():
        form.get_by_label(labels[key], exact=True).select_option(label=value)
    form.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()


def send_reply(page: Page, text: str, status: str | None = None) -> None:
    """Write a reply to the requester, optionally setting a status, and send it."""
    page.locator("#reply-tab").click()
    form = page.locator("#reply-form")
    form.get_by_label("Reply", exact=True).fill(text)
    if status is not None:
        form.get_by_label("Set status on reply").select_option(label=status)
    form.get_by_role("button", name="Send reply").click()
    expect(page.locator(".messages")).to_contain_text("Reply sent to")


def add_note(page: Page, text: str) -> None:
    """Add an internal note through the compose box's "Internal note" tab."""
    page.locator("#note-tab").click()
    form = page.locator("#note-form")
    form.get_by_label("Internal note", exact=True).fill(text)
    form.get_by_role("button", name="Add internal note").click()
    expect(page.locator(".messages")).to_contain_text("Internal note added.")


def change_status(page: Page, status: str) -> None:
    form = page.locator("#status-form")
    form.get_by_label("Status", exact=True).select_option(label=status)
    form.get_by_role("button", name="Change status").click()
    expect(page.locator(".messages")).to_contain_text(f"Status set to {status}.")


def history(page: Page) -> Locator:
    """The ticket's thread, events included (the "Show history" switch is on by default)."""
    return page.locator("#thread")


def header_time(page: Page, label: str) -> datetime:
    """The exact time behind a header field ("Due", "Created"…), from its <time datetime>."""
    stamp = page.locator(f"#ticket-header dt:text-is('{label}') + dd time").first
    return datetime.fromisoformat(stamp.get_attribute("datetime"))


def csrf_token(page: Page) -> str:
    """The CSRF token the page carries (the panel sends it as htmx's X-CSRFToken header)."""
    headers = page.locator("body").get_attribute("hx-headers")
    return json.loads(headers)["X-CSRFToken"]


# ---------------------------------------------------------------------------------------------
# Admin panel


def admin_sign_in(page: Page, site: str, username: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{site}/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Configure the help desk")).to_be_visible()


# ---------------------------------------------------------------------------------------------
# Mail (no page shows it: read back from the test outbox)


def mail_to(address: str) -> list:
    """Messages sent to `address` so far."""
    return [m for m in mail.outbox if address in m.to]
