"""Channel 1: the web forms of the agent panel and of the client portal, each one's wiring.

Each form gets one cell per outcome the rule table gives it (`wiring_cells`): allowed, refused,
invisible, signed out — the role × action matrix itself is proven at the action layer
(tests/test_access_matrix.py). Allowed: a redirect and the change in the database. Refused: 403
for a ticket the persona sees, 404 for one they do not (the same page, byte for byte, as for a
number that does not exist), the staff sign-in for anyone who is not an agent — and nothing
changed: not the ticket, its thread, events, collaborators, notifications, attachments, users.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages

from helpline.accounts.models import User
from helpline.tickets.models import Collaborator, EntryKind, HelpTopic, State, Ticket
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
    assert_sign_in,
    merge_target,
    normalised,
    relation,
    situation_id,
    snapshot,
    wiring_cells,
    wiring_outcome,
)

pytestmark = pytest.mark.django_db

ALLOWED, FORBIDDEN, NOT_FOUND, LOGIN, PANEL = "allowed", "403", "404", "login", "panel"
REPLY_BODY = "Matrix reply body from the panel"
NOTE_BODY = "Matrix note body from the panel"
MESSAGE_BODY = "Matrix message from the portal"
DUE_AT = datetime(2031, 5, 6, 15, 0, tzinfo=ZoneInfo("America/New_York"))


def _transfer_to(ticket: Ticket) -> str:
    return BANKING if ticket.department.name == SUPPORT else SUPPORT


@dataclass(frozen=True)
class StaffForm:
    """One POST of the agent panel's ticket page: what it needs, what it sends, what it does."""

    name: str
    action: str
    needs: tuple
    data: Callable[[World, Ticket, str], dict]
    effect: Callable[[World, Ticket, Ticket | None, str], bool]  # world, before, after, persona
    prepare: Callable[[World, str], None] | None = None  # world, ticket key: before anything


def _hardware_topic(world: World, key: str) -> None:
    """Give the ticket the demo's Hardware topic, whose custom fields the fields form saves."""
    Ticket.objects.filter(pk=world.pks[key]).update(
        help_topic=HelpTopic.objects.get(name="Hardware")
    )


def _entry_added(kind: str, body: str) -> Callable:
    return lambda w, old, t, p: t.entries.filter(kind=kind, body_text=body).exists()


STAFF_FORMS = [
    StaffForm(
        "reply",
        "reply",
        ("reply",),
        lambda w, t, p: {"version": t.version, "body": REPLY_BODY},
        _entry_added(EntryKind.REPLY, REPLY_BODY),
    ),
    StaffForm(
        "note",
        "note",
        ("note",),
        lambda w, t, p: {"version": t.version, "body": NOTE_BODY},
        _entry_added(EntryKind.NOTE, NOTE_BODY),
    ),
    StaffForm(
        "route_priority",
        "route",
        ("edit",),
        lambda w, t, p: {"version": t.version, "priority": w.ids["high"]},
        lambda w, old, t, p: t.priority_id == w.ids["high"],
    ),
    StaffForm(
        "route_assign",
        "route",
        ("assign",),
        lambda w, t, p: {"version": t.version, "assignee": w.users["admin"]},
        lambda w, old, t, p: t.assignee_id == w.users["admin"],
    ),
    StaffForm(
        "route_transfer",
        "route",
        ("transfer",),
        lambda w, t, p: {"version": t.version, "department": w.ids[f"dept:{_transfer_to(t)}"]},
        lambda w, old, t, p: t.department_id != old.department_id,
    ),
    StaffForm(
        "status",
        "status",
        ("status",),
        lambda w, t, p: {"version": t.version, "status": w.ids["status:Open"]},
        lambda w, old, t, p: t.status_id == w.ids["status:Open"],
    ),
    StaffForm(
        "resolve",
        "status",
        ("close",),
        lambda w, t, p: {"version": t.version, "status": w.ids["status:Resolved"]},
        lambda w, old, t, p: t.state == State.RESOLVED,
    ),
    StaffForm(
        "add_collaborator",
        "collaborators",
        ("edit",),
        lambda w, t, p: {"email": NEW_CC, "name": "New Colleague"},
        lambda w, old, t, p: t.collaborators.filter(user__email=NEW_CC).exists(),
    ),
    StaffForm(
        "remove_collaborator",
        "collaborators",
        ("edit",),
        lambda w, t, p: {"remove": w.users["carl"]},
        lambda w, old, t, p: not t.collaborators.filter(user_id=w.users["carl"]).exists(),
    ),
    StaffForm(
        "due",
        "due",
        ("edit",),
        lambda w, t, p: {"version": t.version, "due_at": "2031-05-06T15:00"},
        lambda w, old, t, p: t.due_at_manual and t.due_at == DUE_AT,
    ),
    StaffForm(
        "fields",
        "fields",
        ("edit",),
        lambda w, t, p: {"version": t.version, "cf_asset_tag": "HL-0043", "cf_device": "Laptop"},
        lambda w, old, t, p: t.custom_fields.get("asset_tag") == "HL-0043",
        _hardware_topic,
    ),
    StaffForm(
        "delete",
        "delete",
        ("delete",),
        lambda w, t, p: {"confirm": t.number, "reason": "Matrix cell"},
        lambda w, old, t, p: t is None,
    ),
    StaffForm(
        "merge",
        "merge",
        ("merge",),
        lambda w, t, p: {"into": w.numbers[merge_target(p)]},
        lambda w, old, t, p: t.merged_into_id == w.pks[merge_target(p)],
    ),
]


