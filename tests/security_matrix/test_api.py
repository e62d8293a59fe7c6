"""Channel 3: the REST API with Bearer keys, each endpoint's wiring.

tests/api/test_permission_matrix_api.py replays roles × writes in one department, and the full
role × action matrix is proven at the action layer (tests/test_access_matrix.py). Here every
endpoint gets one cell per outcome the rule table gives it (`wiring_cells`): allowed, refused,
invisible, no key — each cell a persona's key (or none) in one of the situations. Refusals are
401 without a key, 404 for a ticket the key's user cannot see (the same JSON as for a number
nobody has), 403 for one they see but may not change — and nothing changes.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from helpline.tickets.models import EntryKind, State, Ticket
from tests.security_matrix.conftest import (
    BANKING,
    NEW_CC,
    PERSONAS,
    ROLE_PERMISSIONS,
    SUPPORT,
    SYSADMINS,
    Endpoint,
    World,
    assert_reveals_nothing,
    merge_target,
    note_of,
    reason_of,
    relation,
    situation_id,
    snapshot,
    subject_of,
    text_of,
    wiring_cells,
    wiring_outcome,
)

pytestmark = pytest.mark.django_db

OK = "ok"
DUE = datetime(2031, 5, 6, 15, 0, tzinfo=UTC)


def call_api(world: World, persona: str, method: str, path: str, body=None):
    """One call to /api/v1 with the persona's key (no Authorization header for anonymous)."""
    client = world.client("anonymous")  # no session: the key alone says who calls
    headers = {}
    if persona in world.api_keys:
        headers["Authorization"] = f"Bearer {world.api_keys[persona]}"
    url = f"/api/v1{path}"
    if method in ("get", "delete"):
        return getattr(client, method)(url, headers=headers)
    return getattr(client, method)(
        url, json.dumps(body or {}), content_type="application/json", headers=headers
    )


@dataclass(frozen=True)
class ApiCall:
    """One endpoint: the permission it needs ("view", "works", "message" or role permissions),
    its path and body, the success status and how the change shows in the database."""

    name: str
    method: str
    path: Callable[[World, str, str], str]  # world, ticket key, number
    needs: tuple
    status: int = 200
    body: Callable[[World, Ticket, str], dict] | None = None
    effect: Callable[[World, Ticket, Ticket], bool] | None = None


def _entry(kind: str, text: str) -> Callable:
    return lambda w, old, t: t.entries.filter(kind=kind, body_text=text).exists()


def _other_department(ticket: Ticket) -> str:
    return BANKING if ticket.department.name == SUPPORT else SUPPORT


