"""The only place where report SQL differs between SQLite and PostgreSQL.

Everything else in queries.py is plain SQL both databases run the same way. Each function returns
an SQL fragment and the parameters it needs, in order.

Percentiles are continuous (interpolated between the two nearest ranks), as PostgreSQL's
`percentile_cont`: on SQLite the same number comes from ROW_NUMBER/COUNT windows over the ordered
values, picking the two ranks around `fraction * (n - 1)` and interpolating.
"""

from collections.abc import Sequence
from contextlib import contextmanager
from datetime import datetime

from django.db import connection, connections, transaction

from helpline.replica import reading
from helpline.reports.sqlparts import Fragment, fetch

# Every grouped query also yields the total line (tot = 1, group NULL): the total's medians
# cannot be added up from the groups'. PostgreSQL has GROUPING SETS for it; SQLite gets each
# row twice through a two-row cross join.
_TOTALS = "(SELECT 0 AS tot UNION ALL SELECT 1 AS tot)"


class _Fence:
    """Appended to a subquery so the planner computes its columns once per row (no inlining)."""

    def __str__(self) -> str:
        return " OFFSET 0" if is_postgres() else " LIMIT -1 OFFSET 0"

    def __format__(self, spec: str) -> str:
        return str(self)


FENCE = _Fence()


def vendor() -> str:
    return connection.vendor


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def param(value: datetime) -> object:
    """A datetime as the database stores it (SQLite compares text: naive UTC, same format)."""
    return connection.ops.adapt_datetimefield_value(value)


def seconds_between(start: str, end: str) -> str:
    """Whole seconds from column `start` to column `end` (NULL if either is NULL)."""
    if is_postgres():
        # date_part gives a double (EXTRACT a numeric, much slower to sort for percentiles).
        return f"ROUND(date_part('epoch', {end} - {start}))"
    return f"ROUND((julianday({end}) - julianday({start})) * 86400.0)"


def local_date(column: str, tzname: str) -> Fragment:
    """The viewer's calendar date of a UTC timestamp column."""
    if is_postgres():
        return Fragment(f"CAST(({column} AT TIME ZONE %s) AS DATE)", [tzname])
    # Django registers this function on every SQLite connection (it backs TruncDate).
    return Fragment(
        f"django_datetime_cast_date({column}, %s, %s)", [tzname, connection.timezone_name]
    )


def json_int(column: str, key: str) -> str:
    """An integer member of a JSON column (events keep {"id": …, "name": …} refs)."""
    if not key.isidentifier():
        raise ValueError(f"Unsafe JSON key {key!r}")
    if is_postgres():
        return f"CAST(({column} ->> '{key}') AS BIGINT)"
    return f"CAST(json_extract({column}, '$.{key}') AS INTEGER)"


def percentiles(source: Fragment, keys: list[str], values: list[str], fractions: list[float]):
    """Percentiles of each column in `values` per group of `keys`, from the subquery `source`.

    Returns a Fragment selecting the keys and one column `<value>_p<i>` per value and fraction
    (in seconds, as float); NULL values are left out, an empty set gives NULL.
    """
    for f in fractions:
        if not 0 <= f <= 1:
            raise ValueError(f"A fraction is between 0 and 1, not {f}")
    key_list = ", ".join(keys)
    if is_postgres():
        columns = ", ".join(
            f"percentile_cont({f!r}) WITHIN GROUP (ORDER BY src.{v}) AS {v}_p{i}"
            for v in values
            for i, f in enumerate(fractions)
        )
        sql = f"SELECT {key_list}, {columns} FROM ({source.sql}) src GROUP BY {key_list}"
        return Fragment(sql, list(source.params))
    # Unpivot to (keys, m, v), rank within (keys, m), pick the two ranks around f * (n - 1).
    unpivot = " UNION ALL ".join(
        f"SELECT {key_list}, {m} AS m, {v} AS v FROM src WHERE {v} IS NOT NULL"
        for m, v in enumerate(values)
    )
    ranked = (
        f"SELECT {key_list}, m, v, "
        f"ROW_NUMBER() OVER (PARTITION BY {key_list}, m ORDER BY v) - 1 AS rn, "
        f"COUNT(*) OVER (PARTITION BY {key_list}, m) AS n FROM ({unpivot}) u"
    )
    columns = []
    for m, v in enumerate(values):
        for i, f in enumerate(fractions):
            pos = f"({f!r} * (n - 1))"
            low = f"CAST({pos} AS INTEGER)"
            frac = f"({pos} - {low})"
            columns.append(
                f"SUM(CASE WHEN m = {m} AND rn = {low} THEN v * (1 - {frac}) "
                f"WHEN m = {m} AND rn = {low} + 1 THEN v * {frac} END) AS {v}_p{i}"
            )
    sql = (
        f"WITH src AS ({source.sql}) SELECT {key_list}, {', '.join(columns)} "
        f"FROM ({ranked}) r GROUP BY {key_list}"
    )
    return Fragment(sql, list(source.params))


