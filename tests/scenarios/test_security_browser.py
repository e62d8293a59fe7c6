"""Hostile text typed into the portal stays text on every page that shows it.

A guest puts HTML and script in the subject, the message, their name and an attachment's file
name; the portal's ticket page, the agent's ticket page, the queue and the admin panel's ticket
page show it as text. Any dialog or script error fails the test (the harness's page hook), and
no injected element may exist in the page. A requester cannot open someone else's ticket by URL.
"""

import pytest
from playwright.sync_api import Page, expect

from helpline.accounts.demo import DEMO_PASSWORD
from tests.scenarios.helpers import (
    admin_sign_in,
    portal_open_ticket,
    queue_row,
    sidebar_queue,
    staff_ticket,
)

pytestmark = [pytest.mark.browser]

SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(1)>"
NAME = f"Mallory {SCRIPT}"
SUBJECT = f"Printer {IMAGE} jammed"
MESSAGE = f"Paper stuck {SCRIPT} and {IMAGE} in tray 2"
FILE_NAME = f"{IMAGE}.txt"
MALLORY = "mallory@example.com"


def assert_nothing_injected(page: Page) -> None:
    """No element made from the typed HTML: no <img src=x>, no inline script calling alert."""
    expect(page.locator("img[src='x']")).to_have_count(0)
    expect(page.locator("script:not([src])", has_text="alert(1)")).to_have_count(0)


def test_html_typed_in_the_portal_is_shown_as_text_everywhere(page, site, sign_in, settings):
    settings.HELPLINE_GUEST_LINK_SHOWN = True
    page.context.clear_cookies()
    number = portal_open_ticket(
        page,
        site,
        name=NAME,
        email=MALLORY,
        topic="Hardware",
        subject=SUBJECT,
        message=MESSAGE,
        files=[{"name": FILE_NAME, "mimeType": "text/plain", "buffer": b"tray 2 log\n"}],
    )

    # The portal's ticket page, opened through the guest link.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Check status").click()
    page.get_by_label("Email address").fill(MALLORY)
    page.get_by_label("Ticket number").fill(number)
    page.get_by_role("button", name="Email me a link").click()
    page.locator(".guest-link-shown a").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(SUBJECT)
    expect(page).to_have_title(f"#{number} {SUBJECT} · Helpline")
    expect(page.locator(".portal-ticket-head")).to_contain_text(NAME)
    expect(page.locator(".thread .body")).to_have_text(MESSAGE)
    expect(page.locator(".thread .attachments a")).to_have_text(FILE_NAME)
    assert_nothing_injected(page)

    # The agent panel: the queue and the ticket page.
    sign_in("john")
    sidebar_queue(page, "Open")
    row = queue_row(page, number)
    expect(row.locator("td.subject")).to_have_text(SUBJECT)
    expect(row).to_contain_text(NAME)
    assert_nothing_injected(page)
    staff_ticket(page, site, number)
    expect(page.locator("#ticket-subject")).to_have_text(SUBJECT)
    expect(page.locator("#requester")).to_contain_text(NAME)
    expect(page.locator("#thread article .body")).to_have_text(MESSAGE)
    expect(page.locator("#thread article .attachments a")).to_have_text(FILE_NAME)
    expect(page.locator("#thread")).to_contain_text(f"{NAME} opened the ticket")
    assert_nothing_injected(page)

    # The admin panel's ticket page.
    admin_sign_in(page, site, "admin", DEMO_PASSWORD)
    page.goto(f"{site}/admin/tickets/ticket/")
    page.locator("#searchbar").fill(number)
    page.locator("#searchbar").press("Enter")
    page.get_by_role("link", name=number, exact=True).click()
    expect(page.locator(".field-subject .readonly")).to_have_text(SUBJECT)
    expect(page.locator(".field-requester .readonly")).to_contain_text(NAME)
    expect(page.locator(".access-explanation")).to_contain_text(NAME)
    assert_nothing_injected(page)


def test_a_requester_cannot_open_another_requesters_ticket(page, site, sign_in):
    sign_in("karen", portal=True)
    number = portal_open_ticket(
        page,
        site,
        topic="General Inquiry",
        subject="Salary statement for October",
        message="Please resend my October salary statement.",
    )
    page.get_by_role("link", name=f"View ticket #{number}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Salary statement for October")

    sign_in("ken", portal=True)
    response = page.goto(f"{site}/tickets/{number}/")
    assert response.status == 404
    expect(page.get_by_text("Salary statement")).to_have_count(0)
    # A number that does not exist looks the same.
    assert page.goto(f"{site}/tickets/X{number}/").status == 404
