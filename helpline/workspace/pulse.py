"""Live updates by conditional polling: scopes, change counters and signed pulse tokens.

A page that shows tickets carries a pulse token: the scopes it depends on (its departments, the
agent and their teams, or one ticket) and the tickets whose presence it shows, signed with the
secret key and issued after the page's own access checks. The browser asks `/staff/pulse/` every
few seconds *without cookies* and with the stamp it last saw (If-None-Match): the answer is one
SQL statement (a primary-key lookup of the counters plus the fresh presence rows) and a 304
almost always. A different stamp only tells the page to fetch its fragment again, through the
ordinary, access-checked views. The token says nothing about a ticket beyond "changed".
"""

import hashlib
from collections.abc import Iterable
from datetime import timedelta

from django.core import signing
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from helpline.tickets import access
from helpline.workspace.models import Presence, Pulse

TOKEN_SALT = "helpline.workspace.pulse"
# A token outlives no access change by more than this; the page then renews it (410).
TOKEN_MAX_AGE = 600
# Presence rows older than this are not shown: "Jane is viewing" goes within this after she
# leaves without saying so (the page's heartbeat renews it every PRESENCE_HEARTBEAT seconds).
PRESENCE_WINDOW = timedelta(seconds=20)
PRESENCE_HEARTBEAT = 8
POLL_SECONDS = 2
# Every change bumps this scope too: an administrator sees every department.
ALL = "all"


def department_key(department_id: int) -> str:
    return f"d:{department_id}"


def ticket_key(ticket_id: int) -> str:
    return f"t:{ticket_id}"


def agent_key(user_id: int) -> str:
    return f"u:{user_id}"


def team_key(team_id: int) -> str:
    return f"team:{team_id}"


def agent_scopes(user) -> list[str]:
    """The scopes of the tickets `user` works: their departments, themselves and their teams
    (assignments outside their departments), or everything for an administrator. Tickets an
    agent only requested or is CC'd on are not followed live."""
    if access.is_admin(user):
        return [ALL]
    profile = access.agent_profile(user)
    if profile is None:
        return []
    keys = [department_key(pk) for pk in sorted(profile.department_roles())]
    keys.append(agent_key(user.pk))
    keys += [team_key(pk) for pk in sorted(profile.team_ids())]
    return keys


def issue(user, scopes: Iterable[str], presence_of: Iterable[int] = ()) -> str:
    """A signed pulse token for a page that `user` was just allowed to see."""
    data = {"u": user.pk, "k": sorted(set(scopes)), "p": sorted(set(presence_of))}
    return signing.dumps(data, salt=TOKEN_SALT, compress=True)


def read(token: str) -> dict | None:
    """The token's content, or None when it is forged, garbled or too old."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except (signing.BadSignature, ValueError):
        return None
    ok = (
        isinstance(data, dict)
        and isinstance(data.get("u"), int)
        and isinstance(data.get("k"), list)
        and isinstance(data.get("p"), list)
        and all(isinstance(k, str) for k in data["k"])
        and all(isinstance(p, int) for p in data["p"])
    )
    return data if ok else None


def stamp(data: dict, now=None) -> str:
    """The stamp of a token's scopes: one SQL statement (counters by primary key, presence by
    the (ticket, seen_at) index). It changes when a counter does, or when someone other than the
    token's agent starts or stops viewing or replying on one of its tickets."""
    now = now or timezone.now()
    keys, tickets = data["k"][:64], data["p"][:100]
    pulse, presence = Pulse._meta.db_table, Presence._meta.db_table
    sql = f"SELECT COALESCE(SUM(seq), 0), 0, '' FROM {pulse} WHERE key IN ({_marks(keys)})"
    params: list = list(keys) or [""]
    if tickets:
        sql += (
            f" UNION ALL SELECT ticket_id, user_id, state FROM {presence}"
            f" WHERE ticket_id IN ({_marks(tickets)}) AND seen_at > %s AND user_id <> %s"
        )
        params += [*tickets, now - PRESENCE_WINDOW, data["u"]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    digest = hashlib.blake2b(repr(sorted(map(tuple, rows))).encode(), digest_size=9)
    return digest.hexdigest()


def _marks(values: list) -> str:
    return ", ".join(["%s"] * max(1, len(values)))


def bump(keys: Iterable[str]) -> None:
    """Count a change in each scope (after the change committed)."""
    keys = sorted(set(keys))
    if not keys:
        return
    updated = Pulse.objects.filter(key__in=keys).update(seq=F("seq") + 1)
    if updated == len(keys):
        return
    existing = set(Pulse.objects.filter(key__in=keys).values_list("key", flat=True))
    for key in keys:
        if key in existing:
            continue
        try:
            with transaction.atomic():
                Pulse.objects.create(key=key, seq=1)
        except IntegrityError:  # Another process created it meanwhile: count once more.
            Pulse.objects.filter(key=key).update(seq=F("seq") + 1)
