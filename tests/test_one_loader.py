"""One loader: every URL that names a ticket gets it through `access.access_ticket`.

Walks every route of helpline.urls. Each route with a ticket number (or id) in its path, and the
few that take it in the query string, must
1. live in a module that loads no Ticket another way (`Ticket.objects`, `get_object_or_404(Ticket`
   …), like every module of the view packages; and
2. answer 404 for a ticket the caller cannot see, exactly as for a number that does not exist.
"""

import ast
import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from helpline.api.models import ApiKey, Scope
from helpline.api.v1 import api
from helpline.tickets.models import Ticket

ROOT = Path(__file__).resolve().parent.parent
# Route parameters that name a ticket; any other parameter with "ticket" in its name does too.
TICKET_PARAMS = {"number", "ticket", "ticket_id", "ticket_number"}
# Routes that take the ticket in the query string: URL name → (path arguments, query).
QUERY_ROUTES = {
    "automation:canned_pick": ((), "ticket"),
    "automation:canned_text": ((1,), "ticket"),
}
# Django's admin site is for administrators, who see every ticket; its permissions are Django's
# model permissions, not the help desk's.
SKIPPED_PREFIXES = ("admin/",)
# Where views live: no module here may load a ticket except through access.
VIEW_CODE = (
    "helpline/tickets/views",
    "helpline/api",
    "helpline/automation/views",
    "helpline/mail/views.py",
    "helpline/reports/views.py",
    "helpline/reports/views_survey.py",
)
# (module, function) → why it may touch Ticket.objects.
ALLOWED = {
    ("helpline/api/work.py", "update_ticket"): (
        "locks the row of the ticket access_ticket returned, to compare versions; loads no ticket"
    ),
}
_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def _routes(resolver=None, prefix=""):
    """(route, pattern) for every URL pattern, with the prefixes of its includes."""
    resolver = resolver or get_resolver()
    for item in resolver.url_patterns:
        route = prefix + str(item.pattern)
        if isinstance(item, URLResolver):
            yield from _routes(item, route)
        elif isinstance(item, URLPattern):
            yield route, item


def _names_a_ticket(route: str) -> bool:
    return any(p in TICKET_PARAMS or "ticket" in p for p in _PARAM.findall(route))


def ticket_routes() -> list[tuple[str, URLPattern]]:
    return [
        (route, pattern)
        for route, pattern in _routes()
        if not route.startswith(SKIPPED_PREFIXES) and _names_a_ticket(route)
    ]


def _api_operations() -> dict[str, list]:
    """The API's operations by route ("api/v1/tickets/<number>"), as the walker sees them."""
    prefix = reverse("api-v1:api-root")
    found: dict[str, list] = {}
    for _, router in api._routers:
        for path, path_view in router.path_operations.items():
            route = (prefix + path.lstrip("/")).lstrip("/").replace("{", "<").replace("}", ">")
            found.setdefault(route, []).extend(path_view.operations)
    return found


def _view_functions(route: str, callback) -> list:
    if callback.__module__.startswith("ninja."):
        operations = _api_operations().get(route)
        assert operations, f"{route}: no API operation found for it"
        return [op.view_func for op in operations]
    view = getattr(callback, "view_class", callback)
    while hasattr(view, "__wrapped__"):
        view = view.__wrapped__
    return [view]


def _source_path(function) -> str:
    return str(Path(function.__code__.co_filename).resolve().relative_to(ROOT))


