"""Tests that need PostgreSQL, and subprocesses that work on the test database."""

import pytest
from django.db import connection

ROW_LOCKS = "needs PostgreSQL: concurrent writers and row locks (run via scripts/pg-throwaway.sh)"


def postgres_only(reason: str = ROW_LOCKS) -> list:
    """Marks for a module that runs only on PostgreSQL (CI runs the suite on both)."""
    return [
        pytest.mark.postgres_only,
        pytest.mark.skipif(connection.vendor != "postgresql", reason=reason),
    ]


def database_url() -> str:
    """The test database as a DATABASE_URL, for a `helpline` subprocess (PostgreSQL)."""
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"
