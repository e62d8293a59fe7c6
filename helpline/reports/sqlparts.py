"""Composing raw SQL safely: fragments carry their own parameters, slots are filled in order."""

import re
from typing import NamedTuple

from django.db import connections
from django.db.models import QuerySet

from helpline.replica import reading

_SLOT = re.compile(r"\{(\w+)\}")


class Fragment(NamedTuple):
    sql: str
    params: list


def from_queryset(queryset: QuerySet) -> Fragment:
    """The SELECT of a queryset, to be used as a subquery."""
    sql, params = queryset.query.sql_with_params()
    return Fragment(sql, list(params))


def compose(template: str, **parts) -> Fragment:
    """Fill `{name}` slots: a Fragment is inlined with its parameters, anything else is a `%s`.

    Parameters end up in the order their slots appear, whatever the order of `parts`.
    """
    params: list = []

    def fill(match: re.Match) -> str:
        part = parts[match.group(1)]
        if isinstance(part, Fragment):
            params.extend(part.params)
            return part.sql
        params.append(part)
        return "%s"

    return Fragment(_SLOT.sub(fill, template), params)


def fetch(fragment: Fragment) -> list[dict]:
    """Run a fragment (on the read replica when there is one); rows as dicts by column name."""
    with connections[reading()].cursor() as cursor:
        cursor.execute(fragment.sql, fragment.params)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
