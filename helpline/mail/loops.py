"""Loop and abuse protection shared by intake and outgoing mail.

Mail from our own addresses is never taken in (our notifications coming back would open tickets
forever), nothing is sent to our own or to banned addresses, and acknowledgements are limited per
address so that two auto-responders cannot keep each other busy.
"""

import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from helpline.accounts.models import Department
from helpline.mail.models import BannedAddress, Mailbox

_own_cache: dict = {}
OWN_CACHE_SECONDS = 10


class OwnAddresses(frozenset):
    """Our addresses; `in` also knows their sub-addresses (help+anything@, and a mailbox's own
    separator), which is where our signed reply addresses point."""

    separators: str = "+"

    def __contains__(self, email) -> bool:
        email = (email or "").strip().lower()
        if super().__contains__(email):
            return True
        local, at, domain = email.rpartition("@")
        for separator in self.separators:
            base, found, _ = local.partition(separator)
            if found and base and super().__contains__(f"{base}{at}{domain}"):
                return True
        return False


def own_addresses() -> OwnAddresses:
    """Every address the help desk sends from or receives at, lower-cased.

    Asked several times per message (intake, then each notification), so it is cached for a few
    seconds; saving a department, mailbox or ban entry clears the cache (signals in apps.py).
    """
    defaults = (settings.DEFAULT_FROM_EMAIL, settings.HELPLINE_DEFAULT_FROM)
    cached = _own_cache.get("own")
    if cached and cached[0] == defaults and cached[1] > time.monotonic():
        return cached[2]
    addresses = set(defaults)
    addresses |= set(Department.objects.exclude(email="").values_list("email", flat=True))
    mailboxes = list(
        Mailbox.objects.exclude(address="").values_list("address", "subaddress_separator")
    )
    addresses |= {address for address, _ in mailboxes}
    own = OwnAddresses(a.strip().lower() for a in addresses if a and "@" in a)
    own.separators = "".join(dict.fromkeys("+" + "".join(sep for _, sep in mailboxes)))
    _own_cache["own"] = (defaults, time.monotonic() + OWN_CACHE_SECONDS, own)
    return own


def forget_own_addresses(**kwargs) -> None:
    """Signal receiver: a department, mailbox or ban entry changed."""
    _own_cache.clear()


def is_own_address(email: str, own: set[str] | None = None) -> bool:
    return (email or "").strip().lower() in (own if own is not None else own_addresses())


def _ban_list() -> dict[str, str]:
    """pattern → reason of every ban entry, cached like own_addresses (ban lists are short)."""
    cached = _own_cache.get("bans")
    if cached and cached[0] > time.monotonic():
        return cached[1]
    bans = dict(BannedAddress.objects.values_list("pattern", "reason"))
    _own_cache["bans"] = (time.monotonic() + OWN_CACHE_SECONDS, bans)
    return bans


def ban_reason(email: str) -> str:
    """Why mail from/to `email` is refused ("" if it is not banned)."""
    email = (email or "").strip().lower()
    bans = _ban_list()
    for pattern in (email, "@" + email.rpartition("@")[2]):
        if pattern in bans:
            why = f": {bans[pattern]}" if bans[pattern] else ""
            return f"{email} is on the ban list ({pattern}{why})"
    return ""


def banned_among(emails: list[str]) -> set[str]:
    """Those of `emails` (lower-cased) that the ban list covers."""
    bans = _ban_list()
    if not bans:
        return set()
    emails = [e.strip().lower() for e in emails if e and "@" in e]
    return {e for e in emails if e in bans or "@" + e.rpartition("@")[2] in bans}


def ack_limit() -> tuple[int, timedelta]:
    """(how many acknowledgements, per how long) one address may get."""
    return settings.HELPLINE_ACK_LIMIT, timedelta(minutes=settings.HELPLINE_ACK_LIMIT_MINUTES)


def ack_rate_exceeded(email: str) -> bool:
    """Whether `email` already got as many acknowledgements as the limit allows."""
    from helpline.tickets.models import Notification, NotificationKind

    count, window = ack_limit()
    recent = Notification.objects.filter(
        kind=NotificationKind.NEW_TICKET_ACK,
        email=email,
        created_at__gte=timezone.now() - window,
    ).exclude(state="suppressed")
    return recent.count() >= count
