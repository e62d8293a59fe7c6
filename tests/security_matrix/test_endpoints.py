"""Every endpoint that takes a ticket is in the matrix, and each has its three kinds of cell.

The matrix proves each endpoint's wiring with a few cells (`wiring_cells` in conftest.py); the
full role × action matrix is proven once, at the action layer (tests/test_access_matrix.py).
That is only as good as the list of endpoints, so this walks every URL pattern of the site and
every operation of the REST API: one whose path has a ticket number (or a ticket's file) in it
and that no channel of the matrix calls fails here, naming it. And it checks that the rule table
still gives every endpoint an allowed, a refused and an invisible cell where it has them, so a
change to the world cannot quietly leave an endpoint with only the easy cells.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.urls import URLResolver, get_resolver, resolve

from helpline.api.v1 import api
from tests.security_matrix.conftest import World, outcomes_of, relation, wiring_outcome
from tests.security_matrix.test_api import API_CALLS, OK, api_outcome
from tests.security_matrix.test_pages import FORBIDDEN as PAGE_FORBIDDEN
from tests.security_matrix.test_pages import (
    HIDDEN,
    LOGIN,
    NOT_FOUND,
    OPENS,
    PAGES,
    PANEL,
    PORTAL_LOGIN,
    SHOWN,
    _url,
    page_outcome,
)
from tests.security_matrix.test_web_forms import (
    ALLOWED,
    BULK_CHANGES,
    FORBIDDEN,
    PORTAL_REPLY,
    STAFF_FORMS,
    bulk_expectation,
    portal_expectation,
    staff_expectation,
)
from tests.security_matrix.test_workspace import WORKSPACE_ENDPOINTS

pytestmark = pytest.mark.django_db

# Path parameters that name a ticket, or something only a ticket's readers may have (its files).
TICKET_PARAMETERS = {"number", "attachment_id"}
API_PREFIX = "api/v1/"


def _patterns(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def _parameters(route: str) -> set[str]:
    """The names of a route's parameters: <conv:name> of path(), (?P<name>…) of re_path()."""
    return set(re.findall(r"<(?:\w+:)?(\w+)>", route))


def site_ticket_routes() -> set[str]:
    """Every route of the site (the REST API apart) with a ticket in its path."""
    return {
        route
        for route in _patterns(get_resolver().url_patterns)
        if _parameters(route) & TICKET_PARAMETERS and not route.startswith(API_PREFIX)
    }


def api_ticket_operations() -> set[tuple[str, str]]:
    """Every (METHOD, /path) of the REST API with a ticket in its path, from its OpenAPI."""
    paths = api.get_openapi_schema(path_prefix="")["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        if set(re.findall(r"\{(\w+)\}", path)) & TICKET_PARAMETERS
        for method in operations
    }


def _route(url: str) -> str:
    """The route a URL of the matrix resolves to (it fails if the URL resolves to nothing)."""
    return resolve(urlsplit(url).path).route


def matrix_site_routes(world: World) -> set[str]:
    number = world.numbers["support"]
    urls = [_url(page, world, "support")[0] for page in PAGES]
    urls += [f"/staff/tickets/{number}/{form.action}/" for form in STAFF_FORMS]
    urls.append(f"/tickets/{number}/")  # the portal's reply form
    urls += [f"/staff/tickets/{number}/{e.action}/" for e in WORKSPACE_ENDPOINTS]
    return {_route(url) for url in urls}


def matrix_api_operations(world: World) -> set[tuple[str, str]]:
    called = set()
    for call in API_CALLS:
        route = _route("/api/v1" + call.path(world, "support", world.numbers["support"]))
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.removeprefix(API_PREFIX))
        called.add((call.method.upper(), path))
    return called


def test_every_ticket_route_of_the_site_is_in_the_matrix(world):
    routes = site_ticket_routes()
    assert len(routes) >= 10, routes  # the walk itself works: the ticket page, its forms, files
    missing = routes - matrix_site_routes(world)
    assert not missing, f"endpoints that take a ticket but are not in the matrix: {missing}"


