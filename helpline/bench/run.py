"""`helpline bench run`: measure the help desk over HTTP against gunicorn on 127.0.0.1.

Starts gunicorn (2 workers by default) with helpline.bench.settings (production settings plus a
middleware that reports each request's SQL query count), signs in as john (agent, Support) and
admin, warms up, then times each case sequentially: p50/p95/p99 and queries per request. The
SLA overdue sweep runs in this process. Prints a table and writes var/bench/run-<time>.json
with machine information and the git commit, so two runs can be compared.

It writes: replies on open tickets, new tickets through the API, an API key, and the sweep
marks some tickets overdue. Use a bench database (helpline bench seed).
"""

import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TextIO

import requests
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from helpline.bench.cases import Case, build_cases
from helpline.bench.data import BENCH_PASSWORD
from helpline.bench.load import load_meta
from helpline.bench.middleware import DB_TIME_HEADER, QUERIES_HEADER


class BenchError(Exception):
    """The benchmark cannot run (no data, gunicorn did not start …)."""


@dataclass
class Result:
    name: str
    group: str
    timings: list[float] = field(default_factory=list)  # seconds
    queries: list[int] = field(default_factory=list)
    db_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    note: str = ""

    def percentile(self, q: float) -> float:
        if not self.timings:
            return float("nan")
        ordered = sorted(self.timings)
        return 1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def summary(self) -> dict:
        return {
            "name": self.name,
            "group": self.group,
            "requests": len(self.timings),
            "p50_ms": round(self.percentile(0.50), 2),
            "p95_ms": round(self.percentile(0.95), 2),
            "p99_ms": round(self.percentile(0.99), 2),
            "queries": max(self.queries) if self.queries else None,
            "db_ms_p50": round(statistics.median(self.db_ms), 2) if self.db_ms else None,
            "statuses": self.statuses,
            "note": self.note,
        }


# Targets from the issue (PostgreSQL, 1,000,000 tickets): p95 in ms per group.
TARGETS = {"queue": 30, "search": 80, "ticket": 25, "reply": 50}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn with N workers on a free 127.0.0.1 port, stopped on exit."""

    def __init__(self, workers: int):
        self.workers = workers
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        env = dict(os.environ, DEBUG="0", LOG_LEVEL="ERROR", HELPLINE_BENCH="1")
        env["DJANGO_SETTINGS_MODULE"] = "helpline.bench.settings"
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.process = subprocess.Popen(
            [gunicorn, "helpline.wsgi:application", "-w", str(self.workers),
             "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", "--timeout", "120"],
            env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError("gunicorn exited during start-up (see its output above).")
            try:
                if requests.get(self.url("/healthz"), timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise BenchError("gunicorn did not answer /healthz within 60 s.")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker process (Linux /proc)."""
        rss = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            ppid = re.search(r"^PPid:\s+(\d+)", text, re.M)
            if ppid and int(ppid.group(1)) == self.process.pid:
                kb = re.search(r"^VmRSS:\s+(\d+)", text, re.M)
                rss.append(int(kb.group(1)) / 1024 if kb else 0.0)
        return rss


def sign_in(server: Server, username: str) -> requests.Session:
    """A browser-like session signed in to the agent panel."""
    session = requests.Session()
    session.get(server.url("/staff/login/"), timeout=30)
    response = session.post(
        server.url("/staff/login/"),
        data={"username": username, "password": BENCH_PASSWORD,
              "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")},
        headers={"Referer": server.url("/staff/login/")},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    if response.status_code != 302:
        raise BenchError(f"Could not sign in as {username} (HTTP {response.status_code}).")
    return session


def measure(case: Case, server: Server, warmup: int, count: int) -> Result:
    result = Result(case.name, case.group, note=case.note)
    for i in range(warmup + count):
        method, path, kwargs = case.request(i)
        started = time.perf_counter()
        response = case.session.request(
            method, server.url(path), allow_redirects=False, timeout=120, **kwargs
        )
        elapsed = time.perf_counter() - started
        if i < warmup:
            continue
        result.timings.append(elapsed)
        result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1
        if QUERIES_HEADER in response.headers:
            result.queries.append(int(response.headers[QUERIES_HEADER]))
            result.db_ms.append(float(response.headers[DB_TIME_HEADER]))
    return result


