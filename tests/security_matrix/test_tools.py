"""Channel 2, continued: agent-panel and portal pages about no ticket in particular.

Who may open each page (everyone, agents, administrators, the owner of a saved search), what it
must show, and what it never shows: internal knowledge base articles on the portal or in the
reply box's picker, requesters' addresses to anyone but agents, report figures of tickets the
viewer cannot see, another agent's saved search.
"""

import csv
import io
from dataclasses import dataclass

import pytest

from helpline.tickets.models import SavedSearch
from tests.security_matrix.conftest import (
    CANNED_TITLE,
    KB_INTERNAL,
    KB_PUBLIC,
    PERSONAS,
    SPECS,
    assert_sign_in,
    relation,
    situation_id,
    subject_of,
    text_of,
    wiring_cells,
)

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Tool:
    """A page; `who` may open it: everyone, agents, admin, or owner (of the saved search)."""

    name: str
    url: str
    who: str
    shows: str = ""
    never: str = ""


INTERNAL_SLUG = KB_INTERNAL.lower().replace(" ", "-")
TOOLS = [
    Tool("kb_pick", "/staff/kb/pick/?q=printer+matrix", "agents", KB_PUBLIC, KB_INTERNAL),
    Tool(
        "kb_suggestions",
        "/kb/suggestions/?subject=printer+matrix",
        "everyone",
        KB_PUBLIC,
        KB_INTERNAL,
    ),  # fmt: skip
    Tool("kb_portal_search", "/kb/?q=printer+matrix", "everyone", KB_PUBLIC, KB_INTERNAL),
    Tool("kb_staff_index", "/staff/kb/", "agents", KB_INTERNAL),
    Tool("kb_editor", "/staff/kb/new/", "admin"),
    Tool("requester_lookup", "/staff/requesters/lookup/?q=ken", "agents", "ken@example.com"),
    Tool("dashboard", "/staff/", "agents"),
    Tool("canned_index", "/staff/canned/", "agents", CANNED_TITLE),
    Tool("reports", "/staff/reports/?period=7d&group=department", "agents"),
    Tool("rules_dry_run", "/staff/rules/dry-run/", "admin"),
    Tool("saved_search", "/staff/searches/{saved_search}/", "owner"),
    # Internal articles are for the agent panel: the portal has no such page, even for agents.
    Tool("kb_internal_on_portal", f"/kb/{INTERNAL_SLUG}/", "nobody", "", KB_INTERNAL),
    Tool("kb_internal_in_panel", f"/staff/kb/{INTERNAL_SLUG}/", "agents", KB_INTERNAL),
]
TOOLS_BY_NAME = {t.name: t for t in TOOLS}
SAVED_SEARCH_OWNER = "john"


def tool_expectation(persona: str, tool: Tool) -> int | str:
    who = PERSONAS[persona]
    if tool.who == "everyone":
        return 200
    if tool.who == "nobody":
        return 404
    if not who.is_agent:
        return "login"
    if tool.who == "admin":
        return 200 if who.kind == "admin" else 403
    if tool.who == "owner":
        return 200 if persona == SAVED_SEARCH_OWNER else 404
    return 200


def tool_outcome(persona: tuple, tool: Tool) -> tuple:
    """The answer, and who asks (agent, admin, requester, nobody)."""
    return tool_expectation(persona[0], tool), PERSONAS[persona[0]].kind


# One cell per page and outcome (`wiring_cells`): who may open it, who may not, who must sign in.
TOOL_CELLS = wiring_cells(TOOLS, tool_outcome, [(p,) for p in PERSONAS])


@pytest.mark.parametrize("cell", TOOL_CELLS, ids=situation_id)
def test_tool(world, cell):
    persona, name = cell
    tool = TOOLS_BY_NAME[name]
    expected = tool_expectation(persona, tool)
    response = world.client(persona).get(tool.url.format(**world.ids))
    text = text_of(response)
    assert not tool.never or tool.never not in text
    if expected == "login":
        assert_sign_in(response)
        assert not tool.shows or tool.shows not in text
        return
    assert response.status_code == expected
    if expected == 200:
        assert tool.shows in text


@pytest.mark.parametrize("persona", PERSONAS)
def test_delete_another_agents_saved_search(world, persona):
    """Only its owner may delete a saved search; for anyone else it does not exist."""
    response = world.client(persona).post(f"/staff/searches/{world.ids['saved_search']}/delete/")
    exists = SavedSearch.objects.filter(pk=world.ids["saved_search"]).exists()
    if not PERSONAS[persona].is_agent:
        assert_sign_in(response)
        assert exists
    elif persona == SAVED_SEARCH_OWNER:
        assert response.status_code == 302 and not exists
    else:
        assert response.status_code == 404 and exists


def _worked_per_department(persona: str) -> dict[str, int]:
    """From the rule table: how many of the world's tickets the persona works (sees as an agent),
    per department. A ticket an agent only sees as its requester is not among their figures."""
    counts: dict[str, int] = {}
    for key, spec in SPECS.items():
        if relation(persona, key).works:
            counts[spec.department] = counts.get(spec.department, 0) + 1
    return counts


@pytest.mark.parametrize("persona", PERSONAS)
def test_report_counts_only_visible_tickets(world, persona):
    """The reports' figures (here: tickets created, per department) count only tickets the viewer
    works: no row, no number, for a department whose tickets they cannot see, nor for one where
    they are only a requester."""
    url = "/staff/reports/export/volume.csv?period=7d&group=department"
    response = world.client(persona).get(url)
    if not PERSONAS[persona].is_agent:
        assert_sign_in(response)
        return
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(text_of(response))))
    created = {row[0]: int(row[1]) for row in rows[1:] if row and row[0] != "All"}
    expected = _worked_per_department(persona)
    assert created == expected


QUEUE_SLUGS = ("all", "open", "mine", "teams", "unassigned")
QUEUE_CELLS = [(p, slug) for p, who in PERSONAS.items() if who.is_agent for slug in QUEUE_SLUGS]


def _listed_in(persona: str, slug: str, key: str) -> bool:
    """From the rule table: does this queue list this ticket for this agent?"""
    spec, who = SPECS[key], PERSONAS[persona]
    if not relation(persona, key).visible:
        return False
    if slug == "mine":
        return spec.assignee == persona
    if slug == "teams":
        return spec.team is not None and spec.team in who.teams
    if slug == "unassigned":
        return spec.assignee is None and spec.team is None
    return True


@pytest.mark.parametrize("cell", QUEUE_CELLS, ids=situation_id)
def test_queue_lists_only_visible_tickets(world, cell):
    """Each queue's results (the htmx partial) list exactly the tickets the rules allow."""
    persona, slug = cell
    headers = {"HX-Request": "true", "HX-Target": "queue-results"}
    response = world.client(persona).get(f"/staff/queues/{slug}/", headers=headers)
    assert response.status_code == 200
    text = text_of(response)
    listed = {key for key in SPECS if subject_of(key) in text}
    assert listed == {key for key in SPECS if _listed_in(persona, slug, key)}


@pytest.mark.parametrize("persona", [p for p, who in PERSONAS.items() if who.is_agent])
def test_dashboard_lists_only_visible_tickets(world, persona):
    """The dashboard's "my tickets" never shows a ticket assigned to me that I cannot see."""
    text = text_of(world.client(persona).get("/staff/"))
    listed = {key for key in SPECS if subject_of(key) in text}
    assert listed == {key for key in SPECS if _listed_in(persona, "mine", key)}
