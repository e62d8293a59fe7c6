"""`helpline bench_api`: sustained ticket creation over HTTP against gunicorn, and list latency.

By default it works in a throwaway SQLite database in a temporary directory. With `--here` it uses
the configured database (DATABASE_URL) — e.g. under `scripts/pg-throwaway.sh` for PostgreSQL;
it writes tickets there, so never point it at a database you care about.

Steps: migrate, load the demo organisation, give the demo accounts unusable passwords (so the
production WSGI start-up check passes), create an API key for john, start gunicorn (2 workers by
default) on a free 127.0.0.1 port, POST /api/v1/tickets from N client threads for S seconds,
then time GET /api/v1/tickets?limit=50 sequentially. Only loopback traffic; bounded in time.
"""

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

SETUP = (
    "from helpline.accounts.demo import DEMO_USERNAMES; "
    "from helpline.accounts.models import User; "
    "[u.set_unusable_password() or u.save() for u in User.objects.filter("
    "username__in=DEMO_USERNAMES)]"
)

WARM_UP = json.dumps({"subject": "Warm-up", "body": "Warm-up."}).encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(port: int, method: str, path: str, key: str, body: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Command(BaseCommand):
    help = "Measure ticket creation throughput and list latency over HTTP (gunicorn)."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=10.0, help="Creation phase length.")
        parser.add_argument("--clients", type=int, default=6, help="Concurrent client threads.")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers.")
        parser.add_argument("--list-requests", type=int, default=200)
        parser.add_argument(
            "--here", action="store_true", help="Use the configured database (writes tickets)."
        )

    def handle(self, *args, seconds, clients, workers, list_requests, here, **options):
        if not 0 < seconds <= 300 or not 0 < clients <= 64 or not 0 < workers <= 16:
            raise CommandError("Keep --seconds ≤ 300, --clients ≤ 64 and --workers ≤ 16.")
        bin_dir = Path(sys.executable).parent
        env = dict(os.environ, DEBUG="0", LOG_LEVEL="ERROR")
        env.pop("DJANGO_SETTINGS_MODULE", None)
        with tempfile.TemporaryDirectory(prefix="helpline-bench-") as tmp:
            if not here:
                env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
            env["HELPLINE_VAR_DIR"] = tmp
            engine = env.get("DATABASE_URL", "sqlite").split(":", 1)[0]
            key = self._prepare(bin_dir, env)
            port = _free_port()
            server = subprocess.Popen(
                [str(bin_dir / "gunicorn"), "helpline.wsgi:application", "-w", str(workers),
                 "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
                env=env,
            )  # fmt: skip
            try:
                self._wait_for(port, server)
                # Each worker's first ticket loads calendars and imports: not what we measure.
                for _ in range(2 * workers):
                    _request(port, "POST", "/api/v1/tickets", key, WARM_UP)
                created, errors, latencies = self._create(port, key, seconds, clients)
                list_times = self._list(port, key, list_requests)
            finally:
                server.terminate()
                server.wait(timeout=30)
        self._report(engine, workers, clients, seconds, created, errors, latencies, list_times)

    def _prepare(self, bin_dir: Path, env: dict) -> str:
        helpline = str(bin_dir / "helpline")
        for command in (["migrate", "--noinput"], ["demo"], ["shell", "-c", SETUP]):
            subprocess.run([helpline, *command], env=env, check=True, capture_output=True)
        made = subprocess.run(
            [helpline, "apikey", "create", "john", "--name", "bench", "--rate-limit", "100000000"],
            env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        return made.stdout.strip().splitlines()[-1]

    def _wait_for(self, port: int, server: subprocess.Popen) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError("gunicorn exited during start-up.")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise CommandError("gunicorn did not start within 30 s.")

    def _create(self, port: int, key: str, seconds: float, clients: int):
        created, errors, latencies = [0], [0], []
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def client(n: int) -> None:
            i = 0
            while time.monotonic() < stop_at:
                i += 1
                body = json.dumps(
                    {
                        "subject": f"Bench ticket {n}-{i}",
                        "body": "The printer on the 3rd floor jams on every second page.",
                        "requester_email": f"bench{n}@example.com",
                    }
                ).encode()
                started = time.perf_counter()
                try:
                    status, _ = _request(port, "POST", "/api/v1/tickets", key, body)
                except OSError:
                    status = 0
                elapsed = time.perf_counter() - started
                with lock:
                    if status == 201:
                        created[0] += 1
                        latencies.append(elapsed)
                    else:
                        errors[0] += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return created[0], errors[0], latencies

    def _list(self, port: int, key: str, count: int) -> list[float]:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            status, _ = _request(port, "GET", "/api/v1/tickets?limit=50", key)
            if status == 200:
                times.append(time.perf_counter() - started)
        return times

    def _report(self, engine, workers, clients, seconds, created, errors, latencies, list_times):
        def ms(values, q):
            if not values:
                return float("nan")
            values = sorted(values)
            return 1000 * values[min(len(values) - 1, int(q * len(values)))]

        self.stdout.write(f"database: {engine}; gunicorn workers: {workers}; clients: {clients}")
        self.stdout.write(
            f"ticket creation: {created} in {seconds:.0f} s = {created / seconds:.0f} tickets/s, "
            f"{errors} errors; latency median {ms(latencies, 0.5):.1f} ms, "
            f"p95 {ms(latencies, 0.95):.1f} ms"
        )
        median = statistics.median(list_times) * 1000 if list_times else float("nan")
        self.stdout.write(
            f"ticket list (50 per page): median {median:.1f} ms, p95 {ms(list_times, 0.95):.1f} ms "
            f"over {len(list_times)} requests"
        )