def staff_expectation(persona: str, key: str, form: StaffForm) -> str:
    """From the rule table: what the panel must answer."""
    if not PERSONAS[persona].is_agent:
        return LOGIN
    rel = relation(persona, key)
    if not rel.visible:
        return NOT_FOUND
    if not rel.allows(*form.needs):
        return FORBIDDEN
    if form.name == "merge" and not relation(persona, merge_target(persona)).allows("merge"):
        return FORBIDDEN
    return ALLOWED


STAFF_CELLS = wiring_cells(STAFF_FORMS, wiring_outcome(staff_expectation))
FORMS_BY_NAME = {f.name: f for f in STAFF_FORMS}


@pytest.mark.parametrize("cell", STAFF_CELLS, ids=situation_id)
def test_agent_panel_form(world, cell):
    persona, _, key, name = cell
    form = FORMS_BY_NAME[name]
    expected = staff_expectation(persona, key, form)
    if form.prepare:
        form.prepare(world, key)
    ticket = world.ticket(key)
    client = world.client(persona)
    before = None if expected == ALLOWED else snapshot(world)
    data = form.data(world, ticket, persona)
    response = client.post(f"/staff/tickets/{ticket.number}/{form.action}/", data)

    if expected == ALLOWED:
        assert response.status_code == 302, response.content[:2000]
        after = world.ticket_or_none(key)
        assert form.effect(world, ticket, after, persona), "allowed, but nothing changed"
        return
    assert snapshot(world) == before, "a refused form changed something"
    assert_reveals_nothing(response, key)
    if expected == LOGIN:
        assert_sign_in(response)
    else:
        assert response.status_code == int(expected), response.content[:2000]
    if expected in (LOGIN, NOT_FOUND):
        # Not yours = does not exist: the same answer for a number nobody has.
        ghost = world.ghost_number(ticket.number)
        other = client.post(f"/staff/tickets/{ghost}/{form.action}/", data)
        assert normalised(response, ticket.number) == normalised(other, ghost)


# ---------------------------------------------------------------------------------------------
# Bulk changes from a queue: always a redirect back, with a one-line summary.


@dataclass(frozen=True)
class BulkChange:
    name: str
    needs: tuple
    data: Callable[[World, Ticket], dict]
    effect: Callable[[World, Ticket, Ticket], bool]  # world, before, after


