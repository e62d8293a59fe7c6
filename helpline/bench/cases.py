"""What `helpline bench run` measures: one Case per page, search, write or API call.

Each case knows its session (john the agent, admin, or an API key of john) and builds its i-th
request; anything it needs from the database (a deep keyset cursor, a ticket's version before
a reply) is read here, outside the timed request.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import urlencode

import requests

from helpline.accounts.models import User
from helpline.api.models import ApiKey, Scope
from helpline.tickets import access, queues
from helpline.tickets.models import State, Ticket


@dataclass
class Case:
    name: str
    group: str  # "queue", "search", "ticket", "reply", "api", "report", … (targets by group)
    session: requests.Session
    request: Callable[[int], tuple[str, str, dict]]  # i → (method, path, requests kwargs)
    note: str = ""


def _get(path: str) -> Callable[[int], tuple[str, str, dict]]:
    return lambda i: ("GET", path, {})


def deep_cursor(user, slug: str, sort: str, depth: int) -> tuple[str | None, int]:
    """The `after` cursor of page `depth` of a queue (or of its last page), and that page."""
    tickets = queues.QUEUES[slug].tickets(user)
    cursor, page_number = None, 1
    while page_number < depth:
        page = queues.page(tickets, sort, after=cursor)
        if page.next_cursor is None:
            break
        cursor, page_number = page.next_cursor, page_number + 1
    return cursor, page_number


def queue_cases(sessions, users, deep_page: int, out: TextIO) -> list[Case]:
    cases = []
    for slug, who in [(q.slug, "john") for q in queues.sidebar_queues()] + [("all", "admin")]:
        queue = queues.QUEUES[slug]
        path = f"/staff/queues/{slug}/"
        cases.append(Case(f"queue {slug} page 1 ({who})", "queue", sessions[who], _get(path)))
        out.write(f"  finding page {deep_page} of {slug} …\r")
        cursor, reached = deep_cursor(users[who], slug, queue.default_sort, deep_page)
        if cursor:
            query = urlencode({"after": cursor})
            cases.append(Case(f"queue {slug} page {reached} ({who})", "queue", sessions[who],
                              _get(f"{path}?{query}"), note=f"keyset page {reached}"))  # fmt: skip
    for slug in ("open", "all"):
        for key in queues.SORT_COLUMNS:
            for sort in (key, f"-{key}") if slug == "open" else (f"-{key}",):
                cases.append(Case(
                    f"sort {slug} by {sort} (john)", "queue" if slug == "open" else "sort-all",
                    sessions["john"], _get(f"/staff/queues/{slug}/?sort={sort}"),
                ))  # fmt: skip
    cases.append(Case("dashboard: count badges (john)", "queue", sessions["john"], _get("/staff/")))
    return cases


def search_cases(sessions, users, meta: dict) -> list[Case]:
    john = users["john"]
    number = access.visible_tickets(john).order_by("-pk").values_list("number", flat=True)[:1]
    words = [
        ("word in ~1% of tickets", meta.get("common_word") or "kerfuffle"),
        ("rare word", meta.get("rare_word") or "zyzzyva"),
        ("phrase", f'"{meta.get("phrase") or "blue screen of death"}"'),
        ("common word + filter", f"{meta.get('common_word') or 'kerfuffle'} status:open"),
    ]
    cases = [Case("quick search by number (john)", "search", sessions["john"],
                  _get(f"/staff/search/?{urlencode({'q': number[0] if number else '1'})}"),
                  note="302 to the ticket")]  # fmt: skip
    for label, text in words:
        path = f"/staff/search/?{urlencode({'q': text})}"
        for who in ("john", "admin"):
            cases.append(
                Case(f"search {label} ({who})", "search", sessions[who], _get(path), note=text)
            )
    cases.append(Case("search very common word (john)", "search-common", sessions["john"],
                      _get("/staff/search/?q=printer"), note="in ~20% of tickets"))  # fmt: skip
    return cases


def ticket_cases(sessions, users, meta: dict) -> list[Case]:
    john = users["john"]
    visible = access.visible_tickets(john)
    big = visible.filter(number__in=meta.get("big_tickets") or []).values_list("number", flat=True)
    number = big.first() or visible.order_by("-pk").values_list("number", flat=True).first()
    cases = [Case("ticket page, 50 entries (john)", "ticket", sessions["john"],
                  _get(f"/staff/tickets/{number}/"), note=f"#{number}")]  # fmt: skip
    targets = list(
        visible.filter(state=State.OPEN, department__name="Support")
        .order_by("-pk")
        .values_list("pk", "number")[:50]
    )
    session = sessions["john"]

    def reply(i: int):
        pk, ticket_number = targets[i % len(targets)]
        version = Ticket.objects.values_list("version", flat=True).get(pk=pk)
        data = {
            "body": f"Bench reply {i}: please restart the router and try again.",
            "version": version,
            "csrfmiddlewaretoken": session.cookies.get("csrftoken"),
        }
        path = f"/staff/tickets/{ticket_number}/reply/"
        return "POST", path, {"data": data, "headers": {"Referer": "http://127.0.0.1/"}}

    if targets:
        cases.append(Case("post a reply (john)", "reply", session, reply, note="302 expected"))
    return cases


def api_cases(users) -> list[Case]:
    _, key = ApiKey.issue(
        users["john"], name="bench", scopes=[Scope.TICKETS_READ, Scope.TICKETS_WRITE],
        rate_limit=10**9,
    )  # fmt: skip
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"

    def create(i: int):
        body = {"subject": f"Bench API ticket {i}", "body": "The printer jams on page two.",
                "requester_email": f"bench-api-{i % 50}@customer.example"}  # fmt: skip
        return (
            "POST",
            "/api/v1/tickets",
            {"data": json.dumps(body), "headers": {"Content-Type": "application/json"}},
        )

    return [
        Case("API list 50 (john key)", "api", api, _get("/api/v1/tickets?limit=50")),
        Case("API list q=word (john key)", "api", api, _get("/api/v1/tickets?q=kerfuffle")),
        Case("API create (john key)", "api", api, create, note="201 expected"),
    ]


def build_cases(sessions: dict, meta: dict, deep_page: int, out: TextIO) -> list[Case]:
    """Every case, in the order they run."""
    users = {u.username: u for u in User.objects.filter(username__in=list(sessions))}
    cases = queue_cases(sessions, users, deep_page, out)
    cases += search_cases(sessions, users, meta)
    cases += ticket_cases(sessions, users, meta)
    cases += api_cases(users)
    cases.append(Case("90-day report (admin)", "report", sessions["admin"],
                      _get("/staff/reports/")))  # fmt: skip
    return cases
