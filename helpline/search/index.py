"""Keeping the search index current: one document per ticket, rebuilt from the database.

A ticket's document is rebuilt whenever its searchable text changes: a new thread entry, a new
or renamed ticket, a merge (entries move), a requester's name or e-mail. The rebuild runs in the
same transaction as the change (post_save signals), so the index never lags behind committed
data, a rolled-back action leaves no trace in it, and nothing is lost if a process dies between
commit and an after-commit hook. Status, assignment and due-time changes do not touch it.

The document is built by one SQL statement per batch of tickets (the database tokenises the
text), the same statement for one ticket, for `helpline reindex` and for `helpline bench seed`.
"""

from collections.abc import Iterable

from django.db import connections, router
from django.db.models.signals import post_delete, post_save

# The text-search configuration (stemming, stop words) used for documents and queries alike.
PG_CONFIG = "english"
# Per thread entry: a pasted log file must not make one ticket's document huge.
ENTRY_TEXT_CAP = 20000
FTS_TABLE = "search_ticket_fts"
DOCUMENT_TABLE = "search_ticketdocument"
BATCH = 2000

# Number and requester e-mail are indexed as written and split at punctuation, so "HL-00012",
# "00012", "karen@example.com" and "karen@example" all find the ticket (see query.py).
_PG_HEAD = f"""
    setweight(to_tsvector('{PG_CONFIG}',
        t.number || ' ' || regexp_replace(t.number, '[^[:alnum:]]+', ' ', 'g')
        || ' ' || t.subject), 'A')
    || setweight(to_tsvector('{PG_CONFIG}',
        coalesce(u.name, '') || ' ' || u.username || ' ' || coalesce(u.email, '') || ' '
        || regexp_replace(coalesce(u.email, ''), '[^[:alnum:]]+', ' ', 'g')), 'B')
"""

PG_BUILD = f"""
INSERT INTO {DOCUMENT_TABLE} (ticket_id, head, document, public_document)
SELECT t.id, v.head, v.head || v.public || v.notes,
       CASE WHEN x.note_text IS NULL THEN NULL ELSE v.head || v.public END
FROM tickets_ticket t
JOIN accounts_user u ON u.id = t.requester_id
LEFT JOIN LATERAL (
    SELECT string_agg(left(e.body_text, {ENTRY_TEXT_CAP}), ' ' ORDER BY e.id)
               FILTER (WHERE e.kind <> 'note') AS public_text,
           string_agg(left(e.body_text, {ENTRY_TEXT_CAP}), ' ' ORDER BY e.id)
               FILTER (WHERE e.kind = 'note') AS note_text
    FROM tickets_threadentry e WHERE e.ticket_id = t.id
) x ON true
CROSS JOIN LATERAL (
    SELECT {_PG_HEAD} AS head,
           setweight(to_tsvector('{PG_CONFIG}', coalesce(x.public_text, '')), 'D') AS public,
           setweight(to_tsvector('{PG_CONFIG}', coalesce(x.note_text, '')), 'D') AS notes
    OFFSET 0  -- keeps the subquery whole, so each vector is computed once
) v
WHERE {{where}}
ON CONFLICT (ticket_id) DO UPDATE
    SET head = EXCLUDED.head, document = EXCLUDED.document,
        public_document = EXCLUDED.public_document
"""

SQLITE_DELETE = (
    f"DELETE FROM {FTS_TABLE} WHERE rowid IN (SELECT t.id FROM tickets_ticket t WHERE {{where}})"
)
SQLITE_BUILD = f"""
INSERT INTO {FTS_TABLE} (rowid, number, subject, requester, body, notes)
SELECT t.id, t.number, t.subject,
       coalesce(u.name, '') || ' ' || u.username || ' ' || coalesce(u.email, ''),
       coalesce((SELECT group_concat(substr(e.body_text, 1, {ENTRY_TEXT_CAP}), ' ')
                 FROM tickets_threadentry e WHERE e.ticket_id = t.id AND e.kind <> 'note'), ''),
       coalesce((SELECT group_concat(substr(e.body_text, 1, {ENTRY_TEXT_CAP}), ' ')
                 FROM tickets_threadentry e WHERE e.ticket_id = t.id AND e.kind = 'note'), '')
FROM tickets_ticket t JOIN accounts_user u ON u.id = t.requester_id
WHERE {{where}}
"""


