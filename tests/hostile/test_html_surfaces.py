"""The wide net, no browser: every payload × every surface that shows it, checked in the HTML.

The `desk` fixture (conftest.py) sends the whole corpus in through the portal, email, the API,
the agent panel, the satisfaction survey and custom fields. Each test here visits one kind of
page for every ticket, person or search that carries a payload and fails naming the payload,
the surface and what was found: a dangerous fragment unescaped, or a place where a browser would
run a marker (scan.py). Every page must also answer without a server error.
"""

import re
from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.core.cache import cache
from django.test import Client

from helpline.accounts.models import User
from helpline.automation.models import CannedResponse
from helpline.mail.models import ReceivedMail
from helpline.tickets import actions
from helpline.tickets.models import Attachment, Event, EventKind, Notification, Ticket
from tests.hostile.corpus import ADDRESS_PAYLOADS, PAYLOADS
from tests.hostile.desk import CUSTOM_FIELD, signed_in
from tests.hostile.mailcheck import header_problems, html_parts
from tests.hostile.scan import Problems

pytestmark = pytest.mark.django_db

TICKET_CHANNELS = ("portal", "mail", "api")
NEXT_PAGE = re.compile(r'<a class="btn secondary" rel="next" href="([^"]+)"')


@pytest.fixture
def problems():
    return Problems()


@pytest.fixture
def as_user():
    """as_user("john") → a client signed in as that user (made once per test)."""
    made = {}

    def make(username: str) -> Client:
        if username not in made:
            made[username] = signed_in(User.objects.get(username=username))
        return made[username]

    return make


@pytest.fixture
def visitor():
    """One client for many people in turn (making a client loads the middleware: slow)."""
    return Client()


def test_every_channel_took_the_corpus_in(desk):
    """The wide net only means something if the payloads landed: each channel made a ticket
    for every payload it accepts, and refused the rest with a clear answer."""
    refused = {
        (item.channel, item.payload.pid): item.refused for item in desk.landed if item.refused
    }
    # NUL characters are refused by the forms and the API (a message, not a crash).
    assert refused.pop(("portal", "p40"), "").startswith("form answered 200")
    assert refused.pop(("api", "p40"), "").startswith("API answered 422")
    # An HTML-only answer whose whole content is script has nothing left once sanitised: it
    # is kept as failed mail ("The message cannot be empty"), where an admin can look at it.
    for key in [k for k in refused if k[0] == "mail-html"]:
        assert "cannot be empty" in refused.pop(key), key
    refused = {k: v for k, v in refused.items() if k[0] != "mail-failed"}
    # A file name that sanitises to nothing fails the whole message (see test_reliability.py).
    for pid in ("p25", "p58"):
        assert "SuspiciousFileOperation" in refused.pop(("mail", pid), "SuspiciousFileOperation")
    assert refused == {}
    assert len(desk.tickets("portal")) >= len(PAYLOADS) - 1 + len(ADDRESS_PAYLOADS)
    assert len(desk.saved_searches) == sum(1 for p in PAYLOADS if p.short and p.pid != "p40")
    assert len(desk.failed_mail) == len(PAYLOADS)
    assert len(desk.surveys) >= len(PAYLOADS) - 1


def test_pages_answered_while_the_input_went_in(desk, problems):
    """Form errors, confirmations, flash messages, the survey: what the sender saw."""
    for label, payload, response in desk.answers:
        problems.page(f"{label} [{payload}]", response, expect_html=label != "API answer")
        if label == "API answer" and not response["Content-Type"].startswith("application/json"):
            problems.add(f"API answer [{payload}]: {response['Content-Type']}, not JSON")
    problems.assert_clean()


# ---------------------------------------------------------------------------------------------
# Client portal


