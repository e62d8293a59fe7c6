"""The search box's language, turned into the database's full-text query.

    printer jammed              both words (stemmed: "printers" finds "printer")
    "blue screen"               the words next to each other, in this order
    print*                      words starting with "print"
    -vpn  -"out of office"      without this word / phrase
    status:open assignee:me dept:"Online Banking"   field filters (see FIELDS); -status:closed

Words look in the ticket number, subject, requester name and e-mail, and the thread; internal
notes count only on the tickets the searcher works as an agent (see NoteScope). Results are the
best TOP_N matches by relevance among the tickets the caller may see, never "every match sorted
by date": ranking a bounded set is what keeps a common word fast at a million tickets. The same
syntax runs on PostgreSQL (tsvector, GIN) and SQLite (FTS5); on other databases words match
nothing.
"""

import re
from dataclasses import dataclass, field

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import (
    BigIntegerField,
    Case,
    F,
    FloatField,
    Func,
    Lookup,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from helpline.search.index import DOCUMENT_TABLE, FTS_TABLE, PG_CONFIG
from helpline.search.models import TSVectorField
from helpline.tickets import access
from helpline.tickets.models import State

# The best matches a search returns (at least the queues' count cap, so "999+" still shows).
TOP_N = 1000
MAX_TERMS = 16
MAX_LENGTH = 200

FIELDS = {
    "status": "status",
    "state": "status",
    "assignee": "assignee",
    "assigned": "assignee",
    "dept": "department",
    "department": "department",
    "team": "team",
    "priority": "priority",
    "requester": "requester",
    "from": "requester",
    "topic": "topic",
    "number": "number",
}

_TOKEN = re.compile(
    r"""(?P<neg>-)?
        (?:(?P<field>[A-Za-z]+):)?
        (?:"(?P<quoted>[^"]*)"?|(?P<bare>[^\s"]+))""",
    re.VERBOSE,
)
_WORD = re.compile(r"[^\W_]", re.UNICODE)  # a letter or digit
_SPLIT = re.compile(r"[^\w]+", re.UNICODE)


@dataclass(frozen=True)
class Term:
    """A word or phrase to look for; `prefix` for "print*"."""

    text: str
    phrase: bool = False
    prefix: bool = False


@dataclass
class ParsedQuery:
    words: list[Term] = field(default_factory=list)
    excluded: list[Term] = field(default_factory=list)
    filters: list[tuple[str, str, bool]] = field(default_factory=list)  # (field, value, negated)

    def __bool__(self) -> bool:
        return bool(self.words or self.excluded or self.filters)


@dataclass(frozen=True)
class NoteScope:
    """On which tickets the words of internal notes count, decided per ticket as the ticket page
    decides whether to show them: everywhere for administrators, nowhere for requesters, and for
    agents on the tickets they work (`access.worked_tickets`), not on those they only requested
    or are CC'd on in a department where they have no role.
    """

    everywhere: bool = False
    worked: Q | None = None  # an agent's worked tickets, as a condition on the ticket row

    @classmethod
    def of(cls, user) -> "NoteScope":
        if access.is_admin(user):
            return cls(everywhere=True)
        if access.is_agent(user):
            return cls(worked=access.worked_condition(user))
        return cls()


def parse(text: str) -> ParsedQuery:
    """Split the search box's text into words, phrases, exclusions and field filters.

    Never fails: unknown fields are searched as words, stray quotes close at the end, text
    without letters or digits is ignored.
    """
    parsed = ParsedQuery()
    # PostgreSQL text cannot hold NUL characters: they separate words like spaces.
    text = (text or "")[:MAX_LENGTH].replace("\x00", " ")
    for match in _TOKEN.finditer(text):
        negated = bool(match["neg"])
        name, quoted, bare = match["field"], match["quoted"], match["bare"]
        value = quoted if quoted is not None else bare or ""
        if name and name.lower() in FIELDS:
            if value.strip():
                parsed.filters.append((FIELDS[name.lower()], value.strip(), negated))
            continue
        if name:  # "error:404" is text, not a filter
            value = f"{name}:{value}"
        term = _term(value, phrase=quoted is not None)
        if term is None:
            continue
        target = parsed.excluded if negated else parsed.words
        if len(parsed.words) + len(parsed.excluded) < MAX_TERMS:
            target.append(term)
    return parsed


def _term(value: str, phrase: bool) -> Term | None:
    value = value.strip()
    prefix = not phrase and value.endswith("*")
    value = value.rstrip("*").strip().lstrip("#") if not phrase else value
    if not _WORD.search(value):
        return None
    return Term(value, phrase=phrase or bool(_SPLIT.search(value)), prefix=prefix)


# ---------------------------------------------------------------------------------------------
# Field filters


def _filter_condition(name: str, value: str, user) -> Q:
    lowered = value.lower()
    if name == "status":
        if lowered in State.values:
            return Q(state=lowered)
        return Q(status__name__iexact=value)
    if name == "assignee":
        if lowered == "me":
            return Q(assignee=user) if user is not None else Q(pk__in=[])
        if lowered in ("nobody", "none"):
            return Q(assignee__isnull=True)
        return (
            Q(assignee__username__iexact=value)
            | Q(assignee__name__iexact=value)
            | Q(assignee__email__iexact=value)
        )
    if name == "department":
        return Q(department__name__iexact=value)
    if name == "team":
        return Q(team__name__iexact=value)
    if name == "priority":
        return Q(priority__name__iexact=value)
    if name == "topic":
        return Q(help_topic__name__iexact=value)
    if name == "requester":
        return (
            Q(requester__email__iexact=value)
            | Q(requester__username__iexact=value)
            | Q(requester__name__iexact=value)
        )
    return Q(number=value.lstrip("#"))  # "number"


def apply_field_filters(qs: QuerySet, parsed: ParsedQuery, user) -> QuerySet:
    """Narrow `qs` by the query's field filters (status:open, -dept:SysAdmins …)."""
    for name, value, negated in parsed.filters:
        condition = _filter_condition(name, value, user)
        qs = qs.exclude(condition) if negated else qs.filter(condition)
    return qs


# ---------------------------------------------------------------------------------------------
# Full-text match, per database


def _split(text: str) -> str:
    return " ".join(part for part in _SPLIT.split(text) if part)


def _pg_term(term: Term) -> tuple[str, list]:
    if term.prefix and not term.phrase:
        # to_tsquery syntax is only safe for a plain word: _SPLIT guaranteed there is no other.
        return f"to_tsquery('{PG_CONFIG}', %s)", [f"{term.text}:*"]
    if term.phrase and _split(term.text) != term.text:
        # As written ("karen@example.com" is one e-mail token in a body) or split at punctuation
        # (how numbers and requester addresses are also indexed): either matches.
        sql = f"(phraseto_tsquery('{PG_CONFIG}', %s) || phraseto_tsquery('{PG_CONFIG}', %s))"
        return sql, [term.text, _split(term.text)]
    return f"phraseto_tsquery('{PG_CONFIG}', %s)", [term.text]


def _pg_tsquery(words: list[Term], excluded: list[Term]) -> tuple[str, list]:
    parts, params = [], []
    for term in words:
        sql, term_params = _pg_term(term)
        parts.append(sql)
        params += term_params
    for term in excluded:
        sql, term_params = _pg_term(term)
        parts.append(f"!!{sql}")
        params += term_params
    return "(" + " && ".join(parts) + ")", params


def _fts_term(term: Term) -> str:
    quoted = '"' + term.text.replace('"', '""') + '"'
    return f"{quoted} *" if term.prefix else quoted


def _fts_expression(words: list[Term], excluded: list[Term], public_only: bool) -> str:
    expression = " AND ".join(_fts_term(t) for t in words)
    for term in excluded:
        expression += f" NOT {_fts_term(term)}"
    if public_only:
        # Every column but the internal notes.
        expression = "{number subject requester body} : (" + expression + ")"
    return expression


def _pg_vector(notes: NoteScope):
    """The vector a ticket's words are matched against when notes do not count everywhere."""
    public = Coalesce(
        "search_document__public_document",
        "search_document__document",
        output_field=TSVectorField(),
    )
    if notes.worked is None:
        return public
    # A condition that is NULL (no team, no assignee) is not worked: the public text.
    return Case(
        When(notes.worked, then=F("search_document__document")),
        default=public,
        output_field=TSVectorField(),
    )


def _pg_best_matches(qs: QuerySet, parsed: ParsedQuery, notes: NoteScope) -> Lookup:
    tsquery, params = _pg_tsquery(parsed.words, parsed.excluded)
    if not qs.query.where and notes.worked is None:
        # An administrator's unfiltered list: rank the index alone, no ticket to look at.
        vector = "d.document" if notes.everywhere else "coalesce(d.public_document, d.document)"
        sql = (
            f"SELECT d.ticket_id FROM {DOCUMENT_TABLE} d WHERE {vector} @@ {tsquery} "
            f"ORDER BY ts_rank(d.head, {tsquery}) DESC, d.ticket_id DESC LIMIT {TOP_N}"
        )
        return _any_of(RawSQL(f"ARRAY({sql})", [*params, *params]))
    # One join, so the planner checks each match's ticket against the queue and access
    # conditions by primary key (as `id IN (visible tickets)` it may hash every visible
    # ticket first: 400 ms at a million tickets for a word in 1% of them).
    query = RawSQL(tsquery, params, output_field=TSVectorField())
    if notes.everywhere:
        matching = qs.filter(search_document__document__tsmatch=query)
    else:
        matching = qs.alias(search_vector=_pg_vector(notes)).filter(search_vector__tsmatch=query)
    if notes.worked is not None:
        # The public text is part of `document` too, so whatever the ticket its words (not
        # the exclusions) match `document`: a condition the GIN index answers before the
        # per-ticket one is looked at.
        words, words_params = _pg_tsquery(parsed.words, [])
        indexed = RawSQL(words, words_params, output_field=TSVectorField())
        matching = matching.filter(search_document__document__tsmatch=indexed)
    # Rank by the small head vector: matches in number, subject or requester first, then the
    # newest. Ranking by the whole thread would read every match's whole thread.
    rank = Func(
        F("search_document__head"), RawSQL(tsquery, params), function="ts_rank",
        output_field=FloatField(),
    )  # fmt: skip
    top = matching.annotate(search_rank=rank).order_by("-search_rank", "-pk").values("pk")[:TOP_N]
    return _any_of(ArraySubquery(top))


class ArraySubquery(Subquery):
    """ARRAY(subquery): evaluated once, before the outer query runs."""

    template = "ARRAY(%(subquery)s)"

    def __init__(self, queryset, **extra):
        super().__init__(queryset, output_field=BigIntegerField(), **extra)


class InArray(Lookup):
    """`lhs = ANY(array)`."""

    lookup_name = "in_array"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)