BULK_CHANGES = [
    BulkChange(
        "bulk_status",
        ("status",),
        lambda w, t: {"action": "status", "status": w.ids["status:Open"]},
        lambda w, old, t: t.status_id == w.ids["status:Open"],
    ),
    BulkChange(
        "bulk_assign",
        ("assign",),
        lambda w, t: {"action": "assign", "assign_to": f"agent:{w.users['admin']}"},
        lambda w, old, t: t.assignee_id == w.users["admin"],
    ),
    BulkChange(
        "bulk_transfer",
        ("transfer",),
        lambda w, t: {"action": "transfer", "department": w.ids[f"dept:{_transfer_to(t)}"]},
        lambda w, old, t: t.department_id != old.department_id,
    ),
]
BULK_BY_NAME = {b.name: b for b in BULK_CHANGES}


def bulk_expectation(persona: str, key: str, change: BulkChange) -> str:
    """From the rule table: what the bulk form says about the ticket."""
    if not PERSONAS[persona].is_agent:
        return LOGIN
    rel = relation(persona, key)
    if not rel.visible:
        return NOT_FOUND
    return ALLOWED if rel.allows(*change.needs) else FORBIDDEN


BULK_CELLS = wiring_cells(BULK_CHANGES, wiring_outcome(bulk_expectation))


