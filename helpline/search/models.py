"""The search index: one row per ticket, in its own table so status changes never rewrite it.

PostgreSQL keeps three `tsvector`s per ticket in `search_ticketdocument`: the GIN-indexed
`document` with everything an agent may search, `public_document` without internal notes (NULL
when the ticket has none), and the small `head` (number, subject, requester) that ranking
reads: ranking a common word's matches by the whole thread would read every matching thread.
SQLite keeps the same text in the FTS5 virtual table `search_ticket_fts` (rowid = ticket id,
created by the migration); the model's own table stays empty there. Only
helpline/search/index.py writes either.
"""

from django.db import models


class TSVectorField(models.Field):
    """A PostgreSQL `tsvector` column (plain text elsewhere; never read through the ORM)."""

    description = "Text-search vector"

    def db_type(self, connection) -> str:
        return "tsvector" if connection.vendor == "postgresql" else "text"


@TSVectorField.register_lookup
class TSMatch(models.Lookup):
    """`vector @@ query`: the PostgreSQL full-text match, served by the GIN index."""

    lookup_name = "tsmatch"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} @@ {rhs}", (*lhs_params, *rhs_params)


class TicketDocument(models.Model):
    """The searchable text of one ticket (PostgreSQL): number, subject, requester, thread."""

    ticket = models.OneToOneField(
        "tickets.Ticket",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="search_document",
    )
    head = TSVectorField(null=True, help_text="Number, subject and requester: for ranking.")
    document = TSVectorField(null=True)
    public_document = TSVectorField(
        null=True, help_text="Without internal notes; NULL when the ticket has no notes."
    )

    class Meta:
        verbose_name = "ticket search document"

    def __str__(self) -> str:
        return f"Search document of ticket {self.ticket_id}"
