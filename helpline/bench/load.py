"""`helpline bench seed`: stream generated rows into the database as fast as it takes them.

PostgreSQL: COPY (psycopg's `cursor.copy`), one transaction per batch. When the load at least
doubles the tickets, secondary indexes are dropped first and rebuilt afterwards (building an
index once is much cheaper than updating it row by row), two at a time; then the search
documents are built by the database in id ranges on two connections, then the GIN index, then
ANALYZE. SQLite: executemany inserts and the FTS5 rows batch by batch.
"""

import contextlib
import json
import queue
import random
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.db import DatabaseError, connections, transaction

from helpline.bench.data import Batch, TicketRows, now, prepare_org
from helpline.bench.text import TextPool
from helpline.search import index
from helpline.tickets.models import Ticket

BATCH = 5000
DOC_CHUNK = 20000
LOADED_TABLES = (
    "tickets_ticket", "tickets_threadentry", "tickets_event", "tickets_attachment",
    "tickets_collaborator", index.DOCUMENT_TABLE,
)  # fmt: skip
GIN_TABLE = index.DOCUMENT_TABLE


class Progress:
    """A one-line progress bar on stderr: done/total, rate and time left."""

    def __init__(self, label: str, total: int, out: TextIO = sys.stderr):
        self.label, self.total, self.out = label, total, out
        self.started = time.monotonic()

    def update(self, done: int) -> None:
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed else 0
        left = (self.total - done) / rate if rate else 0
        width = 30
        filled = int(width * done / self.total) if self.total else width
        self.out.write(
            f"\r{self.label}: [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
            f"{rate:,.0f}/s, {left:,.0f} s left   "
        )
        self.out.flush()

    def finish(self) -> float:
        elapsed = time.monotonic() - self.started
        self.out.write(f"\r{self.label}: {self.total} in {elapsed:.1f} s{' ' * 40}\n")
        return elapsed


def seed(
    tickets: int,
    *,
    batch: int = BATCH,
    rng_seed: int = 42,
    using: str = "default",
    out: TextIO = sys.stderr,
    drop_indexes: bool = True,
    record: bool = True,
    threads: int = 2,
) -> dict:
    """Add `tickets` generated tickets (with thread, history, search index); return metadata.

    `drop_indexes` lets a big PostgreSQL load rebuild secondary indexes afterwards; `record`
    remembers the seed in var/bench/seed.json for `bench run`; `threads` build indexes and
    search documents in parallel (each on its own connection: they see committed data only).
    """
    connection = connections[using]
    if connection.vendor not in ("postgresql", "sqlite"):
        raise ValueError("The bench data set needs PostgreSQL or SQLite.")
    timings: dict[str, float] = {}
    started = time.monotonic()
    rng = random.Random(rng_seed + Ticket.objects.using(using).count())
    pool = TextPool(rng)
    org = prepare_org(tickets, rng, pool)
    timings["organisation"] = time.monotonic() - started
    rows = TicketRows(org, pool, rng, tickets, now())
    writer = (PgWriter if connection.vendor == "postgresql" else SqliteWriter)(
        using, rows, tickets, out
    )
    writer.drop_indexes, writer.threads = drop_indexes, threads
    first_id = rows.ids["tickets"]
    try:
        writer.before()
        progress = Progress("tickets", tickets, out)
        for done, chunk in enumerate(rows.batches(batch), 1):
            writer.write(chunk)
            progress.update(min(tickets, done * batch))
        timings["rows"] = progress.finish()
        timings.update(writer.after(first_id, rows.ids["tickets"] - 1))
    finally:
        writer.close()
    timings["total"] = time.monotonic() - started
    meta = {**rows.meta, "tickets": tickets, "first_ticket_id": first_id,
            "last_ticket_id": rows.ids["tickets"] - 1, "vendor": connection.vendor,
            "seconds": {k: round(v, 1) for k, v in timings.items()}}  # fmt: skip
    if record:
        save_meta(meta)
    return meta


def meta_path() -> Path:
    return Path(settings.VAR_DIR) / "bench" / "seed.json"


def save_meta(meta: dict) -> None:
    """Remember what was seeded (merged with earlier seeds of the same database)."""
    path = meta_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    runs = []
    if path.exists():
        try:
            runs = json.loads(path.read_text()).get("runs", [])
        except (ValueError, AttributeError):
            runs = []
    runs.append(meta)
    path.write_text(json.dumps({"runs": runs}, indent=2, default=str))


def load_meta() -> dict:
    """The seeds recorded for this database: big tickets, marker words (empty if none)."""
    path = meta_path()
    if not path.exists():
        return {}
    runs = json.loads(path.read_text()).get("runs", [])
    return {
        "runs": runs,
        "big_tickets": [n for r in runs for n in r.get("big_tickets", [])],
        "common_word": runs[-1]["common_word"] if runs else "",
        "rare_word": runs[-1]["rare_word"] if runs else "",
        "phrase": runs[-1]["phrase"] if runs else "",
    }


# ---------------------------------------------------------------------------------------------
# Writers


class SqliteWriter:
    """executemany per table, one transaction per batch; FTS rows built in the same one."""

    def __init__(self, using: str, rows: TicketRows, total: int, out: TextIO):
        self.using, self.rows, self.out = using, rows, out
        self.drop_indexes, self.threads = False, 1

    def before(self) -> None:
        pass

    def write(self, batch: Batch) -> None:
        with transaction.atomic(using=self.using), connections[self.using].cursor() as cursor:
            for key, table in self.rows.tables.items():
                data = batch.rows[key]
                if not data:
                    continue
                columns = ", ".join(table.columns)
                marks = ", ".join(["%s"] * len(table.columns))
                cursor.executemany(
                    f"INSERT INTO {table.name} ({columns}) VALUES ({marks})",
                    [row + table.extra for row in data],
                )
            index.index_range(batch.first_ticket_id, batch.last_ticket_id, using=self.using)

    def after(self, first_id: int, last_id: int) -> dict[str, float]:
        started = time.monotonic()
        with connections[self.using].cursor() as cursor:
            cursor.execute("ANALYZE")
        return {"analyze": time.monotonic() - started}

    def close(self) -> None:
        pass