def _other_loaders(path: str) -> list[str]:
    """Where the module at `path` loads a Ticket without access: "path:line in function"."""
    tree = ast.parse((ROOT / path).read_text(), path)
    found = []

    def visit(node, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        manager = (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "Ticket"
            and node.attr in ("objects", "_default_manager", "_base_manager")
        )
        shortcut = (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("get_object_or_404", "get_list_or_404")
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "Ticket"
        )
        if (manager or shortcut) and (path, function) not in ALLOWED:
            found.append(f"{path}:{node.lineno} in {function}()")
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return found


def _view_modules() -> list[str]:
    paths = []
    for entry in VIEW_CODE:
        where = ROOT / entry
        files = sorted(where.rglob("*.py")) if where.is_dir() else [where]
        paths += [str(f.relative_to(ROOT)) for f in files if "migrations" not in f.parts]
    return paths


def test_the_walker_finds_the_ticket_routes():
    routes = {route for route, _ in ticket_routes()}
    # The agent panel's ticket page and its forms, the portal's ticket, the API's ticket calls.
    assert "staff/tickets/<str:number>/" in routes
    assert "tickets/<str:number>/" in routes
    assert "api/v1/tickets/<number>/merge" in routes
    assert len(routes) >= 20, sorted(routes)


def test_no_ticket_route_loads_a_ticket_another_way():
    modules = set()
    for route, pattern in ticket_routes():
        modules |= {_source_path(f) for f in _view_functions(route, pattern.callback)}
    for name, (args, _) in QUERY_ROUTES.items():
        match = get_resolver().resolve(reverse(name, args=args))
        modules |= {_source_path(f) for f in _view_functions(match.route, match.func)}
    problems = [where for path in sorted(modules) for where in _other_loaders(path)]
    assert not problems, "Load tickets with access.access_ticket, not:\n" + "\n".join(problems)


def test_no_view_module_loads_a_ticket_another_way():
    problems = [where for path in _view_modules() for where in _other_loaders(path)]
    assert not problems, "Load tickets with access.access_ticket, not:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Behaviour: 404 for a ticket the caller cannot see, as for one that does not exist.

# Request bodies the API validates before it looks the ticket up.
API_BODIES = {
    "transfer": {"department": "Support"},
    "status": {"status": "Open"},
    "collaborators": {"email": "someone@example.com"},
    "merge": {"into": "1"},
    # What each body's schema asks for, so that the ticket is what the route refuses.
    "reply": {"body": "x"},
    "notes": {"body": "x"},
    "messages": {"body": "x"},
    "assign": {"team": "1"},
}
_MASKED = [
    (re.compile(r'(csrfmiddlewaretoken" value=")[^"]*'), r"\1"),
    (re.compile(r'("X-CSRFToken": ")[^"]*'), r"\1"),
    (re.compile(r'(nonce=")[^"]*'), r"\1"),
]


def _url(route: str, number: str) -> str:
    def value(match):
        name = match.group(1)
        return number if name in TICKET_PARAMS or "ticket" in name else "1"

    return "/" + _PARAM.sub(value, route)


def _masked(response, number: str) -> tuple:
    text = response.content.decode(errors="replace").replace(number, "<N>")
    for pattern, keep in _MASKED:
        text = pattern.sub(keep, text)
    return response.status_code, response.get("Location", ""), text


def _missing_number(ticket: Ticket) -> str:
    number = ticket.number
    for digit in "0123456789":
        candidate = number[:-1] + digit
        if not Ticket.objects.filter(number=candidate).exists():
            return candidate
    raise AssertionError("no free number next to the ticket's")


@pytest.fixture
def john_api(john):
    _, key = ApiKey.issue(john, name="walker", scopes=[Scope.TICKETS_READ, Scope.TICKETS_WRITE])
    return Client(headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def john_panel(john):
    client = Client()
    client.force_login(john)
    return client


def _requests(route: str, pattern: URLPattern):
    """(method, body) to try on a route: the API's own methods, else GET and POST."""
    if pattern.callback.__module__.startswith("ninja."):
        operations = _api_operations()[route]
        tail = route.rstrip("/").rsplit("/", 1)[-1]
        return [(m, API_BODIES.get(tail, {})) for op in operations for m in op.methods]
    return [("GET", None), ("POST", {})]


def _send(client: Client, method: str, url: str, body):
    if method == "GET":
        return client.get(url)
    if body is None or not url.startswith("/api/"):
        return getattr(client, method.lower())(url, body or {})
    return getattr(client, method.lower())(url, body, content_type="application/json")


def test_every_ticket_route_answers_404_for_a_ticket_out_of_sight(
    john, john_api, john_panel, sysadmins_ticket
):
    """John cannot see the SysAdmins ticket: each route answers as if it did not exist."""
    hidden = sysadmins_ticket.number
    missing = _missing_number(sysadmins_ticket)
    tried = 0
    for route, pattern in ticket_routes():
        client = john_api if route.startswith("api/") else john_panel
        for method, body in _requests(route, pattern):
            out_of_sight = _send(client, method, _url(route, hidden), body)
            if out_of_sight.status_code == 405:
                continue
            tried += 1
            absent = _send(client, method, _url(route, missing), body)
            where = f"{method} /{route}"
            assert out_of_sight.status_code == 404, f"{where}: {out_of_sight.status_code}"
            assert _masked(out_of_sight, hidden) == _masked(absent, missing), where
    for name, (args, query) in QUERY_ROUTES.items():
        url = reverse(name, args=args)
        out_of_sight = john_panel.get(url, {query: hidden})
        absent = john_panel.get(url, {query: missing})
        assert out_of_sight.status_code == 404, f"{name}: {out_of_sight.status_code}"
        assert _masked(out_of_sight, hidden) == _masked(absent, missing), name
        tried += 1
    assert tried >= 25
    assert Ticket.objects.filter(pk=sysadmins_ticket.pk, subject=sysadmins_ticket.subject).exists()