def _run(using: str, where: str, params: list) -> None:
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_BUILD.format(where=where), params)
        elif connection.vendor == "sqlite":
            cursor.execute(SQLITE_DELETE.format(where=where), params)
            cursor.execute(SQLITE_BUILD.format(where=where), params)
        # Other databases have no search index; the text filter matches nothing there.


def index_tickets(ticket_ids: Iterable[int], using: str = "default") -> None:
    """Rebuild the search documents of these tickets (in the caller's transaction)."""
    ids = sorted({int(i) for i in ticket_ids})
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        placeholders = ", ".join(["%s"] * len(chunk))
        _run(using, f"t.id IN ({placeholders})", chunk)


def index_range(first_id: int, last_id: int, using: str = "default") -> None:
    """Rebuild the documents of tickets with first_id <= id <= last_id (bulk: reindex, seed)."""
    _run(using, "t.id BETWEEN %s AND %s", [first_id, last_id])


def index_requester(user_id: int, using: str = "default") -> None:
    """Rebuild the documents of every ticket this user requested (name or e-mail changed)."""
    _run(using, "t.requester_id = %s", [user_id])


def remove_orphans(using: str = "default") -> int:
    """Delete documents whose ticket is gone (SQLite: FTS rows have no foreign key)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                f"DELETE FROM {FTS_TABLE} WHERE rowid NOT IN (SELECT id FROM tickets_ticket)"
            )
            return cursor.rowcount
        if connection.vendor == "postgresql":
            cursor.execute(
                f"DELETE FROM {DOCUMENT_TABLE} d WHERE NOT EXISTS "
                "(SELECT 1 FROM tickets_ticket t WHERE t.id = d.ticket_id)"
            )
            return cursor.rowcount
    return 0


# ---------------------------------------------------------------------------------------------
# Signals: which saves change a ticket's searchable text

TICKET_TEXT_FIELDS = {"subject", "number", "requester", "requester_id"}
USER_TEXT_FIELDS = {"name", "email", "username"}


def _entry_saved(sender, instance, created, using, raw=False, **kwargs) -> None:
    if created and not raw:
        index_tickets([instance.ticket_id], using=using)


def _ticket_saved(sender, instance, created, using, update_fields=None, raw=False, **kwargs):
    if raw:
        return
    if created or update_fields is None or TICKET_TEXT_FIELDS & set(update_fields):
        index_tickets([instance.pk], using=using)


def _event_saved(sender, instance, created, using, raw=False, **kwargs) -> None:
    from helpline.tickets.models import EventKind

    # A merge moves thread entries with a bulk update (no entry signals): rebuild both tickets.
    if created and not raw and instance.kind == EventKind.MERGED:
        index_tickets([instance.ticket_id], using=using)


def _user_saved(sender, instance, created, using, update_fields=None, raw=False, **kwargs):
    if raw or created:
        return
    changed = update_fields is None or USER_TEXT_FIELDS & set(update_fields)
    if changed and instance.requested_tickets.exists():
        index_requester(instance.pk, using=using)


def _ticket_deleted(sender, instance, using, **kwargs) -> None:
    # PostgreSQL documents go with the ticket (foreign key); SQLite's FTS rows have none.
    connection = connections[using]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [instance.pk])


def connect_signals() -> None:
    """Hook the rebuilds to the saves that change searchable text (called once, at start-up)."""
    from django.contrib.auth import get_user_model

    from helpline.tickets.models import Event, ThreadEntry, Ticket

    post_save.connect(_entry_saved, sender=ThreadEntry, dispatch_uid="search-entry")
    post_save.connect(_ticket_saved, sender=Ticket, dispatch_uid="search-ticket")
    post_delete.connect(_ticket_deleted, sender=Ticket, dispatch_uid="search-ticket-deleted")
    post_save.connect(_event_saved, sender=Event, dispatch_uid="search-event")
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="search-user")


def db_for_tickets() -> str:
    """The database alias tickets are written to."""
    from helpline.tickets.models import Ticket

    return router.db_for_write(Ticket)
