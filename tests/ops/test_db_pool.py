"""HELPLINE_DB_POOL: a psycopg connection pool per process on PostgreSQL (docs/scale.md)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))

PROBE = (
    "from concurrent.futures import ThreadPoolExecutor\n"
    "from django.db import connection, connections\n"
    "def query(_):\n"
    "    with connection.cursor() as c:\n"
    "        c.execute('SELECT pg_backend_pid()')\n"
    "        pid = c.fetchone()[0]\n"
    "    connections.close_all()\n"
    "    return pid\n"
    "with ThreadPoolExecutor(3) as ex:\n"
    "    pids = set(ex.map(query, range(30)))\n"
    "print('POOL', type(connection.pool).__name__, len(pids))\n"
)


@pytest.mark.skipif(not ON_POSTGRES, reason="a PostgreSQL pool; this pass runs on SQLite")
def test_the_pool_reuses_a_few_connections_across_threads():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(HELPLINE_DB_POOL="1", HELPLINE_DB_POOL_MAX="3", PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "helpline.cli", "shell", "-c", PROBE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("POOL "))
    _, kind, backends = line.split()
    # 30 queries from 3 threads, each closing its connection: served by at most 3 backends.
    assert kind == "ConnectionPool" and 1 <= int(backends) <= 3
