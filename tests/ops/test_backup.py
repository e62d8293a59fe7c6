"""`helpline backup` / `helpline restore`: a populated help desk survives the round trip.

The round trips run `helpline` in subprocesses against their own databases: on SQLite a
temporary file (the pytest database is in memory), on PostgreSQL two databases created next to
the test database.  Each round trip runs in one of the two CI passes and is skipped in the other.
"""

import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

REPO = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))


class Helpdesk:
    """One help desk run by the `helpline` command: its own database and attachment folder."""

    def __init__(self, var_dir: Path, database_url: str = "") -> None:
        var_dir.mkdir(parents=True, exist_ok=True)
        self.media = var_dir / "media"
        self.env = {
            key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")
        }
        self.env.pop("DATABASE_URL", None)
        self.env.update(
            HELPLINE_VAR_DIR=str(var_dir),
            MEDIA_ROOT=str(self.media),
            DEBUG="1",
            PYTHONPATH=str(REPO),
        )
        if database_url:
            self.env["DATABASE_URL"] = database_url

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "helpline.cli", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if ok:
            assert result.returncode == 0, f"helpline {args[0]} failed:\n{result.stderr}"
        return result

    def shell(self, code: str) -> str:
        return self.run("shell", "-c", code).stdout

    def snapshot(self) -> dict:
        out = self.shell("from tests.ops.helpdesk_data import snapshot; snapshot()")
        line = next(line for line in out.splitlines() if line.startswith("SNAPSHOT "))
        return json.loads(line.removeprefix("SNAPSHOT "))


def _pg_tool(name: str) -> str:
    found = shutil.which(name) or f"/usr/lib/postgresql/15/bin/{name}"
    assert Path(found).exists(), f"{name} not found"
    return found


@pytest.fixture
def new_helpdesk(tmp_path):
    """Factory of empty help desks on the vendor of this test run; PG databases are dropped."""
    created: list[tuple[str, dict]] = []
    tag = secrets.token_hex(4)

    def make(label: str) -> Helpdesk:
        if not ON_POSTGRES:
            return Helpdesk(tmp_path / label)
        url = urlsplit(DATABASE_URL)
        name = f"hl_backup_{label}_{tag}"
        pg_env = dict(os.environ)
        pg_env.update(
            PGHOST=url.hostname or "127.0.0.1",
            PGPORT=str(url.port or 5432),
            PGUSER=unquote(url.username or "postgres"),
        )
        if url.password:
            pg_env["PGPASSWORD"] = unquote(url.password)
        subprocess.run([_pg_tool("createdb"), name], env=pg_env, check=True, timeout=60)
        created.append((name, pg_env))
        return Helpdesk(tmp_path / label, urlunsplit(url._replace(path=f"/{name}")))

    yield make
    for name, pg_env in created:
        subprocess.run([_pg_tool("dropdb"), "--if-exists", "--force", name], env=pg_env, timeout=60)


def _round_trip(new_helpdesk, tmp_path: Path, vendor: str) -> None:
    source = new_helpdesk("src")
    source.run("migrate", "--noinput", "-v0")
    source.run("demo")
    source.shell("from tests.ops.helpdesk_data import populate; populate()")
    before = source.snapshot()
    assert before["counts"]["tickets"] == 3
    assert before["counts"]["attachments"] == 2
    assert len(before["entries"]) >= 7 and len(before["events"]) >= 8

    directory = tmp_path / "backup"
    archive = tmp_path / "backup.tar.gz"
    out = source.run("backup", str(directory)).stdout
    assert "3 tickets" in out
    source.run("backup", str(archive))
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["vendor"] == vendor
    assert manifest["counts"] == before["counts"]
    stored = sorted(p.name for p in (directory / "media").rglob("*") if p.is_file())
    assert stored == ["how-to-find-serial.txt", "jam.png"]

    # A fresh, migrated help desk with its own (empty) attachment folder.
    target = new_helpdesk("dst")
    target.run("migrate", "--noinput", "-v0")
    out = target.run("restore", str(directory)).stdout
    assert "tickets      3" in out
    assert target.snapshot() == before

    # A file gone from storage: the backup says so, and a restore refuses before touching anything.
    lost = next(source.media.rglob("jam.png"))
    kept = lost.read_bytes()
    lost.unlink()
    incomplete = tmp_path / "incomplete"
    made = source.run("backup", str(incomplete))
    assert "1 attachment file(s)" in made.stderr and "jam.png" in made.stderr
    assert json.loads((incomplete / "manifest.json").read_text())["missing_files"] == 1
    lost.write_bytes(kept)
    target.shell(
        "from helpline.accounts.models import User; from helpline.tickets import actions; "
        "k = User.objects.get(username='ken'); "
        "actions.open_ticket(k, requester=k, subject='Only in the target', body='x')"
    )
    refused = target.run("restore", "--force", str(incomplete), ok=False)
    assert refused.returncode != 0 and "not in the backup (attachments/" in refused.stderr
    assert "Nothing was changed" in refused.stderr
    assert target.snapshot()["counts"]["tickets"] == 4  # untouched
    target.run("restore", "--force", "--allow-missing-files", str(incomplete))
    assert target.snapshot()["counts"] == before["counts"]

    # Restoring over live data needs --force, and then rolls the later changes back.
    source.shell(
        "from helpline.accounts.models import User; from helpline.tickets import actions; "
        "k = User.objects.get(username='ken'); "
        "actions.open_ticket(k, requester=k, subject='After the backup', body='x')"
    )
    shutil.rmtree(source.media / "attachments")
    refused = source.run("restore", str(archive), ok=False)
    assert refused.returncode != 0
    assert "--force" in refused.stderr
    out = source.shell("import json; from helpline.ops import counts; print(json.dumps(counts()))")
    assert json.loads(out.strip().splitlines()[-1])["tickets"] == 4
    source.run("restore", "--force", str(archive))
    assert source.snapshot() == before


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite round trip; this pass runs on PostgreSQL")
def test_sqlite_round_trip_keeps_every_ticket_entry_event_and_attachment(new_helpdesk, tmp_path):
    _round_trip(new_helpdesk, tmp_path, "sqlite")


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL round trip; needs DATABASE_URL=postgres…")
def test_postgresql_round_trip_keeps_every_ticket_entry_event_and_attachment(
    new_helpdesk, tmp_path
):
    _round_trip(new_helpdesk, tmp_path, "postgresql")