@pytest.mark.parametrize("channel", TICKET_CHANNELS)
def test_portal_ticket_page_through_the_guest_link(desk, problems, visitor, settings, channel):
    """The guest's way in: "Check ticket status" with the requester's address, the link it
    shows, the ticket page it opens."""
    settings.HELPLINE_GUEST_LINK_SHOWN = True
    for item in desk.tickets(channel):
        cache.clear()
        visitor.cookies.clear()
        where = f"{channel} [{item.payload}]"
        sent = visitor.post("/status/", {"email": item.person.email, "number": item.ticket.number})
        problems.page(f"check status {where}", sent)
        shown = problems.page(f"status sent page {where}", visitor.get("/status/sent/"))
        link = re.search(r'href="(/t/[^"]+/)"', shown)
        if link is None:
            problems.add(f"status sent page {where}: no guest link shown")
            continue
        opened = visitor.get(link.group(1), follow=True)
        number = item.ticket.number
        problems.page(f"portal ticket page (guest link) {where}", opened, shows=f"#{number}")
    problems.assert_clean()


@pytest.mark.parametrize("channel", TICKET_CHANNELS)
def test_portal_my_tickets_and_ticket_page_signed_in(desk, problems, visitor, channel):
    """The requester signed in: My tickets (the ticket's tab, and searched by the payload) and
    the ticket page."""
    client = visitor
    for item in desk.tickets(channel):
        client.force_login(item.person)
        where = f"{channel} [{item.payload}]"
        ticket = Ticket.objects.get(pk=item.ticket.pk)  # The API's tickets were resolved since.
        tab = "closed" if ticket.is_closed else "open"
        number = f"#{item.ticket.number}"
        problems.page(
            f"My tickets {tab} {where}", client.get("/tickets/", {"tab": tab}), shows=number
        )
        query = {"q": item.payload.text[:100], "tab": tab}
        problems.page(f"My tickets search {where}", client.get("/tickets/", query))
        ticket_page = client.get(f"/tickets/{item.ticket.number}/")
        problems.page(f"portal ticket page {where}", ticket_page, shows=number)
    problems.assert_clean()


# ---------------------------------------------------------------------------------------------
# Agent panel


@pytest.mark.parametrize("channel", TICKET_CHANNELS)
def test_agent_ticket_page_with_history(desk, problems, as_user, channel):
    """Header, custom fields, requester and collaborators, the thread with every event."""
    john = as_user("john")
    for item in desk.tickets(channel):
        page = john.get(f"/staff/tickets/{item.ticket.number}/", {"history": "1"})
        where = f"agent ticket page {channel} [{item.payload}]"
        problems.page(where, page, shows=f'data-number="{item.ticket.number}"')
    problems.assert_clean()


def test_queues_list_every_hostile_ticket(desk, problems, as_user):
    """Open, Unassigned and All tickets, every page: subjects, requesters, assignees."""
    john = as_user("john")
    listed = ""
    for slug in ("open", "unassigned", "all"):
        url, pages = f"/staff/queues/{slug}/", 0
        while url and pages < 20:
            text = problems.page(f"queue {slug} page {pages + 1}", john.get(url))
            listed += text if slug == "all" else ""
            found = NEXT_PAGE.search(text)
            url = found.group(1).replace("&amp;", "&") if found else ""
            pages += 1
    for item in desk.tickets(*TICKET_CHANNELS):
        if f"#{item.ticket.number}<" not in listed:
            problems.add(f"queue all: #{item.ticket.number} ({item}) is not listed")
    problems.assert_clean()


def test_search_results_for_each_payload(desk, problems, as_user):
    """Quick search: the payload is echoed in the title, the box and the results."""
    john = as_user("john")
    for payload in [*PAYLOADS, *ADDRESS_PAYLOADS]:
        page = john.get("/staff/search/", {"q": payload.text})
        problems.page(f"search results [{payload}]", page)
    problems.assert_clean()


