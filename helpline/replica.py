"""An optional read replica (DATABASE_REPLICA_URL) for the heavy reads that tolerate a little lag.

Reports, search results and the REST API's ticket list read from the replica when one is
configured; everything else — every write, every page an agent works in, and any read inside a
transaction (read your own writes) — stays on the primary. With no replica, `reading()` is
always "default", so the same code runs on one database.
"""

from django.conf import settings
from django.db import connections

PRIMARY = "default"
REPLICA = "replica"


def reading() -> str:
    """The database alias for a lag-tolerant read now."""
    if REPLICA not in settings.DATABASES or connections[PRIMARY].in_atomic_block:
        return PRIMARY
    return REPLICA


class PrimaryReplicaRouter:
    """Writes and migrations go to the primary; reads go where the code says (`reading()`),
    the primary unless told otherwise; rows from either are the same rows."""

    def db_for_read(self, model, **hints):
        return None

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY
