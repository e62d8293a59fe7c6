"""`helpline bench live`: the idle cost of agents watching queues with live updates.

Each simulated agent holds the pulse token its queue page would carry (its scopes and the 50
tickets of its first page) and asks `/staff/pulse/` with the stamp it last saw, as staff.js does
every POLL_SECONDS. Nothing changes meanwhile, so every answer is the 304 of an idle desk. The
requests go through Django's whole request handling (middleware, URL resolution, view) in this
process; the figure is the server's CPU time per poll, scaled to `agents` polling every
POLL_SECONDS, and the SQL statements per poll. HTTP parsing by gunicorn is not included.
"""

import time
from typing import TextIO

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from helpline.accounts.models import User
from helpline.tickets import access
from helpline.workspace import pulse


def run(out: TextIO, agents: int = 200, rounds: int = 5) -> dict:
    people = [u for u in User.objects.filter(is_active=True).order_by("pk") if access.is_agent(u)]
    if not people:
        raise ValueError("No agents in this database: run `helpline bench seed` or load the demo.")
    tokens = []
    for i in range(agents):
        user = people[i % len(people)]
        ids = list(
            access.visible_tickets(user).order_by("-updated_at").values_list("pk", flat=True)[:50]
        )
        tokens.append(pulse.issue(user, pulse.agent_scopes(user), ids))
    client = Client()
    etags = [client.get("/staff/pulse/", {"t": t})["ETag"] for t in tokens]
    statuses: dict[int, int] = {}
    with CaptureQueriesContext(connection) as queries:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            for token, etag in zip(tokens, etags, strict=True):
                code = client.get(
                    "/staff/pulse/", {"t": token}, headers={"If-None-Match": etag}
                ).status_code
                statuses[code] = statuses.get(code, 0) + 1
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    polls = agents * rounds
    per_poll_ms = 1000 * cpu / polls
    polls_per_second = agents / pulse.POLL_SECONDS
    result = {
        "agents": agents,
        "poll_seconds": pulse.POLL_SECONDS,
        "polls": polls,
        "statuses": statuses,
        "cpu_ms_per_poll": round(per_poll_ms, 3),
        "wall_ms_per_poll": round(1000 * wall / polls, 3),
        "queries_per_poll": round(len(queries.captured_queries) / polls, 2),
        "queries_per_second": round(polls_per_second * len(queries.captured_queries) / polls, 1),
        "share_of_one_core": round(polls_per_second * per_poll_ms / 1000, 4),
    }
    out.write(
        f"{agents} agents polling every {pulse.POLL_SECONDS} s: {polls_per_second:.0f} polls/s, "
        f"{result['cpu_ms_per_poll']} ms CPU and {result['queries_per_poll']} queries per poll "
        f"→ {100 * result['share_of_one_core']:.1f}% of one core, "
        f"{result['queries_per_second']} queries/s (answers: {statuses}).\n"
    )
    return result
