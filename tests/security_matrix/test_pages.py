"""Channel 2: pages and htmx endpoints that read a ticket, each one's wiring.

The pages: the ticket page, the route form's assignable agents (htmx), the queue results htmx
partial, quick search, the canned-response picker and its rendered text, the attachment
download (files of a message, a reply and an internal note), the portal's ticket page and list.
Each page gets one cell per outcome the rule table gives it (`wiring_cells`: shown, shown
without what only its agents see, refused, invisible, signed out); the role × action matrix
itself is proven at the action layer. Shown: the subject is there, internal notes and history
only for those who work the ticket. Not shown: 404 (or the sign-in page), the same bytes as for
a number or id that does not exist, and nothing of the ticket. A read never changes anything.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.security_matrix.conftest import (
    BANKING,
    CANNED_TITLE,
    PERSONAS,
    SPECS,
    SUPPORT,
    SYSADMINS,
    World,
    assert_reveals_nothing,
    assert_sign_in,
    normalised,
    note_of,
    reason_of,
    relation,
    reply_of,
    search_word,
    situation_id,
    snapshot,
    subject_of,
    text_of,
    wiring_cells,
)

pytestmark = pytest.mark.django_db

SHOWN, HIDDEN, FORBIDDEN, NOT_FOUND, LOGIN, PORTAL_LOGIN, PANEL, OPENS = (
    "shown",
    "hidden",
    "403",
    "404",
    "login",
    "portal-login",
    "panel",
    "opens",
)
HTMX = {"HX-Request": "true", "HX-Target": "queue-results"}


@dataclass(frozen=True)
class Page:
    """A GET that reads one ticket; `url(world, key, number)` with the number to ask about."""

    name: str
    url: Callable[[World, str, str], str] | None  # None: an attachment, by id
    expect: Callable[[str, str], str]  # persona, ticket key → expectation
    headers: dict | None = None
    # What to swap for one that does not exist: the number, a word of the subject, or (for an
    # attachment) "message", "reply" or "note": which file of the ticket.
    ghost: str = "number"


def _agent_page(persona: str, key: str) -> str:
    if not PERSONAS[persona].is_agent:
        return LOGIN
    return SHOWN if relation(persona, key).visible else NOT_FOUND


def _canned(persona: str, key: str) -> str:
    """Canned responses are for replying: seeing the ticket is not enough (403 without the reply
    permission on it, 404 for a ticket one does not see)."""
    if not PERSONAS[persona].is_agent:
        return LOGIN
    rel = relation(persona, key)
    if not rel.visible:
        return NOT_FOUND
    return SHOWN if rel.allows("reply") else FORBIDDEN


def _assigning(persona: str, key: str) -> str:
    """The route form's assignable agents (htmx): for those who may assign on the ticket."""
    if not PERSONAS[persona].is_agent:
        return LOGIN
    rel = relation(persona, key)
    if not rel.visible:
        return NOT_FOUND
    return SHOWN if rel.allows("assign") else FORBIDDEN


def _listing(persona: str, key: str) -> str:
    if not PERSONAS[persona].is_agent:
        return LOGIN
    return SHOWN if relation(persona, key).visible else HIDDEN


def _search(persona: str, key: str) -> str:
    if not PERSONAS[persona].is_agent:
        return LOGIN
    return OPENS if relation(persona, key).visible else HIDDEN


def _public_file(persona: str, key: str) -> str:
    return SHOWN if relation(persona, key).visible else NOT_FOUND


def _internal_file(persona: str, key: str) -> str:
    return SHOWN if relation(persona, key).works else NOT_FOUND


def _portal_page(persona: str, key: str) -> str:
    rel = relation(persona, key)
    if PERSONAS[persona].kind == "anonymous":
        return PORTAL_LOGIN
    if rel.visible and rel.participant:
        return SHOWN
    return PANEL if rel.visible and PERSONAS[persona].is_agent else NOT_FOUND


def _portal_list(persona: str, key: str) -> str:
    if PERSONAS[persona].kind == "anonymous":
        return PORTAL_LOGIN
    rel = relation(persona, key)
    return SHOWN if rel.visible and rel.participant else HIDDEN