API_CALLS = [
    ApiCall("get", "get", lambda w, k, n: f"/tickets/{n}", ("view",)),
    ApiCall(
        "message_file",
        "get",
        lambda w, k, n: f"/tickets/{n}/attachments/{w.attachments[k]['message']}",
        ("view",),
    ),
    ApiCall(
        "note_file",
        "get",
        lambda w, k, n: f"/tickets/{n}/attachments/{w.attachments[k]['note']}",
        ("works",),
    ),
    ApiCall(
        "reply",
        "post",
        lambda w, k, n: f"/tickets/{n}/reply",
        ("reply",),
        201,
        lambda w, t, p: {"body": "API reply"},
        _entry(EntryKind.REPLY, "API reply"),
    ),
    ApiCall(
        "note",
        "post",
        lambda w, k, n: f"/tickets/{n}/notes",
        ("note",),
        201,
        lambda w, t, p: {"body": "API note"},
        _entry(EntryKind.NOTE, "API note"),
    ),
    ApiCall(
        "message",
        "post",
        lambda w, k, n: f"/tickets/{n}/messages",
        ("message",),
        201,
        lambda w, t, p: {"body": "API message"},
        _entry(EntryKind.MESSAGE, "API message"),
    ),
    ApiCall(
        "assign",
        "post",
        lambda w, k, n: f"/tickets/{n}/assign",
        ("assign",),
        body=lambda w, t, p: {"agent": "admin"},
        effect=lambda w, old, t: t.assignee_id == w.users["admin"],
    ),
    ApiCall(
        "release",
        "post",
        lambda w, k, n: f"/tickets/{n}/release",
        ("assign",),
        body=lambda w, t, p: {},
        effect=lambda w, old, t: t.assignee_id is None and t.team_id is None,
    ),
    ApiCall(
        "transfer",
        "post",
        lambda w, k, n: f"/tickets/{n}/transfer",
        ("transfer",),
        body=lambda w, t, p: {"department": _other_department(t)},
        effect=lambda w, old, t: t.department_id != old.department_id,
    ),
    ApiCall(
        "status",
        "post",
        lambda w, k, n: f"/tickets/{n}/status",
        ("status",),
        body=lambda w, t, p: {"status": "Open"},
        effect=lambda w, old, t: t.status.name == "Open",
    ),
    ApiCall(
        "resolve",
        "post",
        lambda w, k, n: f"/tickets/{n}/status",
        ("close",),
        body=lambda w, t, p: {"status": "Resolved"},
        effect=lambda w, old, t: t.state == State.RESOLVED,
    ),
    ApiCall(
        "priority",
        "patch",
        lambda w, k, n: f"/tickets/{n}",
        ("edit",),
        body=lambda w, t, p: {"priority": "high"},
        effect=lambda w, old, t: t.priority.name == "high",
    ),
    ApiCall(
        "due",
        "patch",
        lambda w, k, n: f"/tickets/{n}",
        ("edit",),
        body=lambda w, t, p: {"due_at": "2031-05-06T15:00:00Z"},
        effect=lambda w, old, t: t.due_at == DUE,
    ),
    ApiCall(
        "subject",
        "patch",
        lambda w, k, n: f"/tickets/{n}",
        ("edit",),
        body=lambda w, t, p: {"subject": "Renamed by the API"},
        effect=lambda w, old, t: t.subject == "Renamed by the API",
    ),
    ApiCall(
        "add_collaborator",
        "post",
        lambda w, k, n: f"/tickets/{n}/collaborators",
        ("edit",),
        body=lambda w, t, p: {"email": NEW_CC},
        effect=lambda w, old, t: t.collaborators.filter(user__email=NEW_CC).exists(),
    ),
    ApiCall(
        "remove_collaborator",
        "delete",
        lambda w, k, n: f"/tickets/{n}/collaborators/{w.users['carl']}",
        ("edit",),
        effect=lambda w, old, t: not t.collaborators.filter(user_id=w.users["carl"]).exists(),
    ),
    ApiCall(
        "delete",
        "delete",
        lambda w, k, n: f"/tickets/{n}?reason=matrix",
        ("delete",),
        204,
        effect=lambda w, old, t: t is None,
    ),
    ApiCall(
        "merge",
        "post",
        lambda w, k, n: f"/tickets/{n}/merge",
        ("merge",),
        body=lambda w, t, p: {"into": w.numbers[merge_target(p)]},
        effect=lambda w, old, t: t.merged_into_id is not None,
    ),
]
CALLS_BY_NAME = {c.name: c for c in API_CALLS}


def api_expectation(persona: str, key: str, call: ApiCall) -> str | int:
    """From the rule table: OK, or the refusal's status."""
    if PERSONAS[persona].kind == "anonymous":
        return 401
    rel = relation(persona, key)
    if not rel.visible:
        return 404
    needs = call.needs
    if needs == ("view",):
        return OK
    if needs == ("works",):  # internal notes' files: only for those who work the ticket
        return OK if rel.works else 404
    if needs == ("message",):
        return OK if rel.participant else 403
    if not rel.allows(*needs):
        return 403
    if call.name == "merge" and not relation(persona, merge_target(persona)).allows("merge"):
        return 403
    return OK


api_outcome = wiring_outcome(api_expectation)
API_CELLS = wiring_cells(API_CALLS, api_outcome)