def test_every_ticket_operation_of_the_api_is_in_the_matrix(world):
    operations = api_ticket_operations()
    assert ("GET", "/tickets/{number}") in operations and len(operations) >= 10, operations
    missing = operations - matrix_api_operations(world)
    assert not missing, f"API operations on a ticket that are not in the matrix: {missing}"


# ---------------------------------------------------------------------------------------------
# Allowed, refused, invisible: each endpoint has the cells the rule table gives it


def _answers(endpoint, outcome) -> set:
    return {answer for answer, *_ in outcomes_of(endpoint, outcome)}


@pytest.mark.parametrize("form", STAFF_FORMS, ids=lambda f: f.name)
def test_each_panel_form_has_allowed_refused_invisible_and_signed_out_cells(form):
    answers = _answers(form, wiring_outcome(staff_expectation))
    assert answers == {ALLOWED, FORBIDDEN, NOT_FOUND, LOGIN}


@pytest.mark.parametrize("change", BULK_CHANGES, ids=lambda c: c.name)
def test_each_bulk_change_has_allowed_refused_invisible_and_signed_out_cells(change):
    answers = _answers(change, wiring_outcome(bulk_expectation))
    assert answers == {ALLOWED, FORBIDDEN, NOT_FOUND, LOGIN}


def test_the_portal_reply_has_allowed_invisible_panel_and_signed_out_cells():
    answers = _answers(PORTAL_REPLY, wiring_outcome(portal_expectation))
    assert answers == {ALLOWED, NOT_FOUND, PANEL, LOGIN}


@pytest.mark.parametrize("call", API_CALLS, ids=lambda c: c.name)
def test_each_api_call_has_allowed_refused_invisible_and_keyless_cells(call):
    answers = _answers(call, api_outcome)
    # Reads refuse nobody who sees the ticket (a note's file: 404 to those who only read it).
    refused = set() if call.needs in (("view",), ("works",)) else {403}
    assert answers == {OK, 404, 401} | refused
    if call.needs == ("works",):
        visible_404 = {(a, v) for a, v, _ in outcomes_of(call, api_outcome) if a == 404 and v}
        assert visible_404, "no cell where someone who sees the ticket is refused its note file"


EXPECTED_PAGE_ANSWERS = {
    "ticket_page": {SHOWN, NOT_FOUND, LOGIN},
    "queue_results": {SHOWN, HIDDEN, LOGIN},
    "search": {OPENS, HIDDEN, LOGIN},
    "search_subject": {SHOWN, HIDDEN, LOGIN},
    "canned_pick": {SHOWN, PAGE_FORBIDDEN, NOT_FOUND, LOGIN},
    "canned_text": {SHOWN, PAGE_FORBIDDEN, NOT_FOUND, LOGIN},
    "route_agents": {SHOWN, PAGE_FORBIDDEN, NOT_FOUND, LOGIN},
    "message_file": {SHOWN, NOT_FOUND},
    "reply_file": {SHOWN, NOT_FOUND},
    "note_file": {SHOWN, NOT_FOUND},
    "portal_page": {SHOWN, PANEL, NOT_FOUND, PORTAL_LOGIN},
    "portal_list": {SHOWN, HIDDEN, PORTAL_LOGIN},
}


@pytest.mark.parametrize("reading", PAGES, ids=lambda p: p.name)
def test_each_page_has_shown_and_hidden_cells(reading):
    assert _answers(reading, page_outcome) == EXPECTED_PAGE_ANSWERS[reading.name]


def test_the_ticket_page_is_shown_both_to_those_who_work_it_and_to_those_who_only_read_it():
    [ticket_page] = [page for page in PAGES if page.name == "ticket_page"]
    shown = {
        works for answer, _, works in outcomes_of(ticket_page, page_outcome) if answer == SHOWN
    }
    assert shown == {True, False}
    assert relation("garnet", "sysadmins_by_garnet").visible  # the rule table's reader, as meant