class PgWriter:
    """COPY per table and batch; indexes dropped for a big load and rebuilt after."""

    def __init__(self, using: str, rows: TicketRows, total: int, out: TextIO):
        self.using, self.rows, self.total, self.out = using, rows, total, out
        self.dropped: list[tuple[str, str, str]] = []  # (table, name, definition)
        self.drop_indexes, self.threads = True, 2

    def _cursor(self):
        return connections[self.using].cursor()

    def before(self) -> None:
        existing = Ticket.objects.using(self.using).count()
        with self._cursor() as cursor:
            # Skip per-row foreign-key triggers (the data is consistent). Only a superuser may;
            # otherwise the checks stay on and the load is a little slower.
            with contextlib.suppress(DatabaseError):
                cursor.execute("SET session_replication_role = replica")
            # Indexes an interrupted seed dropped and never rebuilt come back at the end.
            self.dropped = _pending_indexes() if self.drop_indexes else []
            if not self.drop_indexes or self.total < existing:
                return
            cursor.execute(
                """SELECT c.relname, i.relname, pg_get_indexdef(x.indexrelid)
                   FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                   JOIN pg_class c ON c.oid = x.indrelid
                   WHERE c.relname = ANY(%s)
                     AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
                """,
                [list(LOADED_TABLES)],
            )
            self.dropped += [tuple(row) for row in cursor.fetchall()]
            _save_pending_indexes(self.dropped)
            for _, name, _ in self.dropped:
                cursor.execute(f'DROP INDEX IF EXISTS "{name}"')

    def write(self, batch: Batch) -> None:
        connection = connections[self.using]
        with transaction.atomic(using=self.using):
            connection.ensure_connection()
            with connection.connection.cursor() as cursor:
                for key, table in self.rows.tables.items():
                    data = batch.rows[key]
                    if not data:
                        continue
                    columns = ", ".join(table.columns)
                    with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
                        extra = table.extra
                        for row in data:
                            copy.write_row(row + extra)

    def after(self, first_id: int, last_id: int) -> dict[str, float]:
        timings = {}
        started = time.monotonic()
        with self._cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
            for table in LOADED_TABLES:
                if table != GIN_TABLE:  # The search table's key is the ticket id.
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
        rebuild = [d for d in self.dropped if d[0] != GIN_TABLE]
        gin = [d for d in self.dropped if d[0] == GIN_TABLE]
        self._parallel("indexes", [(definition,) for _, _, definition in rebuild], _run_sql)
        timings["indexes"] = time.monotonic() - started
        started = time.monotonic()
        chunks = [
            (start, min(last_id, start + DOC_CHUNK - 1))
            for start in range(first_id, last_id + 1, DOC_CHUNK)
        ]
        self._parallel("search documents", chunks, _index_range)
        timings["search_documents"] = time.monotonic() - started
        started = time.monotonic()
        self._parallel("search index", [(definition,) for _, _, definition in gin], _run_sql)
        timings["search_index"] = time.monotonic() - started
        _save_pending_indexes([])
        started = time.monotonic()
        with self._cursor() as cursor:
            for table in (*LOADED_TABLES, "accounts_user"):
                cursor.execute(f"ANALYZE {table}")
        timings["analyze"] = time.monotonic() - started
        return timings

    def close(self) -> None:
        """Foreign-key checks back on for this connection, whatever happened."""
        with contextlib.suppress(DatabaseError), self._cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")

    def _parallel(self, label: str, jobs: list[tuple], work) -> None:
        """Run work(*job) for each job on `self.threads` connections of their own."""
        if not jobs:
            return
        if self.threads <= 1:  # On this connection, inside whatever transaction it is in.
            for job in jobs:
                work(self.using, *job)
            return
        todo: queue.Queue = queue.Queue()
        for job in jobs:
            todo.put(job)
        progress = Progress(label, len(jobs), self.out)
        done, errors, lock = [0], [], threading.Lock()

        def worker() -> None:
            try:
                with connections[self.using].cursor() as cursor:
                    cursor.execute("SET maintenance_work_mem = '1GB'")
                while True:
                    try:
                        job = todo.get_nowait()
                    except queue.Empty:
                        return
                    work(self.using, *job)
                    with lock:
                        done[0] += 1
                        progress.update(done[0])
            except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                errors.append(exc)
            finally:
                connections[self.using].close()

        pool = [threading.Thread(target=worker) for _ in range(self.threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        if errors:
            raise errors[0]
        progress.finish()


def _pending_path() -> Path:
    return Path(settings.VAR_DIR) / "bench" / "dropped-indexes.json"


def _pending_indexes() -> list[tuple[str, str, str]]:
    path = _pending_path()
    return [tuple(row) for row in json.loads(path.read_text())] if path.exists() else []


def _save_pending_indexes(indexes: list) -> None:
    path = _pending_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if indexes:
        path.write_text(json.dumps(indexes))
    elif path.exists():
        path.unlink()


def _run_sql(using: str, sql: str) -> None:
    # IF NOT EXISTS: an index listed twice (dropped by an interrupted seed) is built once.
    sql = sql.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
    sql = sql.replace("CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX IF NOT EXISTS ", 1)
    with connections[using].cursor() as cursor:
        cursor.execute(sql)


def _index_range(using: str, first: int, last: int) -> None:
    index.index_range(first, last, using=using)
