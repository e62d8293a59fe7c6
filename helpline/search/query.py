"""The search box's language, turned into the database's full-text query.

    printer jammed              both words (stemmed: "printers" finds "printer")
    "blue screen"               the words next to each other, in this order
    print*                      words starting with "print"
    -vpn  -"out of office"      without this word / phrase
    status:open assignee:me dept:"Online Banking"   field filters (see FIELDS); -status:closed

Words look in the ticket number, subject, requester name and e-mail, and the thread (internal
notes only for agents). Results are the best TOP_N matches by relevance among the tickets the
caller may see, never "every match sorted by date": ranking a bounded set is what keeps a common
word fast at a million tickets. The same syntax runs on PostgreSQL (tsvector, GIN) and SQLite
(FTS5); on other databases words match nothing.
"""

import re
from dataclasses import dataclass, field

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import BigIntegerField, F, FloatField, Func, Lookup, Q, QuerySet, Subquery
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
        # Requesters never match on internal notes.
        expression = "{number subject requester body} : (" + expression + ")"
    return expression


def _pg_best_matches(qs: QuerySet, parsed: ParsedQuery, public_only: bool) -> Lookup:
    tsquery, params = _pg_tsquery(parsed.words, parsed.excluded)
    if not qs.query.where:
        # An administrator's unfiltered list: rank the index alone, no ticket to look at.
        vector = "coalesce(d.public_document, d.document)" if public_only else "d.document"
        sql = (
            f"SELECT d.ticket_id FROM {DOCUMENT_TABLE} d WHERE {vector} @@ {tsquery} "
            f"ORDER BY ts_rank(d.head, {tsquery}) DESC, d.ticket_id DESC LIMIT {TOP_N}"
        )
        return _any_of(RawSQL(f"ARRAY({sql})", [*params, *params]))
    # One join, so the planner checks each match's ticket against the queue and access
    # conditions by primary key (as `id IN (visible tickets)` it may hash every visible
    # ticket first: 400 ms at a million tickets for a word in 1% of them).
    query = RawSQL(tsquery, params, output_field=TSVectorField())
    if public_only:
        public = Coalesce(
            "search_document__public_document",
            "search_document__document",
            output_field=TSVectorField(),
        )
        matching = qs.alias(search_vector=public).filter(search_vector__tsmatch=query)
    else:
        matching = qs.filter(search_document__document__tsmatch=query)
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


def _sqlite_best_matches(qs: QuerySet, parsed: ParsedQuery, public_only: bool) -> RawSQL:
    expression = _fts_expression(parsed.words, parsed.excluded, public_only)
    within, within_params = "", []
    if qs.query.where:  # Ranking happens among the tickets the caller may see.
        sql, params = qs.order_by().values("pk").query.sql_with_params()
        within, within_params = f" AND rowid IN ({sql})", list(params)
    sql = (
        f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s{within} "
        # Weights per column: number, subject, requester, body, notes.
        f"ORDER BY bm25({FTS_TABLE}, 10.0, 10.0, 4.0, 1.0, 1.0), rowid DESC LIMIT {TOP_N}"
    )
    return RawSQL(sql, [expression, *within_params])


def best_matches(qs: QuerySet, parsed: ParsedQuery, public_only: bool) -> Q | Lookup:
    """A condition keeping the TOP_N best matches of `parsed.words` within `qs`.

    Raise EmptyResultSet when nothing can match (no search index on this database, or `qs`
    is empty by construction).
    """
    vendor = connections[qs.db].vendor
    if vendor == "postgresql":
        return _pg_best_matches(qs, parsed, public_only)
    if vendor == "sqlite":
        return Q(pk__in=_sqlite_best_matches(qs, parsed, public_only))
    raise EmptyResultSet


def _any_match_sql(qs: QuerySet, terms: list[Term], public_only: bool) -> tuple[str, list]:
    """SQL selecting ids of tickets matching any of `terms` (for exclusion-only searches)."""
    vendor = connections[qs.db].vendor
    if vendor == "postgresql":
        parts, params = [], []
        for term in terms:
            sql, term_params = _pg_term(term)
            parts.append(sql)
            params += term_params
        vector = "coalesce(d.public_document, d.document)" if public_only else "d.document"
        return (
            f"SELECT d.ticket_id FROM {DOCUMENT_TABLE} d WHERE {vector} @@ ({' || '.join(parts)})",
            params,
        )
    if vendor == "sqlite":
        expression = " OR ".join(_fts_term(t) for t in terms)
        if public_only:
            expression = "{number subject requester body} : (" + expression + ")"
        return f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [expression]
    raise EmptyResultSet


def filter_tickets(qs: QuerySet, text: str, user=None) -> QuerySet:
    """Narrow `qs` (already limited to what `user` may see) by the search box's `text`.

    Field filters narrow first; words then keep the TOP_N most relevant tickets among the rest.
    Adds no query of its own: everything becomes one subquery of `qs`. Internal notes are
    searched only for agents.
    """
    parsed = parse(text)
    if not parsed:
        return qs
    qs = apply_field_filters(qs, parsed, user)
    public_only = not access.is_agent(user)
    try:
        if parsed.words:
            return qs.filter(best_matches(qs, parsed, public_only))
        if parsed.excluded:
            sql, params = _any_match_sql(qs, parsed.excluded, public_only)
            return qs.exclude(pk__in=RawSQL(sql, params))
    except EmptyResultSet:
        return qs.none()
    return qs


def search(user, text: str, queryset: QuerySet | None = None) -> QuerySet:
    """The tickets `user` may see that match `text` (the best TOP_N for words), unordered."""
    return filter_tickets(access.visible_tickets(user, queryset), text, user)