def sweep_results(runs: int = 5, working: int = 100) -> list[Result]:
    """The overdue sweep in this process: idle runs, then one with `working` newly due tickets."""
    from helpline.tickets import sweeps
    from helpline.tickets.models import State, Ticket

    idle = Result("overdue sweep (idle)", "sweep")
    for _ in range(runs):
        started = time.perf_counter()
        sweeps.mark_overdue_tickets()
        idle.timings.append(time.perf_counter() - started)
    ids = list(
        Ticket.objects.filter(state=State.OPEN, is_overdue=False, due_at__gt=timezone.now())
        .order_by("-pk")
        .values_list("pk", flat=True)[:working]
    )
    # Test data: due times moved into the past directly, so the sweep has work to do.
    Ticket.objects.filter(pk__in=ids).update(due_at=timezone.now() - timedelta(minutes=5))
    busy = Result(f"overdue sweep ({len(ids)} newly overdue)", "sweep")
    started = time.perf_counter()
    marked = sweeps.mark_overdue_tickets()
    busy.timings.append(time.perf_counter() - started)
    busy.note = f"marked {marked}"
    return [idle, busy]


def machine_info() -> dict:
    def read(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    memory = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()" if connection.vendor == "postgresql" else
                       "SELECT 'SQLite ' || sqlite_version()")  # fmt: skip
        database = cursor.fetchone()[0]
    from helpline.tickets.models import Ticket

    return {
        "cpu": cpu.group(1) if cpu else platform.processor(),
        "cores": os.cpu_count(),
        "memory_gb": round(int(memory.group(1)) / 2**20, 1) if memory else None,
        "python": platform.python_version(),
        "database": database,
        "tickets": Ticket.objects.count(),
        "git_commit": read(["git", "-C", str(settings.BASE_DIR), "rev-parse", "HEAD"]),
        "git_dirty": bool(read(["git", "-C", str(settings.BASE_DIR), "status", "--porcelain"])),
    }


def run(
    out: TextIO,
    *,
    workers: int = 2,
    requests: int = 60,  # noqa: A002 - the option's name
    warmup: int = 5,
    only: list[str] | None = None,
    deep_page: int = 500,
    output: str | None = None,
) -> dict:
    """Run every case (or those whose name contains one of `only`); return the report."""
    from helpline.tickets.models import Ticket

    if not Ticket.objects.exists():
        raise BenchError("No tickets: run `helpline bench seed --tickets N` first.")
    if not 1 <= workers <= 16 or not 1 <= requests <= 10000:
        raise BenchError("Use 1 ≤ --workers ≤ 16 and 1 ≤ --requests ≤ 10000.")
    meta = load_meta()
    info = machine_info()
    # Production mode serves hashed static files from the manifest, as a deployment would.
    call_command("collectstatic", interactive=False, verbosity=0)
    results: list[Result] = []
    with Server(workers) as server:
        sessions = {name: sign_in(server, name) for name in ("john", "admin")}
        out.write(f"gunicorn {workers} workers on :{server.port}; {info['tickets']} tickets\n")
        cases = build_cases(sessions, meta, deep_page, out)
        for case in cases:
            if only and not any(word in case.name for word in only):
                continue
            result = measure(case, server, warmup, requests)
            results.append(result)
            out.write(_row(result.summary()) + "\n")
            out.flush()
        rss = server.worker_rss_mb()
    if not only or any("sweep" in word for word in only):
        for result in sweep_results():
            results.append(result)
            out.write(_row(result.summary()) + "\n")
    report = {
        "started_at": timezone.now().isoformat(),
        "machine": info,
        "workers": workers,
        "requests_per_case": requests,
        "warmup_per_case": warmup,
        "worker_rss_mb": [round(r, 1) for r in rss],
        "results": [r.summary() for r in results],
    }
    path = Path(output) if output else _default_output()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    out.write(_table(report) + f"\nWritten to {path}\n")
    return report


def _default_output() -> Path:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return Path(settings.VAR_DIR) / "bench" / f"run-{stamp}.json"


HEADER = f"{'case':<52} {'p50':>8} {'p95':>8} {'p99':>8} {'queries':>7}  {'target':>6}"


def _row(s: dict) -> str:
    target = TARGETS.get(s["group"])
    verdict = "" if target is None else ("ok" if s["p95_ms"] <= target else "MISS")
    queries = "-" if s["queries"] is None else str(s["queries"])
    return (
        f"{s['name'][:52]:<52} {s['p50_ms']:>8.1f} {s['p95_ms']:>8.1f} {s['p99_ms']:>8.1f} "
        f"{queries:>7}  {verdict:>6}"
    )


def _table(report: dict) -> str:
    lines = ["", HEADER, "-" * len(HEADER)]
    lines += [_row(s) for s in report["results"]]
    rss = report["worker_rss_mb"]
    lines.append(f"\nweb worker RSS: {', '.join(f'{r:.0f} MB' for r in rss)} (target ≤ 150 MB)")
    lines.append("times in ms; targets: p95 queue ≤ 30, search ≤ 80, ticket ≤ 25, reply ≤ 50")
    return "\n".join(lines)