# ---------------------------------------------------------------------------------------------
# Bad backups are refused with a message, before the database is touched.


@pytest.fixture
def good_backup(tmp_path) -> Path:
    """A well-formed backup for this run's database vendor (contents made by hand).

    Made by hand because the pytest database cannot be dumped: on SQLite it lives in memory
    inside the test's open transaction.
    """
    path = tmp_path / "good"
    (path / "media").mkdir(parents=True)
    vendor = connection.vendor
    if vendor == "sqlite":
        dump = path / "database.sqlite3"
        db = sqlite3.connect(dump)
        db.execute("CREATE TABLE placeholder (id INTEGER)")
        db.commit()
        db.close()
    else:
        dump = path / "database.pgdump"
        dump.write_bytes(b"PGDMP placeholder")
    manifest = {
        "format": 1,
        "application": "helpline",
        "vendor": vendor,
        "database_file": dump.name,
        "created_at": "2026-11-25T12:00:00+00:00",
        "counts": {"tickets": 0, "entries": 0, "events": 0, "attachments": 0, "users": 0},
    }
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


def _refusal(path: Path, *extra: str) -> str:
    with pytest.raises(CommandError) as refused:
        call_command("restore", str(path), *extra)
    return str(refused.value)


def test_backup_refuses_an_existing_path(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("keep me")
    with pytest.raises(CommandError, match="already exists"):
        call_command("backup", str(tmp_path / "taken"))
    assert (tmp_path / "taken" / "file").read_text() == "keep me"


def test_restore_refuses_a_missing_backup(good_backup, tmp_path):
    assert "no such backup" in _refusal(tmp_path / "nowhere.tar.gz")


def test_restore_refuses_a_directory_without_manifest(good_backup):
    (good_backup / "manifest.json").unlink()
    assert "not a Helpline backup" in _refusal(good_backup, "--force")


def test_restore_refuses_a_garbled_manifest(good_backup):
    (good_backup / "manifest.json").write_text('{"format": 1, "vendor": ')
    assert "unreadable" in _refusal(good_backup, "--force")


def test_restore_refuses_a_missing_dump(good_backup):
    manifest = json.loads((good_backup / "manifest.json").read_text())
    (good_backup / manifest["database_file"]).unlink()
    assert "missing database." in _refusal(good_backup, "--force")


def test_restore_refuses_another_database_vendor(good_backup):
    manifest = json.loads((good_backup / "manifest.json").read_text())
    other = "sqlite" if connection.vendor == "postgresql" else "postgresql"
    other_file = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}[other]
    (good_backup / manifest["database_file"]).rename(good_backup / other_file)
    manifest.update(vendor=other, database_file=other_file)
    (good_backup / "manifest.json").write_text(json.dumps(manifest))
    message = _refusal(good_backup, "--force")
    assert f"backup is of a {other} database" in message


def test_restore_refuses_a_newer_format(good_backup):
    manifest = json.loads((good_backup / "manifest.json").read_text())
    manifest["format"] = 99
    (good_backup / "manifest.json").write_text(json.dumps(manifest))
    assert "format 99 is not supported" in _refusal(good_backup, "--force")


def test_restore_refuses_a_truncated_archive(good_backup, tmp_path):
    archive = tmp_path / "cut.tar.gz"
    with tarfile.open(archive, "w:gz") as packed:
        packed.add(good_backup, arcname="helpline-backup")
    archive.write_bytes(archive.read_bytes()[:200])
    assert "not a readable backup archive" in _refusal(archive, "--force")


def test_restore_refuses_an_archive_escaping_its_folder(good_backup, tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as packed:
        packed.add(good_backup / "manifest.json", arcname="../../escaped-manifest.json")
    assert "not a readable backup archive" in _refusal(archive, "--force")
    assert not (tmp_path.parent / "escaped-manifest.json").exists()


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite file check; this pass runs on PostgreSQL")
def test_restore_refuses_a_damaged_sqlite_dump(good_backup):
    (good_backup / "database.sqlite3").write_bytes(b"this is not a database" * 100)
    assert "not a usable SQLite database" in _refusal(good_backup, "--force")
