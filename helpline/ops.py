"""Backup and restore of a whole help desk: a consistent database dump plus the attachments.

A backup is a directory (or the same directory packed as ``.tar.gz``) holding:

- ``database.sqlite3`` (SQLite, taken with SQLite's online backup API, so a running web process
  or worker does not make it inconsistent) or ``database.pgdump`` (PostgreSQL, ``pg_dump
  --format=custom``, one snapshot of the whole database);
- ``media/``: a copy of MEDIA_ROOT (attachment files), taken after the dump so that every file
  the dumped database refers to is already there;
- ``attachments.txt``: the storage name of every attachment the dumped database refers to;
- ``manifest.json``: format version, database vendor, creation time, counts of tickets,
  thread entries, events and attachments (checked again after a restore), and the attachment
  files that were already missing from storage when the backup was taken.

A backup reports files it could not find. A restore checks the whole backup first — manifest,
dump readable, every listed attachment file present — and refuses before touching the database
when anything is wrong (``--allow-missing-files`` restores anyway, for a backup that was
already incomplete when it was made).

Restoring replaces the whole database (SQLite: the backup API again, into the live file;
PostgreSQL: ``pg_restore --clean``) and copies the attachments back into MEDIA_ROOT.
Stop the web process and the workers while restoring.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MEDIA_DIR = "media"
FILE_LIST = "attachments.txt"
SHOWN_MISSING = 20  # names of missing files written into the manifest and messages
DUMP_NAMES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
# Directories searched for pg_dump / pg_restore after PATH; newest major version first.
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


class BackupError(Exception):
    """A backup cannot be made or restored; the message says why, for the operator."""


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did: the manifest it used and the counts found afterwards."""

    manifest: dict
    counts: dict[str, int]
    pending_migrations: bool


def counts() -> dict[str, int]:
    """Number of tickets, thread entries, events, attachments and users in the database."""
    from helpline.accounts.models import User
    from helpline.tickets.models import Attachment, Event, ThreadEntry, Ticket

    return {
        "tickets": Ticket.objects.count(),
        "entries": ThreadEntry.objects.count(),
        "events": Event.objects.count(),
        "attachments": Attachment.objects.count(),
        "users": User.objects.count(),
    }


def _vendor() -> str:
    vendor = connection.vendor
    if vendor not in DUMP_NAMES:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {vendor}.")
    return vendor


def _is_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz"))


# ---------------------------------------------------------------------------------------------
# PostgreSQL tools


