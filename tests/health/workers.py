"""Real `helpline worker` processes on the test database, for the fault tests."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.databases import database_url

ROOT = Path(__file__).resolve().parents[2]
# Short beats and leases so that a dead worker is noticed within seconds, not half a minute.
FAST = {
    "HELPLINE_WORKER_HEARTBEAT_SECONDS": "0.5",
    "HELPLINE_WORKER_LEASE_SECONDS": "3",
    "HELPLINE_WORKER_RECONNECT_MIN_SECONDS": "0.2",
    "HELPLINE_WORKER_RECONNECT_MAX_SECONDS": "2",
    # The outbox's own lease on mail a broken delivery had claimed (600 s in production: the
    # re-run task sends those when it ends; see the README's "Running unattended").
    "HELPLINE_MAIL_LEASE_SECONDS": "3",
    "HELPLINE_MAIL_RETRY_SECONDS": "0.5",
    "HELPLINE_MAIL_RETRY_MAX_SECONDS": "2",
}


class Workers:
    """Start, kill and stop `python -m helpline.cli worker` processes; logs in tmp_path."""

    def __init__(self, tmp_path: Path, **env: str):
        self.tmp_path = tmp_path
        self.env = dict(
            os.environ,
            DATABASE_URL=database_url(),
            DEBUG="1",  # the demo passwords would stop a production start-up
            HELPLINE_VAR_DIR=str(tmp_path),
            HELPLINE_TASKS_BACKEND="django_tasks_db.DatabaseBackend",
            DJANGO_SETTINGS_MODULE="helpline.settings",
            PYTHONPATH=str(ROOT),  # tests.health.tasks
            TASKS_LOG_LEVEL="WARNING",
            **FAST,
            **env,
        )
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> subprocess.Popen:
        log = open(self.tmp_path / f"worker-{name}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "helpline.cli", "worker", "--no-reload", "--interval", "0.2",
             "--no-startup-delay", "--worker-id", name],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.tmp_path / f"worker-{name}.log").read_text()

    def alive(self, name: str) -> bool:
        return self.processes[name].poll() is None

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def wait_for(condition, timeout: float, what: str, step: float = 0.1):
    """Poll `condition` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(step)
