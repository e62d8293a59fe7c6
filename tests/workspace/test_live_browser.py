"""Two agents in Chromium at once (John and Jane): live entries and queue rows, presence,
drafts across a navigation, claim by keyboard, and a refused @mention."""

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from helpline.accounts.models import User
from helpline.tickets import actions
from helpline.tickets.models import HelpTopic, Ticket

pytestmark = pytest.mark.browser
LIVE = 3_000  # ms: "within 3 s"


def _signed_in(browser, site, username):
    client = Client()
    client.force_login(User.objects.get(username=username))
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    cookie = client.cookies["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": site}])
    return context


def _open_for(requester: str, subject: str, topic: str = "General Inquiry") -> Ticket:
    karen = User.objects.get(username=requester)
    return actions.open_ticket(
        karen, requester=karen, subject=subject, body="Please help.",
        help_topic=HelpTopic.objects.get(name=topic),
    )  # fmt: skip


def test_two_agents_share_a_ticket_live(browser, site):
    john_user = User.objects.get(username="john")
    jane_user = User.objects.get(username="jane")
    ticket = _open_for("karen", "Card blocked abroad")
    # A Support ticket (John's department) assigned to Jane: both work it.
    actions.assign(john_user, ticket, agent=jane_user)
    url = f"{site}/staff/tickets/{ticket.number}/"

    john = _signed_in(browser, site, "john").new_page()
    jane_context = _signed_in(browser, site, "jane")
    jane = jane_context.new_page()
    jane_queue = jane_context.new_page()
    jane_queue.goto(f"{site}/staff/queues/open/")
    john.goto(url)
    jane.goto(url)

    # Presence: John sees Jane viewing, then replying once she types.
    expect(john.locator("#presence")).to_contain_text("viewing", timeout=LIVE + 9_000)
    jane.locator("#reply-form textarea[name=body]").fill("Dear Karen, I am checking")
    expect(john.locator("#presence")).to_contain_text("replying", timeout=LIVE + 2_000)

    # The draft survives a navigation; leaving clears her presence on John's page.
    jane.wait_for_timeout(900)
    jane.goto(f"{site}/staff/queues/open/")
    expect(john.locator("#presence")).not_to_contain_text("Jane", timeout=LIVE + 2_000)
    jane.goto(url)
    expect(jane.locator("#reply-form textarea[name=body]")).to_have_value(
        "Dear Karen, I am checking"
    )

    # John replies: it appears on Jane's ticket page (marked new) and in her queue.
    john.locator("#reply-form textarea[name=body]").fill("We unblocked the card.")
    john.locator("#send-reply").click()
    new_entry = jane.locator("#thread article.new", has_text="We unblocked the card.")
    expect(new_entry).to_be_visible(timeout=LIVE)
    row = jane_queue.locator(f"tr[data-number='{ticket.number}']")
    expect(row).to_have_class(re.compile("unread"), timeout=LIVE)


def test_claim_with_the_keyboard_and_a_refused_mention(browser, site):
    ticket = _open_for("ken", "Printer on fire")
    page = _signed_in(browser, site, "john").new_page()
    page.goto(f"{site}/staff/queues/unassigned/")
    row = page.locator(f"tr[data-number='{ticket.number}']")
    expect(row).to_be_visible()
    position = page.locator("table.queue tbody tr[data-number]").evaluate_all(
        f"(rows) => rows.findIndex(r => r.dataset.number === '{ticket.number}')"
    )
    for _ in range(position + 1):
        page.keyboard.press("j")
    page.keyboard.press("c")
    expect(page.locator(".messages")).to_contain_text(f"#{ticket.number} is assigned to you")
    ticket.refresh_from_db()
    assert ticket.assignee.username == "john"

    page.goto(f"{site}/staff/tickets/{ticket.number}/?compose=note")
    page.locator("#note-form textarea[name=body]").fill("@jane can you look at this?")
    page.locator("#add-note").click()
    expect(page.locator("#note-form")).to_contain_text("cannot see this ticket")
    expect(page.locator("#note-form textarea[name=body]")).to_have_value(
        "@jane can you look at this?"
    )