def _check_read(world: World, persona: str, key: str, call: ApiCall, response) -> None:
    if call.name == "message_file":
        assert text_of(response) == f"content of {key}-message.txt"
        return
    if call.name == "note_file":
        assert text_of(response) == f"content of {key}-note.txt"
        return
    data = response.json()
    assert data["number"] == world.numbers[key] and data["subject"] == subject_of(key)
    works = relation(persona, key).works
    kinds = {entry["kind"] for entry in data["thread"]}
    assert (EntryKind.NOTE in kinds) == works
    assert (note_of(key) in response.content.decode()) == works
    assert (reason_of(key) in response.content.decode()) == works
    assert bool(data["events"]) == works


@pytest.mark.parametrize("cell", API_CELLS, ids=situation_id)
def test_api_call(world, cell):
    persona, _, key, name = cell
    call = CALLS_BY_NAME[name]
    expected = api_expectation(persona, key, call)
    ticket = world.ticket(key)
    number = ticket.number
    body = call.body(world, ticket, persona) if call.body else None
    before = snapshot(world) if expected != OK or call.effect is None else None
    response = call_api(world, persona, call.method, call.path(world, key, number), body)

    if expected == OK:
        assert response.status_code == call.status, response.content[:1000]
        if call.effect is None:
            _check_read(world, persona, key, call, response)
            assert snapshot(world) == before, "a read changed something"
        else:
            after = world.ticket_or_none(key)
            assert call.effect(world, ticket, after), "allowed, but nothing changed"
        return
    assert response.status_code == expected, response.content[:1000]
    assert snapshot(world) == before, "a refused call changed something"
    assert_reveals_nothing(response, key)
    if expected == 403:
        return
    # 401/404: the same JSON as for a ticket (or file) that does not exist.
    if call.name == "note_file" and relation(persona, key).visible:
        missing = f"/tickets/{number}/attachments/{world.ghost_attachment()}"
    else:
        missing = call.path(world, key, world.ghost_number(number))
    other = call_api(world, persona, call.method, missing, body)
    assert (other.status_code, other.json()) == (response.status_code, response.json())


def list_outcome(situation: tuple, endpoint: Endpoint) -> tuple:
    persona, _, key = situation
    rel = relation(persona, key)
    return PERSONAS[persona].kind, rel.visible, rel.works


@pytest.mark.parametrize("cell", wiring_cells([Endpoint("list")], list_outcome), ids=situation_id)
def test_api_list(world, cell):
    """Listing with the ticket's number as the query finds it iff the key's user sees it."""
    persona, _, key, _ = cell
    number = world.numbers[key]
    response = call_api(world, persona, "get", f"/tickets?q={number}")
    if PERSONAS[persona].kind == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    listed = [item["number"] for item in response.json()["items"]]
    assert listed == ([number] if relation(persona, key).visible else [])


# ---------------------------------------------------------------------------------------------
# Opening a ticket through the API on someone's behalf

OPEN_CASES = [
    (persona, department, assigned)
    for persona in PERSONAS
    for department in (SUPPORT, BANKING, SYSADMINS)
    for assigned in (False, True)
]
API_SUBJECT = "Matrix ticket opened by API"


def open_expectation(persona: str, department: str, assigned: bool) -> str | int:
    who = PERSONAS[persona]
    if who.kind == "anonymous":
        return 401
    if who.kind == "admin":
        return OK
    if who.kind == "requester":
        return 403  # requesters may not choose a department or an agent
    role = who.roles.get(department)
    if role is None or (assigned and "assign" not in ROLE_PERMISSIONS[role]):
        return 403
    return OK


def open_outcome(case: tuple, endpoint: Endpoint) -> tuple:
    """The answer, who asks (agent, admin, requester, nobody) and why a refusal refuses."""
    persona, department, assigned = case
    role = PERSONAS[persona].roles.get(department)
    return open_expectation(*case), PERSONAS[persona].kind, role is None, assigned


OPEN_CELLS = wiring_cells([Endpoint("open")], open_outcome, OPEN_CASES)


