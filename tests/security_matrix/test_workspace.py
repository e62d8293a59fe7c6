"""Channel: the shared workspace's endpoints (live fragment, presence, drafts, claim, watch),
each one's wiring, and the pulse and notifications, which name no ticket in their URL.

Allowed: the endpoint does what it says. Refused: 403 for a ticket the persona sees but may not
act on, 404 for one they do not see (the same bytes as for a number that does not exist), the
sign-in page for anyone who is not an agent — and no workspace row written for the ticket.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from helpline.tickets.models import Ticket
from helpline.workspace import pulse
from helpline.workspace.models import Draft, Notification, Presence, Watcher
from tests.security_matrix.conftest import (
    PERSONAS,
    World,
    assert_reveals_nothing,
    assert_sign_in,
    normalised,
    relation,
    situation_id,
    subject_of,
    text_of,
    wiring_cells,
    wiring_outcome,
)

pytestmark = pytest.mark.django_db

ALLOWED, FORBIDDEN, NOT_FOUND, LOGIN = "allowed", "403", "404", "login"


@dataclass(frozen=True)
class WorkspaceEndpoint:
    name: str
    action: str
    method: str
    needs: tuple  # role permissions, or ("works",): sees the ticket as its agent
    data: dict
    effect: Callable[[World, Ticket, str], bool]


def _rows(model, ticket: Ticket, persona: str, world: World) -> bool:
    return model.objects.filter(ticket=ticket, user_id=world.users[persona]).exists()


WORKSPACE_ENDPOINTS = [
    WorkspaceEndpoint("live", "live", "GET", ("view",), {}, lambda w, t, p: True),
    WorkspaceEndpoint(
        "presence", "presence", "POST", ("works",), {"state": "viewing"},
        lambda w, t, p: _rows(Presence, t, p, w),
    ),
    WorkspaceEndpoint(
        "draft", "draft", "POST", ("reply",), {"kind": "reply", "body": "Matrix draft"},
        lambda w, t, p: _rows(Draft, t, p, w),
    ),
    WorkspaceEndpoint(
        "claim", "claim", "POST", ("assign",), {},
        lambda w, t, p: Ticket.objects.get(pk=t.pk).assignee_id == w.users[p],
    ),
    WorkspaceEndpoint(
        "watch", "watch", "POST", ("works",), {}, lambda w, t, p: _rows(Watcher, t, p, w)
    ),
]  # fmt: skip
BY_NAME = {e.name: e for e in WORKSPACE_ENDPOINTS}


def workspace_expectation(persona: str, key: str, endpoint: WorkspaceEndpoint) -> str:
    if not PERSONAS[persona].is_agent:
        return LOGIN
    rel = relation(persona, key)
    if not rel.visible:
        return NOT_FOUND
    if endpoint.needs == ("view",):
        return ALLOWED
    if endpoint.needs == ("works",):
        return ALLOWED if rel.works else FORBIDDEN
    return ALLOWED if rel.works and rel.allows(*endpoint.needs) else FORBIDDEN


CELLS = wiring_cells(WORKSPACE_ENDPOINTS, wiring_outcome(workspace_expectation))


def _workspace_rows(ticket_pk: int) -> list:
    return [
        model.objects.filter(ticket_id=ticket_pk).count()
        for model in (Presence, Draft, Watcher, Notification)
    ]


def _send(client, endpoint: WorkspaceEndpoint, number: str):
    url = f"/staff/tickets/{number}/{endpoint.action}/"
    if endpoint.method == "GET":
        return client.get(url)
    return client.post(url, endpoint.data)


@pytest.mark.parametrize("cell", CELLS, ids=situation_id)
def test_workspace_endpoint(world, cell):
    persona, _, key, name = cell
    endpoint = BY_NAME[name]
    expected = workspace_expectation(persona, key, endpoint)
    ticket = world.ticket(key)
    client = world.client(persona)
    before = _workspace_rows(ticket.pk)
    response = _send(client, endpoint, ticket.number)
    if expected == ALLOWED:
        assert response.status_code in (200, 204, 302), response.content[:500]
        assert endpoint.effect(world, ticket, persona)
        if name == "live":
            text = text_of(response)
            assert subject_of(key) in text
            # A pulse token only for those who work it (a requester's view is not live).
            assert ('data-pulse=""' in text) != relation(persona, key).works
        return
    assert _workspace_rows(ticket.pk) == before, "a refused request wrote workspace rows"
    assert_reveals_nothing(response, key)
    if expected == LOGIN:
        assert_sign_in(response)
        return
    assert response.status_code == int(expected), response.content[:500]
    if expected == NOT_FOUND:
        ghost = world.ghost_number(ticket.number)
        other = _send(client, endpoint, ghost)
        assert normalised(response, ticket.number) == normalised(other, ghost)


@pytest.mark.parametrize("endpoint", WORKSPACE_ENDPOINTS, ids=lambda e: e.name)
def test_each_workspace_endpoint_has_its_cells(endpoint):
    outcome = wiring_outcome(workspace_expectation)
    answers = {a for a, *_ in {outcome(c[:3], endpoint) for c in CELLS if c[3] == endpoint.name}}
    assert {ALLOWED, NOT_FOUND, LOGIN} <= answers


def test_a_page_token_covers_only_what_its_agent_works(world):
    """The pulse token of the queue pages names the scopes of the tickets the agent works:
    no department they have no role in."""
    from helpline.accounts.models import User

    for persona in ("john", "jane", "garnet"):
        if persona not in world.users:
            continue
        user = User.objects.get(pk=world.users[persona])
        scopes = pulse.agent_scopes(user)
        departments = {int(k[2:]) for k in scopes if k.startswith("d:")}
        roles = set(user.agent.department_roles()) if hasattr(user, "agent") else set()
        assert departments <= roles