def _pg_tool(name: str) -> str:
    """Path of pg_dump or pg_restore: $HELPLINE_PG_BIN, then PATH, then the newest PG install."""
    explicit = os.environ.get("HELPLINE_PG_BIN")
    candidates = [Path(explicit) / name] if explicit else []
    found = shutil.which(name)
    if found:
        candidates.append(Path(found))
    installed = sorted(
        Path("/").glob(PG_BIN_GLOB.lstrip("/")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += [directory / name for directory in installed]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise BackupError(
        f"{name} not found: install the PostgreSQL client tools or set HELPLINE_PG_BIN."
    )


def _pg_env() -> dict[str, str]:
    """libpq environment for the default database; keeps the password off the command line."""
    db = connection.settings_dict
    env = dict(os.environ)
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER")):
        if db.get(key):
            env[var] = str(db[key])
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    env["PGDATABASE"] = str(db["NAME"])
    sslmode = (db.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    # Our own server-side options (see settings) are no business of pg_dump's.
    env.pop("PGOPTIONS", None)
    return env


def _run(args: list[str], what: str) -> None:
    result = subprocess.run(args, env=_pg_env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise BackupError(f"{what} failed (exit {result.returncode}): {detail}")


# ---------------------------------------------------------------------------------------------
# Backup


def _dump_database(target: Path) -> tuple[dict[str, int], list[str]]:
    """Dump the database to TARGET; return the counts and attachment file names of that same
    snapshot."""
    vendor = _vendor()
    if vendor == "sqlite":
        connection.ensure_connection()
        destination = sqlite3.connect(target)
        try:
            connection.connection.backup(destination)
        finally:
            destination.close()
        return _sqlite_counts(target), _sqlite_file_names(target)
    db_name = str(connection.settings_dict["NAME"])
    with transaction.atomic():
        with connection.cursor() as cursor:
            # pg_dump joins this transaction's snapshot: our counts and its dump agree.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
        snapshot_counts = counts()
        names = _attachment_names()
        _run(
            [
                _pg_tool("pg_dump"),
                "--format=custom",
                f"--snapshot={snapshot}",
                f"--file={target}",
                db_name,
            ],
            "pg_dump",
        )
    return snapshot_counts, names


def _attachment_names() -> list[str]:
    from helpline.tickets.models import Attachment

    return [n for n in Attachment.objects.values_list("file", flat=True).iterator() if n]


def _sqlite_file_names(dump: Path) -> list[str]:
    from helpline.tickets.models import Attachment

    db = sqlite3.connect(dump)
    try:
        rows = db.execute(f'SELECT "file" FROM "{Attachment._meta.db_table}"').fetchall()
    finally:
        db.close()
    return [name for (name,) in rows if name]


def _files_in_media_root() -> bool:
    """Are attachments files under MEDIA_ROOT (not in object storage, HELPLINE_S3_BUCKET)?"""
    from django.core.files.storage import FileSystemStorage, default_storage

    return isinstance(default_storage, FileSystemStorage)  # the lazy object passes isinstance


def _absent(names: list[str], media: Path) -> list[str]:
    """Those of NAMES (storage names, relative to the media root) that are not files in MEDIA."""
    return [name for name in names if not (media / name).is_file()]


def _copy_media(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, symlinks=False)
    else:
        target.mkdir()


def create_backup(path: Path | str) -> dict:
    """Write a backup of the database and attachments to PATH (a new directory or .tar.gz).

    Returns the manifest; its "missing_files" counts attachment files the database refers to
    that storage did not have ("missing_examples" names some).  Raises BackupError if PATH
    exists (and is not an empty directory) or the dump fails.
    """
    path = Path(path)
    vendor = _vendor()
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise BackupError(f"{path} already exists; choose a new path for the backup.")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a directory.")

    with tempfile.TemporaryDirectory(prefix="helpline-backup-", dir=path.parent) as tmp:
        staging = Path(tmp) / "backup"
        staging.mkdir()
        dump = staging / DUMP_NAMES[vendor]
        # The counts come from the very snapshot that was dumped, so a restore can compare
        # them exactly even while the help desk keeps working during the backup.
        dumped_counts, names = _dump_database(dump)
        external = not _files_in_media_root()
        _copy_media(Path(settings.MEDIA_ROOT), staging / MEDIA_DIR)
        if not external:  # object storage is backed up by its own means (bucket versioning)
            (staging / FILE_LIST).write_text("".join(f"{name}\n" for name in names))
        missing = [] if external else _absent(names, staging / MEDIA_DIR)
        manifest = {
            "format": FORMAT_VERSION,
            "application": "helpline",
            "vendor": vendor,
            "database_file": dump.name,
            "created_at": timezone.now().isoformat(),
            "counts": dumped_counts,
            "attachment_list": "" if external else FILE_LIST,
            "attachments_in": "object storage" if external else MEDIA_DIR,
            "missing_files": len(missing),
            "missing_examples": missing[:SHOWN_MISSING],
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")

        if _is_archive(path):
            partial = Path(tmp) / "backup.tar.gz"
            with tarfile.open(partial, "w:gz") as archive:
                archive.add(staging, arcname="helpline-backup")
            shutil.move(partial, path)
        else:
            if path.exists():
                path.rmdir()
            shutil.move(staging, path)
    return manifest


def _sqlite_counts(dump: Path) -> dict[str, int]:
    """The manifest counts read from a dumped SQLite file (exactly what the backup holds)."""
    from helpline.accounts.models import User
    from helpline.tickets.models import Attachment, Event, ThreadEntry, Ticket

    tables = {
        "tickets": Ticket._meta.db_table,
        "entries": ThreadEntry._meta.db_table,
        "events": Event._meta.db_table,
        "attachments": Attachment._meta.db_table,
        "users": User._meta.db_table,
    }
    db = sqlite3.connect(dump)
    try:
        return {
            key: db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            for key, table in tables.items()
        }
    finally:
        db.close()


# ---------------------------------------------------------------------------------------------
# Restore


def _unpack(path: Path, scratch: Path) -> Path:
    """The backup directory for PATH: itself, or the unpacked archive inside SCRATCH."""
    if path.is_dir():
        return path
    if not path.exists():
        raise BackupError(f"{path}: no such backup.")
    try:
        with tarfile.open(path, "r:*") as archive:
            # The "data" filter refuses absolute paths, .. and links out of the tree.
            archive.extractall(scratch, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{path} is not a readable backup archive: {exc}") from exc
    manifests = list(scratch.glob(f"*/{MANIFEST}")) + list(scratch.glob(MANIFEST))
    if len(manifests) != 1:
        raise BackupError(f"{path} does not contain one {MANIFEST}; not a Helpline backup.")
    return manifests[0].parent


def read_manifest(directory: Path) -> dict:
    """The validated manifest of a backup directory; BackupError if missing or garbled."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError as exc:
        raise BackupError(f"{directory} has no {MANIFEST}; not a Helpline backup.") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"{directory / MANIFEST} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("application") != "helpline":
        raise BackupError(f"{directory / MANIFEST} is not a Helpline backup manifest.")
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(
            f"Backup format {manifest.get('format')!r} is not supported "
            f"(this version reads format {FORMAT_VERSION})."
        )
    vendor = manifest.get("vendor")
    if vendor not in DUMP_NAMES or manifest.get("database_file") != DUMP_NAMES[vendor]:
        raise BackupError(f"{directory / MANIFEST} names no known database dump.")
    expected = manifest.get("counts")
    if not isinstance(expected, dict) or not all(
        isinstance(expected.get(key), int) for key in ("tickets", "entries", "events")
    ):
        raise BackupError(f"{directory / MANIFEST} has no valid counts.")
    if not (directory / manifest["database_file"]).is_file():
        raise BackupError(f"{directory} is missing {manifest['database_file']}.")
    return manifest


def database_is_empty() -> bool:
    """True when the database holds no tickets and no users (a fresh install, migrated or not)."""
    from helpline.accounts.models import User
    from helpline.tickets.models import Ticket

    existing = set(connection.introspection.table_names())
    for model in (Ticket, User):
        if model._meta.db_table in existing and model.objects.exists():
            return False
    return True


def _restore_sqlite(dump: Path) -> None:
    source = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
    try:  # check_backup has read it through (PRAGMA quick_check)
        connection.ensure_connection()
        # The backup API replaces every page of the live database in one step, WAL included,
        # which copying the file over would not do safely.
        source.backup(connection.connection)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{dump} is not a usable SQLite database: {exc}") from exc
    finally:
        source.close()
        connection.close()


def _restore_postgresql(dump: Path) -> None:
    connection.close()
    db_name = str(connection.settings_dict["NAME"])
    _run(
        [
            _pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            f"--dbname={db_name}",
            str(dump),
        ],
        "pg_restore",
    )


def _restore_media(source: Path) -> None:
    if source.is_dir():
        target = Path(settings.MEDIA_ROOT)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target, dirs_exist_ok=True)


def _missing_attachment_files() -> list[str]:
    from django.core.files.storage import default_storage

    from helpline.tickets.models import Attachment

    return [
        name
        for name in Attachment.objects.values_list("file", flat=True)
        if not default_storage.exists(name)
    ]


def _pending_migrations() -> bool:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def check_backup(directory: Path, manifest: dict, *, allow_missing_files: bool = False) -> None:
    """Everything a restore needs, checked before anything is replaced: the dump is readable and
    every attachment file the dump refers to is in the backup."""
    dump = directory / manifest["database_file"]
    if manifest["vendor"] == "sqlite":
        _check_sqlite_dump(dump)
    else:
        _run([_pg_tool("pg_restore"), "--list", str(dump)], "Reading the dump (pg_restore --list)")
    listed = directory / (manifest.get("attachment_list", FILE_LIST) or FILE_LIST)
    if not listed.is_file():
        return  # A backup from before file lists: the counts are checked after the restore.
    names = [n for n in listed.read_text().splitlines() if n]
    missing = _absent(names, directory / MEDIA_DIR)
    if missing and not allow_missing_files:
        shown = ", ".join(missing[:SHOWN_MISSING])
        more = f" and {len(missing) - SHOWN_MISSING} more" if len(missing) > SHOWN_MISSING else ""
        raise BackupError(
            f"{len(missing)} attachment file(s) the database refers to are not in the backup "
            f"({shown}{more}). Nothing was changed. Restore anyway with --allow-missing-files; "
            "those attachments will fail to download."
        )


def _check_sqlite_dump(dump: Path) -> None:
    try:
        source = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
        try:
            problem = source.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            source.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{dump} is not a usable SQLite database: {exc}") from exc
    if problem != "ok":
        raise BackupError(f"{dump} is damaged: {problem}")


def restore_backup(
    path: Path | str, *, force: bool = False, allow_missing_files: bool = False
) -> RestoreResult:
    """Replace the database and attachments with the backup at PATH, then verify the counts.

    Refuses a non-empty database unless FORCE.  Raises BackupError with a message for the
    operator when the backup is missing, garbled, for another database vendor, lacks attachment
    files (unless ALLOW_MISSING_FILES) — all before anything is replaced — or when the restored
    data does not match its manifest.
    """
    path = Path(path)
    vendor = _vendor()
    with tempfile.TemporaryDirectory(prefix="helpline-restore-") as tmp:
        directory = _unpack(path, Path(tmp))
        manifest = read_manifest(directory)
        if manifest["vendor"] != vendor:
            raise BackupError(
                f"This backup is of a {manifest['vendor']} database and this help desk uses "
                f"{vendor}; restore it into a {manifest['vendor']} database (or move the data "
                "with dumpdata/loaddata)."
            )
        if not force and not database_is_empty():
            raise BackupError(
                "The database already holds tickets or users; restoring would replace them. "
                "Use --force to replace them anyway."
            )
        check_backup(directory, manifest, allow_missing_files=allow_missing_files)
        dump = directory / manifest["database_file"]
        if vendor == "sqlite":
            _restore_sqlite(dump)
        else:
            _restore_postgresql(dump)
        _restore_media(directory / MEDIA_DIR)

    found = counts()
    expected = manifest["counts"]
    wrong = {
        key: (expected[key], found.get(key)) for key in expected if found.get(key) != expected[key]
    }
    if wrong:
        detail = ", ".join(
            f"{key}: expected {want}, found {got}" for key, (want, got) in wrong.items()
        )
        raise BackupError(f"Restored data does not match the backup's manifest ({detail}).")
    missing = _missing_attachment_files()
    if missing and not allow_missing_files:
        raise BackupError(
            f"{len(missing)} attachment file(s) are missing after the restore, e.g. {missing[0]}."
        )
    return RestoreResult(manifest=manifest, counts=found, pending_migrations=_pending_migrations())