def _any_of(array) -> InArray:
    # `id = ANY(ARRAY(…))` rather than `id IN (…)`: the best matches are fetched first and then
    # looked up by primary key. With `IN`, a queue query joining many tables (past the
    # planner's join_collapse_limit) may hash every visible ticket before the semi-join.
    return InArray(F("pk"), array)


# Weights per column: number, subject, requester, body, notes.
_BM25 = f"bm25({FTS_TABLE}, 10.0, 10.0, 4.0, 1.0, 1.0)"


def _worked_sql(qs: QuerySet, notes: NoteScope) -> tuple[str, list] | None:
    """SQL selecting the ids of the tickets of `qs` the agent works, or None if `notes` is not
    an agent's (or they work none of them by construction)."""
    if notes.worked is None:
        return None
    try:
        sql, params = qs.filter(notes.worked).order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        return None
    return sql, list(params)


def _sqlite_best_matches(qs: QuerySet, parsed: ParsedQuery, notes: NoteScope) -> RawSQL:
    within, within_params = "", []
    if qs.query.where:  # Ranking happens among the tickets the caller may see.
        sql, params = qs.order_by().values("pk").query.sql_with_params()
        within, within_params = f" AND rowid IN ({sql})", list(params)
    full = _fts_expression(parsed.words, parsed.excluded, public_only=False)
    public = _fts_expression(parsed.words, parsed.excluded, public_only=True)
    worked = _worked_sql(qs, notes)
    if worked is None:
        sql = (
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s{within} "
            f"ORDER BY {_BM25}, rowid DESC LIMIT {TOP_N}"
        )
        return RawSQL(sql, [full if notes.everywhere else public, *within_params])
    # An FTS5 query has one MATCH expression: the tickets the agent works match with their
    # notes, the others without; each part ranked by its own expression.
    worked_sql, worked_params = worked
    sql = (
        f"SELECT rowid FROM ("
        f"SELECT rowid, {_BM25} AS score FROM {FTS_TABLE} "
        f"WHERE {FTS_TABLE} MATCH %s AND rowid IN ({worked_sql}) "
        f"UNION ALL SELECT rowid, {_BM25} AS score FROM {FTS_TABLE} "
        f"WHERE {FTS_TABLE} MATCH %s{within} AND rowid NOT IN ({worked_sql})"
        f") ORDER BY score, rowid DESC LIMIT {TOP_N}"
    )
    return RawSQL(sql, [full, *worked_params, public, *within_params, *worked_params])


