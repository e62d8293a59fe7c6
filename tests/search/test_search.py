"""Full-text search through the queues, the quick search and the API, on SQLite and PostgreSQL."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from helpline.api.models import ApiKey, Scope
from helpline.search import query as search_query
from helpline.search.query import search
from helpline.tickets import actions, queues
from helpline.tickets.models import Ticket

from .conftest import open_for


def found(user, text, queue="all"):
    """Names (library keys) of the tickets `user` finds with `text` in a queue."""
    return {t.subject for t in queues.QUEUES[queue].tickets(user, {"text": text})}


def subjects(library, *keys):
    return {library[k].subject for k in keys}


def test_words_are_stemmed_and_searched_in_subject_and_thread(library, john):
    # "printer" is in John's Support tickets' subject or body; "printers" stems to it.
    assert found(john, "printer") == subjects(library, "printer", "vpn")
    assert found(john, "PRINTERS") == subjects(library, "printer", "vpn")
    assert found(john, "jam") == subjects(library, "printer")


def test_every_word_must_match(library, john):
    assert found(john, "printer tunnel") == subjects(library, "vpn")
    assert found(john, "printer nonexistentword") == set()


def test_a_phrase_needs_its_words_in_order(library, john):
    assert found(john, "blue screen") == subjects(library, "screen", "reverse")
    assert found(john, '"blue screen"') == subjects(library, "screen")


def test_exclusion_and_prefix(library, john):
    assert found(john, "printer -tunnel") == subjects(library, "printer")
    assert found(john, "-tunnel") == subjects(library, "printer", "screen", "reverse")
    assert found(john, "flick*") == subjects(library, "reverse")


def test_field_filters(library, john, jane):
    assert found(john, "printer assignee:me") == subjects(library, "vpn")
    assert found(john, "status:open -assignee:me printer") == subjects(library, "printer")
    assert found(john, "dept:support screen") == subjects(library, "screen", "reverse")
    assert found(jane, 'dept:"Online Banking"') == subjects(library, "banking")
    assert found(jane, "printer -dept:sysadmins") == subjects(library, "banking")
    assert found(john, "requester:karen@example.com") == subjects(library, "printer", "vpn")
    assert found(john, f"number:{library['vpn'].number}") == subjects(library, "vpn")
    assert found(john, "priority:normal status:closed") == set()


def test_number_and_requester_address(library, john):
    number = library["screen"].number
    assert found(john, number) == subjects(library, "screen")
    assert found(john, f"#{number}") == subjects(library, "screen")
    assert found(john, "ken@example.com") == subjects(library, "screen")
    assert found(john, "ken@example") == subjects(library, "screen")
    assert found(john, "karen miller") == subjects(library, "printer", "vpn")


def test_results_never_include_tickets_the_agent_cannot_see(library, john, jane, admin_user):
    assert found(jane, "printer") == subjects(library, "banking", "sysadmins")
    assert found(admin_user, "printer") == subjects(
        library, "printer", "vpn", "banking", "sysadmins"
    )
    assert {t.subject for t in search(john, "printer")} == subjects(library, "printer", "vpn")


def test_internal_notes_are_searched_for_agents_only(library, john, ken):
    assert found(john, "zebracorn") == subjects(library, "screen")
    assert {t.subject for t in search(ken, "zebracorn")} == set()
    assert {t.subject for t in search(ken, "blue screen")} == subjects(library, "screen")
    # Exclusions must not reveal a note either.
    assert {t.subject for t in search(ken, "screen -zebracorn")} == subjects(library, "screen")


def test_ranked_top_n_keeps_the_best_matches(library, john, monkeypatch):
    # "printer" is in the subject of one ticket and only in the thread of the other.
    monkeypatch.setattr(search_query, "TOP_N", 1)
    assert found(john, "printer") == subjects(library, "printer")


def test_the_index_follows_the_thread_and_the_subject(library, john, karen, org):
    ticket = library["printer"]
    actions.reply(john, ticket, "Replaced the fuser unit.")
    assert found(john, "fuser") == subjects(library, "printer")
    actions.add_message(karen, ticket, "Thanks, the quokka stapler works too.")
    assert found(john, "quokka") == subjects(library, "printer")
    actions.set_subject(john, ticket, "Laser unit replaced")
    assert found(john, "laser") == {"Laser unit replaced"}
    assert found(john, "jammed") == set()  # the old subject is gone


def test_status_changes_do_not_touch_the_index(library, john, org):
    ticket = library["printer"]
    with CaptureQueriesContext(connection) as ctx:
        actions.set_status(john, ticket, org.status("Resolved"))
        actions.assign(john, ticket, agent=john)
    assert not [q for q in ctx.captured_queries if "search_" in q["sql"]]


def test_a_merge_moves_the_words(library, john):
    actions.merge(john, library["vpn"], into=library["printer"])
    assert "tunnel" in " ".join(library["printer"].entries.values_list("body_text", flat=True))
    assert found(john, "tunnel") == subjects(library, "printer")


def test_a_requester_renamed_is_found_by_the_new_name(library, john, karen):
    karen.name = "Karen Quimby"
    karen.save()
    assert found(john, "quimby") == subjects(library, "printer", "vpn")


def test_deleted_tickets_leave_the_index(library, admin_user):
    library["printer"].delete()
    assert found(admin_user, "jammed") == set()


def test_reindex_rebuilds_a_lost_index(library, john):
    with connection.cursor() as cursor:
        table = "search_ticket_fts" if connection.vendor == "sqlite" else "search_ticketdocument"
        cursor.execute(f"DELETE FROM {table}")
    assert found(john, "printer") == set()
    call_command("reindex", "--batch", "2", stdout=io.StringIO(), stderr=io.StringIO())
    assert found(john, "printer") == subjects(library, "printer", "vpn")


def test_a_text_filter_adds_no_query_to_a_queue_page(library, john, client):
    client.force_login(john)
    client.get("/staff/queues/open/")
    with CaptureQueriesContext(connection) as plain:
        client.get("/staff/queues/open/")
    with CaptureQueriesContext(connection) as searched:
        response = client.get("/staff/queues/open/", {"text": 'printer -"blue screen"'})
    assert len(searched.captured_queries) == len(plain.captured_queries)
    numbers = [t.number for t in response.context["page"].tickets]
    assert set(numbers) == {library["printer"].number, library["vpn"].number}


def test_quick_search_uses_full_text(library, john, client):
    client.force_login(john)
    response = client.get("/staff/search/", {"q": '"blue screen" status:open'})
    assert response.status_code == 200
    assert [t.number for t in response.context["page"].tickets] == [library["screen"].number]
    # A visible ticket's number still opens it.
    response = client.get("/staff/search/", {"q": f"#{library['screen'].number}"})
    assert response.status_code == 302


@pytest.mark.parametrize(
    "text",
    ['"', "-", "*", "AND OR NOT", "NEAR(a b)", "a:b:c", "'; DROP TABLE x; --", "\x00<x>",
     "{number} : x", "^foo", "café*", "x" * 500, "-status:", "status:nonsense", "ü*"],
)  # fmt: skip
def test_odd_input_never_fails(library, john, client, text):
    client.force_login(john)
    assert client.get("/staff/search/", {"q": text}).status_code in (200, 302)
    assert client.get("/staff/queues/all/", {"text": text}).status_code == 200


def test_api_q_uses_the_same_syntax_and_notes_stay_private(library, john, ken):
    def listed(user, q):
        _, key = ApiKey.issue(user, name="t", scopes=[Scope.TICKETS_READ])
        response = Client().get(
            "/api/v1/tickets", {"q": q}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200, response.content
        return {item["number"] for item in response.json()["items"]}

    assert listed(john, "printer -tunnel") == {library["printer"].number}
    assert listed(john, "zebracorn") == {library["screen"].number}
    assert listed(ken, "zebracorn") == set()
    assert listed(ken, "blue") == {library["screen"].number}


def test_tickets_saved_directly_are_indexed_too(demo, karen, org):
    Ticket.objects.create(
        number="D000001", subject="Projector humming", requester=karen,
        department=org.dept("Support"), priority=org.priority("normal"),
        status=org.status("Open"),
    )  # fmt: skip
    assert {t.number for t in search(karen, "humming")} == {"D000001"}


def test_a_new_ticket_is_found_by_its_first_message(demo, karen, john):
    open_for(karen, "Hello", "Axolotl tank heater broken.")
    assert found(john, "axolotl") == {"Hello"}
