"""Internal notes are searchable only on the tickets the searcher works as an agent.

An agent who merely requested a ticket in another department (or is CC'd on it) sees it as a
requester does, without internal notes: searching must not find it by a note's words either,
whole, by prefix, or through an exclusion ("word -noteword" finding it or not). Runs on SQLite
(FTS5) and PostgreSQL (tsvector) alike.
"""

import pytest
from django.test import Client

from helpline.api.models import ApiKey, Scope
from helpline.search.query import search
from helpline.tickets import actions

NOTE_WORD = "quillwort"
PUBLIC_WORD = "marmalade"


@pytest.fixture(params=["requester", "collaborator"])
def jane_outside(request, org, john, jane, karen):
    """A Support ticket (Jane has no role in Support) that Jane requested or is CC'd on, with an
    internal note by John."""
    if request.param == "requester":
        ticket = actions.open_ticket(
            jane, requester=jane, subject=f"{PUBLIC_WORD} on my keyboard",
            body="The keys stick.", help_topic=org.topic("General Inquiry"),
        )  # fmt: skip
    else:
        ticket = actions.open_ticket(
            karen, requester=karen, subject=f"{PUBLIC_WORD} on my keyboard",
            body="The keys stick.", help_topic=org.topic("General Inquiry"),
        )  # fmt: skip
        actions.add_collaborator(john, ticket, jane)
    actions.add_note(john, ticket, f"Internal: {NOTE_WORD} budget code for the replacement.")
    return ticket


def numbers_searched(user, text):
    return {t.number for t in search(user, text)}


def staff_search(user, text):
    client = Client()
    client.force_login(user)
    response = client.get("/staff/search/", {"q": text})
    assert response.status_code == 200, response.status_code
    return {t.number for t in response.context["page"].tickets}


def api_search(user, text):
    _, key = ApiKey.issue(user, name="search test key", scopes=[Scope.TICKETS_READ])
    response = Client().get(
        "/api/v1/tickets", {"q": text}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.content
    return {item["number"] for item in response.json()["items"]}


@pytest.mark.parametrize("way", [numbers_searched, staff_search, api_search])
def test_a_note_word_does_not_find_a_ticket_the_agent_only_requested(jane_outside, jane, way):
    assert way(jane, NOTE_WORD) == set()
    assert way(jane, NOTE_WORD[:5] + "*") == set()
    assert way(jane, f'"{NOTE_WORD} budget"') == set()
    # The public words still find it: she may see the ticket, as a requester.
    assert way(jane, PUBLIC_WORD) == {jane_outside.number}
    assert way(jane, PUBLIC_WORD[:4] + "*") == {jane_outside.number}


@pytest.mark.parametrize("way", [numbers_searched, staff_search, api_search])
def test_an_exclusion_does_not_reveal_a_note_word(jane_outside, jane, way):
    # If "-noteword" excluded the ticket, comparing with and without it would reveal the note.
    assert way(jane, f"{PUBLIC_WORD} -{NOTE_WORD}") == {jane_outside.number}
    assert way(jane, f"{PUBLIC_WORD} -{NOTE_WORD[:5]}*") == {jane_outside.number}
    assert jane_outside.number not in way(jane, f"-{PUBLIC_WORD}")
    assert jane_outside.number in way(jane, f"-{NOTE_WORD}")


@pytest.mark.parametrize("way", [numbers_searched, staff_search, api_search])
def test_the_agents_of_the_ticket_find_it_by_its_notes(jane_outside, john, admin_user, way):
    for user in (john, admin_user):
        assert way(user, NOTE_WORD) == {jane_outside.number}
        assert way(user, NOTE_WORD[:5] + "*") == {jane_outside.number}
        assert way(user, f"{PUBLIC_WORD} -{NOTE_WORD}") == set()
        assert jane_outside.number not in way(user, f"-{NOTE_WORD}")


def test_notes_still_count_on_the_tickets_the_agent_works(jane_outside, org, jane, karen):
    # Notes are decided per ticket, not per person: Jane's own department's notes are found.
    banking = actions.open_ticket(
        karen, requester=karen, subject="Card payments fail", body="Since noon.",
        help_topic=org.topic("Business Critical Outage"),
    )  # fmt: skip
    actions.add_note(jane, banking, f"Internal: {NOTE_WORD} again, see the Support ticket.")
    assert numbers_searched(jane, NOTE_WORD) == {banking.number}
    assert numbers_searched(jane, NOTE_WORD[:5] + "*") == {banking.number}
    assert numbers_searched(jane, f"-{NOTE_WORD}") >= {jane_outside.number}
    assert banking.number not in numbers_searched(jane, f"-{NOTE_WORD}")
    assert api_search(jane, NOTE_WORD) == {banking.number}


def test_an_assignment_across_departments_makes_the_notes_searchable(jane_outside, john, jane):
    # Assigned to her in an unrestricted department, she works it (role_for is not None).
    actions.assign(john, jane_outside, agent=jane)
    assert numbers_searched(jane, NOTE_WORD) == {jane_outside.number}
