"""DATABASE_REPLICA_URL: reports, search and the API's ticket list read from the replica; writes,
everything else and any read inside a transaction stay on the primary.

Two real databases in subprocesses: the replica is a copy of the primary that holds one ticket
more, so where each read went shows in what it finds.
"""

import json
import shutil

import pytest

from tests.ops.test_backup import ON_POSTGRES, Helpdesk

PROBE = """
import json
from django.db import transaction
from django.test import Client
from helpline.accounts.models import User
from helpline.api.models import ApiKey, Scope
from helpline.replica import reading
from helpline.reports.sqlparts import Fragment, fetch
from helpline.tickets import access, queues

john = User.objects.get(username="john")
_, key = ApiKey.issue(john, name="probe", scopes=[Scope.TICKETS_READ])   # a write: the primary
bearer = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
api = Client(HTTP_HOST="127.0.0.1").get("/api/v1/tickets", **bearer).json()
found = queues.text_matches(access.visible_tickets(john), "zebra", john)
count = "SELECT COUNT(*) AS n FROM tickets_ticket"
with transaction.atomic():
    inside = (reading(), fetch(Fragment(count, []))[0]["n"])
print("PROBE " + json.dumps({
    "reading": reading(),
    "api": sorted(t["subject"] for t in api["items"]),
    "search": sorted(t.subject for t in found),
    "report": fetch(Fragment(count, []))[0]["n"],
    "inside": inside,
    "keys_on_primary": ApiKey.objects.using("default").count(),
    "keys_on_replica": ApiKey.objects.using("replica").count(),
}))
"""


@pytest.mark.skipif(ON_POSTGRES, reason="two SQLite files; the routing is the same on PostgreSQL")
def test_lag_tolerant_reads_go_to_the_replica_and_writes_to_the_primary(tmp_path):
    primary = Helpdesk(tmp_path / "primary")
    primary.run("migrate", "--noinput", "-v0")
    primary.run("demo")
    opened = (
        "from helpline.accounts.models import User; from helpline.tickets import actions; "
        "k = User.objects.get(username='karen'); "
        "actions.open_ticket(k, requester=k, subject='{subject}', body='A zebra ate the cable.')"
    )
    primary.shell(opened.format(subject="On both"))
    replica_file = tmp_path / "replica.sqlite3"
    shutil.copy(tmp_path / "primary" / "helpline.sqlite3", replica_file)
    replica = Helpdesk(tmp_path / "replica", f"sqlite:///{replica_file}")
    replica.shell(opened.format(subject="Only on the replica"))

    primary.env["DATABASE_REPLICA_URL"] = f"sqlite:///{replica_file}"
    out = primary.shell(PROBE)
    seen = json.loads(next(x for x in out.splitlines() if x.startswith("PROBE "))[6:])
    assert seen["reading"] == "replica"
    assert seen["api"] == ["On both", "Only on the replica"]
    assert seen["search"] == ["On both", "Only on the replica"]
    assert seen["report"] == 2
    assert seen["inside"] == ["default", 1]  # in a transaction: read your own writes
    assert seen["keys_on_primary"] == 1 and seen["keys_on_replica"] == 0