def test_dashboard_lists_assigned_hostile_tickets(desk, problems, as_user):
    """The dashboard shows John's next ten tickets: assigned to him ten at a time."""
    john_user = User.objects.get(username="john")
    john = as_user("john")
    items = desk.tickets("portal", "mail")
    for start in range(0, len(items), 10):
        batch = [Ticket.objects.get(pk=i.ticket.pk) for i in items[start : start + 10]]
        for ticket in batch:
            actions.assign(john_user, ticket, agent=john_user)
        page = john.get("/staff/")
        where = f"dashboard, tickets {start + 1}–{start + len(batch)}"
        text = problems.page(where, page)
        for ticket in batch:
            if f"#{ticket.number}" not in text:
                problems.add(f"{where}: #{ticket.number} is not listed")
        for ticket in batch:
            actions.release(john_user, ticket)
    problems.assert_clean()


def test_saved_searches_in_the_sidebar_and_their_pages(desk, problems, as_user):
    """The name in the owner's sidebar (every agent page) and on the search's own page (title,
    heading, the "save as" box)."""
    for owner in ("jane", "garnet"):
        problems.page(f"{owner}'s sidebar", as_user(owner).get("/staff/"))
    for pid, search in desk.saved_searches.items():
        page = as_user(search.owner.username).get(f"/staff/searches/{search.pk}/")
        problems.page(f"saved search page [{pid}]", page, shows=f"/staff/searches/{search.pk}/")
    problems.assert_clean()


def test_requester_suggestions_on_the_new_ticket_form(desk, problems, as_user):
    john = as_user("john")
    for payload in [*PAYLOADS, *ADDRESS_PAYLOADS]:
        page = john.get("/staff/requesters/lookup/", {"q": payload.pid})
        problems.page(f"requester suggestions [{payload}]", page)
        if payload.pid not in page.content.decode() and payload in PAYLOADS:
            problems.add(f"requester suggestions [{payload}]: nobody found")
    problems.assert_clean()


def test_canned_response_text_for_hostile_tickets(desk, problems, as_user):
    """A canned response naming the requester and subject comes back as plain text, never as
    a page (the reply box inserts it as text)."""
    canned = CannedResponse.objects.create(
        title="Greeting", body="Hello {{ requester.name }}, about “{{ ticket.subject }}”:"
    )
    john = as_user("john")
    for item in desk.tickets("portal"):
        url = f"/staff/canned/{canned.pk}/text/?ticket={item.ticket.number}"
        answer = john.get(url)
        problems.page(f"canned response text [{item.payload}]", answer, expect_html=False)
        if not answer["Content-Type"].startswith("text/plain"):
            problems.add(f"canned response text [{item.payload}]: {answer['Content-Type']}")
        if answer.get("X-Content-Type-Options") != "nosniff":
            problems.add(f"canned response text [{item.payload}]: may be sniffed as HTML")
    problems.assert_clean()


def test_reports_list_requesters_and_their_comments(desk, problems, as_user):
    john = as_user("john")
    page = john.get("/staff/reports/", {"period": "week", "group": "agent"})
    text = problems.page("reports page", page)
    answered = [pid for pid in desk.surveys if f"{pid}" in text]
    assert len(answered) >= len(desk.surveys) // 2, "the comments table lists the surveys"
    for group in ("department", "team", "help_topic", "priority", "source"):
        problems.page(f"reports by {group}", john.get("/staff/reports/", {"group": group}))
    problems.assert_clean()


# ---------------------------------------------------------------------------------------------
# Admin panel


def _admin_pages(problems: Problems, client: Client, model: str, query: dict | None = None):
    url = f"/admin/{model}/" + (f"?{urlencode(query)}" if query else "")
    problems.page(f"admin {model} list {query or ''}", client.get(url))


def test_admin_ticket_list_search_and_change_pages(desk, problems, as_user):
    admin_client = as_user("admin")
    _admin_pages(problems, admin_client, "tickets/ticket")
    for payload in [*PAYLOADS, *ADDRESS_PAYLOADS]:
        _admin_pages(problems, admin_client, "tickets/ticket", {"q": payload.text})
    # The API stores text as the portal does; mail decodes and cleans it on the way in.
    for item in desk.tickets("portal", "mail"):
        page = admin_client.get(f"/admin/tickets/ticket/{item.ticket.pk}/change/")
        where = f"admin ticket page {item.channel} [{item.payload}]"
        problems.page(where, page, shows=item.ticket.number)
    problems.assert_clean()


