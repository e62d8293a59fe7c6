"""The Foundation permission matrix replayed over HTTP: a key does exactly what its user may.

Every demo role × every write endpoint (allowed iff the role allows, 403 and nothing changed
otherwise); John's key gets 404 on every SysAdmins ticket endpoint; a view-only key gets 403 on
every write; a requester's key sees only its own tickets.
"""

from types import SimpleNamespace

import pytest

from helpline.accounts.models import Agent, Permission, User
from helpline.tickets import actions
from helpline.tickets.models import Collaborator, Event, ThreadEntry, Ticket

pytestmark = pytest.mark.django_db

# Written out by hand (as in tests/test_access_matrix.py) so the matrix does not echo Role.allows.
DEMO_ROLES = {
    "Expanded Access": {"reply", "note", "assign", "transfer", "edit", "status", "close", "merge"},
    "All Access": {p.value for p in Permission},
    "Limited Access": {"reply", "note", "status", "close"},
    "View only": set(),
}

# (name, permission needed, method, path template, body). {n}: the ticket, {other}: a second one.
WRITES = [
    ("reply", "reply", "post", "/tickets/{n}/reply", {"body": "On it."}),
    ("note", "note", "post", "/tickets/{n}/notes", {"body": "Checked logs."}),
    ("assign", "assign", "post", "/tickets/{n}/assign", {"agent": "garnet"}),
    ("release", "assign", "post", "/tickets/{n}/release", {}),
    ("transfer", "transfer", "post", "/tickets/{n}/transfer", {"department": "Online Banking"}),
    ("status", "status", "post", "/tickets/{n}/status", {"status": "Work in Progress"}),
    ("resolve", "close", "post", "/tickets/{n}/status", {"status": "Resolved"}),
    ("priority", "edit", "patch", "/tickets/{n}", {"priority": "high"}),
    ("sla", "edit", "patch", "/tickets/{n}", {"sla_plan": "Sev-A"}),
    ("topic", "edit", "patch", "/tickets/{n}", {"help_topic": "Hardware"}),
    ("due", "edit", "patch", "/tickets/{n}", {"due_at": "2031-05-06T15:00:00Z"}),
    ("subject", "edit", "patch", "/tickets/{n}", {"subject": "New subject"}),
    ("cc", "edit", "post", "/tickets/{n}/collaborators", {"email": "ken@example.com"}),
    ("merge", "merge", "post", "/tickets/{n}/merge", {"into": "{other}"}),
]
WRITE_NAMES = [w[0] for w in WRITES]
BY_NAME = {w[0]: w for w in WRITES}


def _world(*tickets: Ticket) -> tuple:
    rows = [
        {f.attname: getattr(t, f.attname) for f in Ticket._meta.concrete_fields}
        for t in Ticket.objects.filter(pk__in=[t.pk for t in tickets]).order_by("pk")
    ]
    counts = [m.objects.count() for m in (ThreadEntry, Event, Collaborator, User)]
    return rows, counts


def _call(api, name: str, desk: SimpleNamespace):
    _, _, method, path, body = BY_NAME[name]
    body = {k: (desk.other.number if v == "{other}" else v) for k, v in body.items()}
    return getattr(api, method)(path.format(n=desk.ticket.number), body)


@pytest.fixture
def desk(org, karen, john):
    """Two Support tickets from Karen, assigned to John (so release has something to do)."""
    tickets = []
    for subject in ("Cannot sign in", "Password reset loops"):
        t = actions.open_ticket(karen, requester=karen, subject=subject, body="Please help.")
        actions.assign(john, t, agent=john)
        tickets.append(t)
    return SimpleNamespace(ticket=tickets[0], other=tickets[1])


def _agent_with_role(org, role_name: str) -> User:
    user = User.objects.create_user("probe", email="probe@helpline.example", name="Pat Probe")
    role = org.role(role_name)
    assert set(role.permissions) == DEMO_ROLES[role_name]
    Agent.objects.create(user=user, department=org.dept("Support"), role=role)
    return user


@pytest.mark.parametrize("write", WRITE_NAMES)
@pytest.mark.parametrize("role_name", list(DEMO_ROLES))
def test_role_matrix_over_the_api(api_as, org, desk, role_name, write):
    api = api_as(_agent_with_role(org, role_name))
    permission = BY_NAME[write][1]
    before = _world(desk.ticket, desk.other)
    response = _call(api, write, desk)
    if permission in DEMO_ROLES[role_name]:
        assert response.status_code in (200, 201), response.content
        assert _world(desk.ticket, desk.other) != before
    else:
        assert response.status_code == 403, response.content
        assert role_name in response.json()["detail"]
        assert _world(desk.ticket, desk.other) == before, "a refusal changed something"


@pytest.fixture
def sysadmins_desk(org, karen, jane):
    tickets = [
        actions.open_ticket(
            karen, requester=karen, subject=s, body="Server down.", department=org.dept("SysAdmins")
        )
        for s in ("Root disk full", "Backups failing")
    ]
    return SimpleNamespace(ticket=tickets[0], other=tickets[1])


@pytest.mark.parametrize("write", WRITE_NAMES)
def test_johns_key_gets_404_on_every_sysadmins_write(john_api, sysadmins_desk, write):
    before = _world(sysadmins_desk.ticket, sysadmins_desk.other)
    response = _call(john_api, write, sysadmins_desk)
    assert response.status_code == 404, response.content
    assert response.json()["detail"] == "No such ticket."
    assert _world(sysadmins_desk.ticket, sysadmins_desk.other) == before


def test_johns_key_gets_404_on_sysadmins_reads(john_api, sysadmins_desk):
    n = sysadmins_desk.ticket.number
    assert john_api.get(f"/tickets/{n}").status_code == 404
    assert john_api.post(f"/tickets/{n}/messages", {"body": "hi"}).status_code == 404
    listed = [t["number"] for t in john_api.get("/tickets").json()["items"]]
    assert n not in listed
    assert john_api.get("/tickets", {"q": n}).json()["items"] == []


def test_view_only_key_gets_403_on_every_write(api_as, org, desk):
    api = api_as(_agent_with_role(org, "View only"))
    assert api.get(f"/tickets/{desk.ticket.number}").status_code == 200
    for name in WRITE_NAMES:
        before = _world(desk.ticket, desk.other)
        assert _call(api, name, desk).status_code == 403, name
        assert _world(desk.ticket, desk.other) == before, name


def test_a_requester_key_sees_only_its_own_tickets(api_as, karen, ken, greg, john):
    karens = actions.open_ticket(karen, requester=karen, subject="Printer", body="Jams.")
    kens = actions.open_ticket(ken, requester=ken, subject="Adobe", body="Upgrade.")
    gregs = actions.open_ticket(greg, requester=greg, subject="Drive", body="Full.")
    actions.add_collaborator(john, gregs, karen)
    api = api_as(karen)
    listed = {t["number"] for t in api.get("/tickets").json()["items"]}
    assert listed == {karens.number, gregs.number}
    assert api.get(f"/tickets/{kens.number}").status_code == 404
    assert api.post(f"/tickets/{kens.number}/messages", {"body": "hi"}).status_code == 404
    assert api.post(f"/tickets/{karens.number}/reply", {"body": "hi"}).status_code == 403
    assert api.post(f"/tickets/{karens.number}/messages", {"body": "hi"}).status_code == 201
