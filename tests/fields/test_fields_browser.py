"""In the browser: choosing the Hardware topic brings its fields without a reload (htmx); Karen
fills them in; John sees them on the ticket page and ticks "Replacement approved"."""

import pytest
from playwright.sync_api import expect

from tests.scenarios.helpers import history, portal_my_ticket, staff_ticket

pytestmark = [pytest.mark.browser]


def test_hardware_fields_from_the_portal_to_the_agent(page, site, sign_in):
    sign_in("karen", portal=True)
    page.goto(f"{site}/")
    page.get_by_role("link", name="Open a new ticket").click()
    fields = page.locator("#topic-fields")
    expect(fields.get_by_label("Asset tag")).to_have_count(0)
    # A marker on the window survives only if the page is not reloaded.
    page.evaluate("window.__sameDocument = true")

    page.get_by_label("Help topic").select_option(label="Hardware")
    expect(fields.get_by_label("Asset tag")).to_be_visible()
    expect(fields.get_by_text("On the sticker.")).to_be_visible()
    expect(fields.get_by_label("Device")).to_be_visible()
    expect(page.get_by_label("Replacement approved")).to_have_count(0)  # Agents only.
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"

    # Another topic takes the fields away again, still in place.
    page.get_by_label("Help topic").select_option(label="General Inquiry")
    expect(fields.get_by_label("Asset tag")).to_have_count(0)
    page.get_by_label("Help topic").select_option(label="Hardware")
    assert page.evaluate("window.__sameDocument === true")

    fields.get_by_label("Asset tag").fill("HL-0042")
    fields.get_by_label("Device").select_option("Laptop")
    page.get_by_label("Subject", exact=True).fill("Laptop screen flickers")
    page.get_by_label("Message", exact=True).fill("Since the last update.")
    page.get_by_role("button", name="Open ticket").click()
    expect(page.get_by_role("heading", name="Thank you: your ticket is open")).to_be_visible()
    number = page.locator("[data-ticket-number]").get_attribute("data-ticket-number")
    assert number

    portal_my_ticket(page, site, number)
    head = page.locator(".portal-ticket-head")
    expect(head.locator('[data-field="asset_tag"]')).to_have_text("HL-0042")
    expect(head.locator('[data-field="device"]')).to_have_text("Laptop")
    expect(page.get_by_text("Replacement approved")).to_have_count(0)

    sign_in("john")
    staff_ticket(page, site, number)
    header = page.locator(".ticket-head")
    expect(header.locator('[data-field="asset_tag"]')).to_have_text("HL-0042")
    expect(header.locator('[data-field="device"]')).to_have_text("Laptop")
    expect(header.locator('[data-field="approved"]')).to_have_count(0)

    card = page.locator("#fields")
    expect(card.get_by_label("Asset tag")).to_have_value("HL-0042")
    approved = card.get_by_label("Replacement approved")
    expect(approved).not_to_be_checked()
    approved.check()
    card.get_by_role("button", name="Save fields").click()
    expect(page.locator(".messages")).to_contain_text("Fields saved.")
    expect(header.locator('[data-field="approved"]')).to_contain_text("Yes")
    expect(header.locator('[data-field="approved"]')).to_contain_text("(agents only)")
    expect(page.locator("#fields").get_by_label("Replacement approved")).to_be_checked()
    expect(history(page)).to_contain_text("John Smith set approved to yes")

    # Back on the portal, Karen still sees only her two values.
    sign_in("karen", portal=True)
    portal_my_ticket(page, site, number)
    expect(page.locator(".portal-ticket-head .custom-field")).to_have_count(2)
    expect(page.get_by_text("Replacement approved")).to_have_count(0)