def test_admin_users_list_and_change_pages(desk, problems, as_user):
    admin_client = as_user("admin")
    for payload in [*PAYLOADS, *ADDRESS_PAYLOADS]:
        _admin_pages(problems, admin_client, "accounts/user", {"q": payload.pid})
    for page_number in range(1 + User.objects.count() // 100):
        _admin_pages(problems, admin_client, "accounts/user", {"p": page_number + 1})
    seen = set()
    for payload, person in desk.people():
        if payload.pid in seen:
            continue  # One change page per payload: the name is the same on every channel.
        seen.add(payload.pid)
        page = admin_client.get(f"/admin/accounts/user/{person.pk}/change/")
        problems.page(f"admin user page [{payload}] {person.email}", page, shows=person.username)
    problems.assert_clean()


def test_admin_mail_logs(desk, problems, as_user):
    """Failed mail (subject, sender and the raw message shown) and the received-mail log."""
    admin_client = as_user("admin")
    _admin_pages(problems, admin_client, "mail/failedmail")
    _admin_pages(problems, admin_client, "mail/receivedmail")
    for pid, failed in desk.failed_mail.items():
        page = admin_client.get(f"/admin/mail/failedmail/{failed.pk}/change/")
        problems.page(f"admin failed mail [{pid}]", page)
        _admin_pages(problems, admin_client, "mail/failedmail", {"q": pid})
    tickets = [i.ticket.pk for i in desk.tickets("mail")]
    for received in ReceivedMail.objects.filter(ticket_id__in=tickets).order_by("pk"):
        page = admin_client.get(f"/admin/mail/receivedmail/{received.pk}/change/")
        problems.page(f"admin received mail {received.subject[:40]!r}", page)
    problems.assert_clean()


def test_admin_outbox_events_and_audit_log(desk, problems, as_user):
    """The outbox log (addresses that carry script), ticket events (custom field values before
    and after) and, once it exists, every model of the audit log app."""
    admin_client = as_user("admin")
    _admin_pages(problems, admin_client, "tickets/notification")
    _admin_pages(problems, admin_client, "tickets/event")
    for payload in ADDRESS_PAYLOADS:
        _admin_pages(problems, admin_client, "tickets/notification", {"q": payload.text})
        for notification in Notification.objects.filter(email=payload.text)[:3]:
            page = admin_client.get(f"/admin/tickets/notification/{notification.pk}/change/")
            problems.page(f"admin notification [{payload}]", page)
    tickets = [i.ticket.pk for i in desk.tickets("portal")]
    for event in Event.objects.filter(ticket_id__in=tickets, kind=EventKind.FIELDS):
        page = admin_client.get(f"/admin/tickets/event/{event.pk}/change/")
        problems.page(f"admin event {event.pk}", page)
    for model in [m for m in admin.site._registry if m._meta.app_label == "audit"]:
        label = f"{model._meta.app_label}/{model._meta.model_name}"
        _admin_pages(problems, admin_client, label)
        for pk in model.objects.order_by("-pk").values_list("pk", flat=True)[:60]:
            problems.page(f"admin {label} {pk}", admin_client.get(f"/admin/{label}/{pk}/change/"))
    problems.assert_clean()


# ---------------------------------------------------------------------------------------------
# Custom fields, files


def test_custom_field_values_were_stored(desk):
    """The portal, the API and the agent's Fields form stored the payloads as values of the
    Hardware topic's text field (shown on the ticket pages checked above, and in the history
    as a "fields" event)."""
    assert desk.custom_fields, "the demo's Hardware topic has the asset_tag custom field"
    by_channel = {"portal": 0, "api": 0}
    for item in desk.tickets(*by_channel):
        ticket = Ticket.objects.get(pk=item.ticket.pk)
        if (ticket.custom_fields or {}).get(CUSTOM_FIELD):
            by_channel[item.channel] += 1
    assert min(by_channel.values()) >= len(PAYLOADS) - 1, by_channel
    tickets = [i.ticket.pk for i in desk.tickets("portal")]
    edits = Event.objects.filter(ticket_id__in=tickets, kind=EventKind.FIELDS).count()
    assert edits >= len(PAYLOADS) - 1, "the agent's Fields form recorded each value"


def test_attachment_downloads_never_render(desk, problems, as_user, settings):
    """A hostile file name or an HTML/SVG file is always an opaque download."""
    settings.MEDIA_ROOT = desk.media_root
    john = as_user("john")
    tickets = [i.ticket.pk for i in desk.tickets(*TICKET_CHANNELS)]
    files = Attachment.objects.filter(entry__ticket_id__in=tickets).select_related("entry")
    assert files.count() >= 2 * len(PAYLOADS)
    for attachment in files:
        answer = john.get(f"/attachments/{attachment.pk}/")
        where = f"download {attachment.filename[:60]!r}"
        problems.page(where, answer, expect_html=False)
        if answer.status_code != 200:
            problems.add(f"{where}: {answer.status_code}")
            continue
        headers = {k.lower(): v for k, v in answer.items()}
        if any(word in headers["content-type"] for word in ("html", "svg", "xml", "script")):
            problems.add(f"{where}: served as {headers['content-type']}")
        if not headers.get("content-disposition", "").startswith("attachment"):
            problems.add(f"{where}: not a download: {headers.get('content-disposition')!r}")
        if any("\r" in v or "\n" in v for v in headers.values()):
            problems.add(f"{where}: a header spans lines")
        if "sandbox" not in headers.get("content-security-policy", ""):
            problems.add(f"{where}: no sandbox")
    problems.assert_clean()


# ---------------------------------------------------------------------------------------------
# Notification emails


def test_notification_emails_html_parts_run_nothing(desk, problems):
    """Every HTML alternative sent (acknowledgements, alerts, replies, surveys, low-rating
    alerts) is checked like a page."""
    shown = 0
    for message in desk.outbox:
        for html in html_parts(message):
            shown += 1
            problems.html(f"email {message.subject[:70]!r} to {message.to}", html)
    assert shown >= len(PAYLOADS) * 3
    problems.assert_clean()


def _literal_encoded_word(message) -> bool:
    """A subject typed (portal, API) as an RFC 2047 encoded-word; outgoing mail keeps it literal
    with a word joiner after the "=" (tickets.text.header_text)."""
    subject = message.subject
    return ("=?" in subject or "=\u2060?" in subject) and "?=" in subject


def test_notification_email_headers_stay_single_line(desk, problems):
    """Subjects and names with CR/LF (typed, or decoded from encoded-words by mail intake)
    never add a header, a recipient or a body part (mailcheck.py): every header is one line,
    From/To/Subject stay in the header block, the text part is exactly the body written."""
    for message in desk.outbox:
        for problem in header_problems(message):
            problems.add(problem)
    problems.assert_clean()


def test_subject_typed_as_an_encoded_word_cannot_inject_headers(desk):
    literal = [m for m in desk.outbox if _literal_encoded_word(m)]
    assert literal, "the portal and the API took p55/p56 in as literal subjects"
    found = [problem for message in literal for problem in header_problems(message)]
    assert not found, "\n".join(found[:20])


def test_no_notification_failed_on_hostile_text(desk, problems):
    """Hostile subjects, names and bodies never make a notification fail to render or send
    (addresses that carry script excepted: the mail server may refuse those)."""
    hostile_addresses = {p.text for p in ADDRESS_PAYLOADS}
    failed = Notification.objects.filter(state="failed").exclude(email__in=hostile_addresses)
    for notification in failed.select_related("ticket"):
        problems.add(
            f"{notification} on {notification.ticket.subject[:50]!r}: {notification.error}"
        )
    problems.assert_clean()