@contextmanager
def tuned():
    """Report queries sort and hash a few hundred thousand rows: give them memory, skip JIT."""
    if not is_postgres():
        yield
        return
    alias = reading()  # where sqlparts.fetch will run: tune that connection
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("SET LOCAL jit = off")
        yield


def aggregate(
    source: Fragment,
    sums: Sequence[str],
    counts: Sequence[str],
    values: Sequence[str],
    fractions: Sequence[float],
) -> list[dict]:
    """Per group of `source.grp` and for the total (tot = 1): SUM of `sums`, COUNT of `counts`
    (non-NULL) and the percentiles `<value>_p<i>` of `values`. Rows are dicts with tot and g.
    """
    aggregates = [f"SUM(src.{c}) AS {c}" for c in sums] + [f"COUNT(src.{c}) AS {c}" for c in counts]
    if is_postgres():
        sql = _postgres_aggregate_sql(source, aggregates, [*sums, *counts], values, fractions)
        with tuned():
            return _merge_parts(fetch(Fragment(sql, list(source.params))), values, fractions)
    return _portable_aggregate(source, aggregates, values, fractions)


def _postgres_aggregate_sql(
    source: Fragment,
    aggregates: list[str],
    names: list[str],
    values: Sequence[str],
    fractions: Sequence[float],
) -> str:
    """Two passes over the rows computed once (a materialized CTE): the sums hash-aggregate
    (part 0), the percentiles sort only the group and the durations (part 1)."""
    # One sort per column for all fractions (an array of percentiles).
    wanted = ", ".join(repr(f) for f in fractions)
    percentile_columns = [
        f"percentile_cont(ARRAY[{wanted}]::float8[]) WITHIN GROUP (ORDER BY src.{v}) AS {v}_pcts"
        for v in values
    ]
    pct_names = [f"{v}_pcts" for v in values]
    keys = "GROUPING(src.grp) AS tot, src.grp AS g"
    sets = "GROUP BY GROUPING SETS ((src.grp), ())"
    sql = (
        f"WITH src AS MATERIALIZED ({source.sql}) "
        f"SELECT 0 AS part, {keys}, {', '.join(aggregates)}"
        + "".join(f", NULL::float8[] AS {n}" for n in pct_names)
        + f" FROM src {sets}"
    )
    if values:
        sql += (
            f" UNION ALL SELECT 1, {keys}"
            + "".join(f", NULL AS {n}" for n in names)
            + f", {', '.join(percentile_columns)} FROM src {sets}"
        )
    return sql


def _merge_parts(fetched, values: Sequence[str], fractions: Sequence[float]) -> list[dict]:
    """One row per (tot, g) from the two parts, the percentile arrays spread into `<v>_p<i>`."""
    rows: dict = {}
    for r in fetched:
        merged = rows.setdefault((r["tot"], r["g"]), {})
        merged.update({k: v for k, v in r.items() if v is not None or k not in merged})
    for merged in rows.values():
        for v in values:
            found = merged.pop(f"{v}_pcts", None) or [None] * len(fractions)
            merged.update({f"{v}_p{i}": x for i, x in enumerate(found)})
    return list(rows.values())


def _portable_aggregate(
    source: Fragment, aggregates: list[str], values: Sequence[str], fractions: Sequence[float]
) -> list[dict]:
    """SQLite: every row twice (its group and the total), then plain GROUP BY and percentiles()."""
    doubled = Fragment(
        f"SELECT x.tot AS tot, CASE WHEN x.tot = 1 THEN NULL ELSE s.grp END AS g, s.* "
        f"FROM ({source.sql}) s CROSS JOIN {_TOTALS} x",
        list(source.params),
    )
    sql = f"SELECT src.tot, src.g, {', '.join(aggregates)} FROM ({doubled.sql}) src GROUP BY 1, 2"
    rows = {(r["tot"], r["g"]): r for r in fetch(Fragment(sql, doubled.params))}
    if values:
        for r in fetch(percentiles(doubled, ["tot", "g"], list(values), list(fractions))):
            rows.setdefault((r["tot"], r["g"]), {"tot": r["tot"], "g": r["g"]}).update(r)
    return list(rows.values())
