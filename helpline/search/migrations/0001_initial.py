"""The search index: a tsvector table with a GIN index (PostgreSQL) or an FTS5 table (SQLite)."""

import django.db.models.deletion
from django.db import migrations, models

import helpline.search.models

FTS_CREATE = [
    "CREATE VIRTUAL TABLE search_ticket_fts USING fts5("
    "number, subject, requester, body, notes, "
    "tokenize = 'porter unicode61 remove_diacritics 2')",
    # FTS rows cannot have a foreign key: drop a ticket's row with the ticket.
    "CREATE TRIGGER search_ticket_fts_delete AFTER DELETE ON tickets_ticket "
    "BEGIN DELETE FROM search_ticket_fts WHERE rowid = old.id; END",
]
FTS_DROP = [
    "DROP TRIGGER IF EXISTS search_ticket_fts_delete",
    "DROP TABLE IF EXISTS search_ticket_fts",
]
PG_CREATE = [
    "CREATE INDEX search_document_gin ON search_ticketdocument USING gin (document)",
]
PG_DROP = ["DROP INDEX IF EXISTS search_document_gin"]


def _execute(schema_editor, statements):
    for sql in statements:
        schema_editor.execute(sql)


def create_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _execute(schema_editor, PG_CREATE)
    elif vendor == "sqlite":
        _execute(schema_editor, FTS_CREATE)


def drop_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _execute(schema_editor, PG_DROP)
    elif vendor == "sqlite":
        _execute(schema_editor, FTS_DROP)


def fill(apps, schema_editor):
    """Index the tickets that exist already (an upgrade); a new install has none."""
    from helpline.search import index

    Ticket = apps.get_model("tickets", "Ticket")
    alias = schema_editor.connection.alias
    last = Ticket.objects.using(alias).order_by("-pk").values_list("pk", flat=True).first()
    for start in range(1, (last or 0) + 1, index.BATCH):
        index.index_range(start, start + index.BATCH - 1, using=alias)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0001_initial"),
        ("tickets", "0004_notification_email_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="TicketDocument",
            fields=[
                (
                    "ticket",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search_document",
                        serialize=False,
                        to="tickets.ticket",
                    ),
                ),
                (
                    "head",
                    helpline.search.models.TSVectorField(
                        help_text="Number, subject and requester: for ranking.", null=True
                    ),
                ),
                ("document", helpline.search.models.TSVectorField(null=True)),
                (
                    "public_document",
                    helpline.search.models.TSVectorField(
                        help_text="Without internal notes; NULL when the ticket has no notes.",
                        null=True,
                    ),
                ),
            ],
            options={"verbose_name": "ticket search document"},
        ),
        migrations.RunPython(create_index, drop_index),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