@pytest.mark.parametrize("cell", OPEN_CELLS, ids=situation_id)
def test_api_open_on_behalf(world, cell):
    persona, department, assigned, _ = cell
    expected = open_expectation(persona, department, assigned)
    body = {
        "subject": API_SUBJECT,
        "body": "Opened for a caller.",
        "requester_email": "walk.in@example.org",
        "department": department,
    }
    if assigned:
        body["assignee"] = "admin"
    before = snapshot(world)
    response = call_api(world, persona, "post", "/tickets", body)
    opened = Ticket.objects.filter(subject=API_SUBJECT).first()
    if expected == OK:
        assert response.status_code == 201, response.content[:1000]
        assert opened.department.name == department
        assert opened.assignee_id == (world.users["admin"] if assigned else None)
        return
    assert response.status_code == expected, response.content[:1000]
    assert opened is None and snapshot(world) == before


@pytest.mark.parametrize("persona", ["john", "alice", "jane"])
def test_api_merge_into_a_ticket_i_cannot_see(world, persona):
    """The same 404 as for a target that does not exist, and nothing merged."""
    source = world.numbers[merge_target(persona)]
    hidden = next(k for k in ("sysadmins", "support") if not relation(persona, k).visible)
    before = snapshot(world)
    path = f"/tickets/{source}/merge"
    response = call_api(world, persona, "post", path, {"into": world.numbers[hidden]})
    assert response.status_code == 404 and snapshot(world) == before
    assert_reveals_nothing(response, hidden)
    ghost = world.ghost_number(world.numbers[hidden])
    other = call_api(world, persona, "post", path, {"into": ghost})
    assert other.json() == response.json()


# ---------------------------------------------------------------------------------------------
# The directory: who may read people and configuration


@dataclass(frozen=True)
class DirectoryCall:
    """A call about no ticket; `who` may make it: keys (any key), agents, admin."""

    name: str
    method: str
    path: str
    body: dict | None
    who: str


DIRECTORY = [
    DirectoryCall("me", "get", "/me", None, "keys"),
    DirectoryCall("help_topics", "get", "/help-topics", None, "keys"),
    DirectoryCall("statuses", "get", "/statuses", None, "keys"),
    DirectoryCall("users_lookup", "get", "/users?email=ken@example.com", None, "agents"),
    DirectoryCall("users_create", "post", "/users", {"email": "dir.new@example.org"}, "agents"),
    DirectoryCall("agents", "get", "/agents", None, "agents"),
    DirectoryCall("sla_plans", "get", "/sla-plans", None, "agents"),
    DirectoryCall("webhooks", "get", "/webhooks", None, "admin"),
]
DIRECTORY_BY_NAME = {d.name: d for d in DIRECTORY}


def directory_expectation(persona: str, call: DirectoryCall) -> int:
    kind = PERSONAS[persona].kind
    if kind == "anonymous":
        return 401
    if call.who == "keys" or (call.who == "agents" and kind != "requester") or kind == "admin":
        return 201 if call.method == "post" else 200
    return 403


def directory_outcome(persona: tuple, call: DirectoryCall) -> tuple:
    """The answer, and who asks (agent, admin, requester, nobody)."""
    return directory_expectation(persona[0], call), PERSONAS[persona[0]].kind


DIRECTORY_CELLS = wiring_cells(DIRECTORY, directory_outcome, [(p,) for p in PERSONAS])


@pytest.mark.parametrize("cell", DIRECTORY_CELLS, ids=situation_id)
def test_api_directory(world, cell):
    persona, name = cell
    call = DIRECTORY_BY_NAME[name]
    method, path, body = call.method, call.path, call.body
    before = snapshot(world)
    response = call_api(world, persona, method, path, body)
    expected = directory_expectation(persona, call)
    assert response.status_code == expected, response.content[:500]
    if expected >= 400:
        assert snapshot(world) == before
        assert "ken@example.com" not in response.content.decode()
    if name == "help_topics" and expected == 200:
        # Requesters see the public topics only (all four demo topics are public).
        assert {t["name"] for t in response.json()} >= {"General Inquiry", "Hardware"}