def _summary(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("cell", BULK_CELLS, ids=situation_id)
def test_bulk_change(world, cell):
    persona, _, key, name = cell
    change = BULK_BY_NAME[name]
    ticket = world.ticket(key)
    rel = relation(persona, key)
    client = world.client(persona)
    before = snapshot(world)
    response = client.post("/staff/bulk/", {"ticket": [ticket.pk], **change.data(world, ticket)})

    assert response.status_code == 302
    if not PERSONAS[persona].is_agent:
        assert_sign_in(response)
        assert snapshot(world) == before
        return
    summary = _summary(response)
    if rel.visible and rel.allows(*change.needs):
        assert summary == ["1 changed"], summary
        assert change.effect(world, ticket, world.ticket(key))
        return
    assert snapshot(world) == before, "a refused bulk change changed something"
    assert_reveals_nothing(response, key)
    assert ticket.subject not in " ".join(summary)
    if rel.visible:
        assert summary[0].startswith(f"0 changed, 1 refused: #{ticket.number} — "), summary
        return
    # Invisible: the same words as for an id that does not exist.
    missing = world.client(persona).post(
        "/staff/bulk/", {"ticket": [ticket.pk + 10_000], **change.data(world, ticket)}
    )
    assert summary == _summary(missing) == ["0 changed, 1 not found (no longer visible to you)"]


# ---------------------------------------------------------------------------------------------
# The portal's reply form: requester side ("message")


PORTAL_REPLY = Endpoint("portal_reply")


def portal_expectation(persona: str, key: str, endpoint: Endpoint = PORTAL_REPLY) -> str:
    rel = relation(persona, key)
    if PERSONAS[persona].kind == "anonymous":
        return LOGIN
    if rel.participant and rel.visible:
        return ALLOWED
    if rel.visible and PERSONAS[persona].is_agent:
        return PANEL  # an agent working someone else's ticket answers from the panel
    return NOT_FOUND


@pytest.mark.parametrize(
    "cell", wiring_cells([PORTAL_REPLY], wiring_outcome(portal_expectation)), ids=situation_id
)
def test_portal_reply(world, cell):
    persona, _, key, _ = cell
    expected = portal_expectation(persona, key)
    ticket = world.ticket(key)
    client = world.client(persona)
    before = None if expected == ALLOWED else snapshot(world)
    response = client.post(f"/tickets/{ticket.number}/", {"message": MESSAGE_BODY})

    if expected == ALLOWED:
        assert response.status_code == 302
        entry = ticket.entries.get(body_text=MESSAGE_BODY)
        assert entry.kind == EntryKind.MESSAGE and entry.author_id == world.users[persona]
        return
    assert snapshot(world) == before, "a refused portal reply changed something"
    assert_reveals_nothing(response, key)
    if expected == PANEL:
        assert response.status_code == 302
        assert response["Location"] == f"/staff/tickets/{ticket.number}/"
        return
    if expected == LOGIN:
        assert_sign_in(response, panel=False)
    else:
        assert response.status_code == 404
    ghost = world.ghost_number(ticket.number)
    other = client.post(f"/tickets/{ghost}/", {"message": MESSAGE_BODY})
    assert normalised(response, ticket.number) == normalised(other, ghost)


# ---------------------------------------------------------------------------------------------
# A ticket opened by an agent on a requester's behalf (phone call, walk-in)

ON_BEHALF_CASES = [
    (persona, department, assigned)
    for persona in PERSONAS
    for department in (SUPPORT, BANKING, SYSADMINS)
    for assigned in (False, True)
]
ON_BEHALF_SUBJECT = "Matrix call from the front desk"
NEW_TICKET = Endpoint("new_ticket")


def on_behalf_expectation(persona: str, department: str, assigned: bool) -> str:
    """Agents open tickets in the departments they have a role in; handing the ticket to an
    agent at once is an assignment and needs the assign permission there."""
    who = PERSONAS[persona]
    if not who.is_agent:
        return LOGIN
    if who.kind == "admin":
        return ALLOWED
    role = who.roles.get(department)
    if role is None:
        return "refused"
    if assigned and "assign" not in ROLE_PERMISSIONS[role]:
        return "refused"
    return ALLOWED


def on_behalf_outcome(case: tuple, endpoint: Endpoint) -> tuple:
    """The answer, who asks (agent, admin, requester, nobody) and why a refusal refuses."""
    persona, department, assigned = case
    role = PERSONAS[persona].roles.get(department)
    return on_behalf_expectation(*case), PERSONAS[persona].kind, role is None, assigned


NEW_TICKET_CELLS = wiring_cells([NEW_TICKET], on_behalf_outcome, ON_BEHALF_CASES)


@pytest.mark.parametrize("cell", NEW_TICKET_CELLS, ids=situation_id)
def test_new_ticket_on_behalf(world, cell):
    persona, department, assigned, _ = cell
    expected = on_behalf_expectation(persona, department, assigned)
    client = world.client(persona)
    before = snapshot(world)
    data = {
        "requester_email": "walk.in@example.org",
        "requester_name": "Walk In",
        "source": "phone",
        "department": world.ids[f"dept:{department}"],
        "subject": ON_BEHALF_SUBJECT,
        "body": "Called about the printer.",
    }
    if assigned:
        data["assignee"] = world.users["admin"]
    response = client.post("/staff/tickets/new/", data)

    opened = Ticket.objects.filter(subject=ON_BEHALF_SUBJECT).first()
    if expected == ALLOWED:
        assert response.status_code == 302, response.content[:2000]
        assert opened is not None and opened.department.name == department
        assert opened.assignee_id == (world.users["admin"] if assigned else None)
        return
    assert opened is None, "a refused ticket was opened"
    assert snapshot(world) == before
    if expected == LOGIN:
        assert_sign_in(response)
    else:
        assert response.status_code in (400, 403), response.status_code


def test_collaborator_add_refused_creates_no_user(world):
    """A refused "add collaborator" must not create the person it names (checked before)."""
    client = world.client("victor")
    ticket = world.ticket("support")
    response = client.post(f"/staff/tickets/{ticket.number}/collaborators/", {"email": NEW_CC})
    assert response.status_code == 403
    assert not Collaborator.objects.filter(user__email=NEW_CC).exists()
    assert not User.objects.filter(email=NEW_CC).exists()


MERGERS = [p for p in ("john", "alice", "jane") if relation(p, merge_target(p)).allows("merge")]


@pytest.mark.parametrize("persona", MERGERS)
def test_merge_into_a_ticket_i_cannot_see(world, persona):
    """Merging into a ticket out of sight is refused like merging into one that does not exist:
    the same form error, the same page, and nothing merged."""
    source = world.ticket(merge_target(persona))
    hidden = next(k for k in ("sysadmins", "support") if not relation(persona, k).visible)
    into = world.numbers[hidden]
    client = world.client(persona)
    before = snapshot(world)
    response = client.post(f"/staff/tickets/{source.number}/merge/", {"into": into})
    assert response.status_code == 400
    assert snapshot(world) == before
    assert_reveals_nothing(response, hidden)
    ghost = world.ghost_number(into)
    other = client.post(f"/staff/tickets/{source.number}/merge/", {"into": ghost})
    assert normalised(response, into) == normalised(other, ghost)