PAGES = [
    Page("ticket_page", lambda w, k, n: f"/staff/tickets/{n}/", _agent_page),
    Page("queue_results", lambda w, k, n: f"/staff/queues/all/?text={n}", _listing, HTMX),
    Page("search", lambda w, k, n: f"/staff/search/?q={n}", _search),
    # Full-text search by a word of the subject (the search index, not the number).
    Page("search_subject", lambda w, k, word: f"/staff/search/?q={word}", _listing, ghost="word"),
    Page("canned_pick", lambda w, k, n: f"/staff/canned/pick/?ticket={n}&q=", _canned),
    Page(
        "canned_text",
        lambda w, k, n: f"/staff/canned/{w.ids['canned']}/text/?ticket={n}",
        _canned,
    ),
    Page("route_agents", lambda w, k, n: f"/staff/tickets/{n}/route/agents/", _assigning, HTMX),
    Page("message_file", None, _public_file, ghost="message"),
    Page("reply_file", None, _public_file, ghost="reply"),
    Page("note_file", None, _internal_file, ghost="note"),
    Page("portal_page", lambda w, k, n: f"/tickets/{n}/", _portal_page),
    Page("portal_list", lambda w, k, n: "/tickets/?tab=open", _portal_list),
]
PAGES_BY_NAME = {p.name: p for p in PAGES}
# Who has Expanded Access in each department (the rule table's people): always assignable there.
DEPARTMENT_AGENT = {SUPPORT: "john", BANKING: "jane", SYSADMINS: "jane"}


def page_outcome(situation: tuple, page: Page) -> tuple:
    """What the rules say the page answers, and whether the persona sees and works the ticket
    (a shown page differs for those who work it; a 404 for a ticket one sees is another path)."""
    persona, _, key = situation
    rel = relation(persona, key)
    return page.expect(persona, key), rel.visible, rel.works


PAGE_CELLS = wiring_cells(PAGES, page_outcome)


def _url(page: Page, world: World, key: str, ghost: bool = False) -> tuple[str, str]:
    """The URL, and the number, word or file id in it (the part a ghost request swaps)."""
    if page.ghost == "word":
        word = f"zq{world.ghost_number(world.numbers[key])}" if ghost else search_word(key)
        return page.url(world, key, word), word
    if page.ghost != "number":  # an attachment: by id
        pk = str(world.ghost_attachment() if ghost else world.attachments[key][page.ghost])
        return f"/attachments/{pk}/", pk
    number = world.numbers[key]
    number = world.ghost_number(number) if ghost else number
    return page.url(world, key, number), number


def _check_shown(page: Page, world: World, persona: str, key: str, response) -> None:
    """What a page that may show the ticket must (and must not) show."""
    text = text_of(response)
    if page.url is None:
        assert text == f"content of {key}-{page.ghost}.txt"
        return
    if page.name == "canned_pick":
        assert CANNED_TITLE in text
        return
    if page.name == "route_agents":
        # An agent with Expanded Access in the ticket's department is among those offered.
        assignable = DEPARTMENT_AGENT[SPECS[key].department]
        assert f'<option value="{world.users[assignable]}"' in text, text[:500]
        return
    assert subject_of(key) in text
    works = relation(persona, key).works
    if page.name == "ticket_page":
        # Internal notes and history only for those who work it (not an agent who only asked).
        assert (note_of(key) in text) == works
        assert (reason_of(key) in text) == works
        assert reply_of(key) in text
    if page.name == "portal_page":
        assert reply_of(key) in text
        assert note_of(key) not in text and reason_of(key) not in text


@pytest.mark.parametrize("cell", PAGE_CELLS, ids=situation_id)
def test_page(world, cell):
    persona, _, key, name = cell
    page = PAGES_BY_NAME[name]
    expected = page.expect(persona, key)
    client = world.client(persona)
    number = world.numbers[key]
    before = snapshot(world)
    url, asked = _url(page, world, key)
    response = client.get(url, headers=page.headers or {})
    assert snapshot(world) == before, "reading a page changed something"

    if expected == SHOWN:
        assert response.status_code == 200, response.status_code
        _check_shown(page, world, persona, key, response)
        return
    if expected == OPENS:
        assert response.status_code == 302 and response["Location"] == f"/staff/tickets/{number}/"
        return
    if expected == PANEL:
        assert response.status_code == 302 and response["Location"] == f"/staff/tickets/{number}/"
        assert_reveals_nothing(response, key)
        return
    assert_reveals_nothing(response, key)
    if expected == LOGIN:
        assert_sign_in(response)
    elif expected == PORTAL_LOGIN:
        assert_sign_in(response, panel=False)
    elif expected == FORBIDDEN:
        assert response.status_code == 403 and CANNED_TITLE not in text_of(response)
        return  # a ticket one sees: nothing to compare with a missing one
    elif expected == NOT_FOUND:
        assert response.status_code == 404
    else:
        # Listed nowhere (the query itself is echoed back, so look for the ticket's link).
        assert response.status_code == 200
        assert f"/tickets/{number}/" not in text_of(response)
    if page.name == "portal_list":
        return  # the same list whatever the ticket: nothing to compare with
    # Not yours = does not exist: the same answer for a number (or file id) nobody has.
    ghost_url, ghost = _url(page, world, key, ghost=True)
    other = world.client(persona).get(ghost_url, headers=page.headers or {})
    assert normalised(response, asked) == normalised(other, ghost)