def best_matches(qs: QuerySet, parsed: ParsedQuery, notes: NoteScope) -> Q | Lookup:
    """A condition keeping the TOP_N best matches of `parsed.words` within `qs`, internal notes
    counting on the tickets `notes` says.

    Raise EmptyResultSet when nothing can match (no search index on this database, or `qs`
    is empty by construction).
    """
    vendor = connections[qs.db].vendor
    if vendor == "postgresql":
        return _pg_best_matches(qs, parsed, notes)
    if vendor == "sqlite":
        return Q(pk__in=_sqlite_best_matches(qs, parsed, notes))
    raise EmptyResultSet


def _any_match_sql(qs: QuerySet, terms: list[Term], notes: NoteScope) -> tuple[str, list]:
    """SQL selecting ids of tickets matching any of `terms` (for exclusion-only searches).

    Matching any term is monotonic: a ticket matches in its notes where they count, or in its
    public text wherever.
    """
    vendor = connections[qs.db].vendor
    worked = _worked_sql(qs, notes)
    if vendor == "postgresql":
        parts, params = [], []
        for term in terms:
            sql, term_params = _pg_term(term)
            parts.append(sql)
            params += term_params
        tsquery = "(" + " || ".join(parts) + ")"
        public = f"coalesce(d.public_document, d.document) @@ {tsquery}"
        select = f"SELECT d.ticket_id FROM {DOCUMENT_TABLE} d WHERE "
        if notes.everywhere:
            return select + f"d.document @@ {tsquery}", params
        if worked is None:
            return select + public, params
        # The public text is part of `document`: the GIN index answers the first condition.
        worked_sql, worked_params = worked
        return (
            select + f"d.document @@ {tsquery} AND (d.ticket_id IN ({worked_sql}) OR {public})",
            [*params, *worked_params, *params],
        )
    if vendor == "sqlite":
        expression = " OR ".join(_fts_term(t) for t in terms)
        public = "{number subject requester body} : (" + expression + ")"
        select = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"
        if notes.everywhere:
            return select, [expression]
        if worked is None:
            return select, [public]
        worked_sql, worked_params = worked
        return (
            f"{select} UNION {select} AND rowid IN ({worked_sql})",
            [public, expression, *worked_params],
        )
    raise EmptyResultSet


def filter_tickets(qs: QuerySet, text: str, user=None) -> QuerySet:
    """Narrow `qs` (already limited to what `user` may see) by the search box's `text`.

    Field filters narrow first; words then keep the TOP_N most relevant tickets among the rest.
    Adds no query of its own: everything becomes one subquery of `qs`. Internal notes are
    searched only on the tickets `user` works as an agent (NoteScope).
    """
    parsed = parse(text)
    if not parsed:
        return qs
    qs = apply_field_filters(qs, parsed, user)
    notes = NoteScope.of(user)
    try:
        if parsed.words:
            return qs.filter(best_matches(qs, parsed, notes))
        if parsed.excluded:
            sql, params = _any_match_sql(qs, parsed.excluded, notes)
            return qs.exclude(pk__in=RawSQL(sql, params))
    except EmptyResultSet:
        return qs.none()
    return qs


def search(user, text: str, queryset: QuerySet | None = None) -> QuerySet:
    """The tickets `user` may see that match `text` (the best TOP_N for words), unordered."""
    return filter_tickets(access.visible_tickets(user, queryset), text, user)
