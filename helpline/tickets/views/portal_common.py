"""Shared pieces of the portal's views: rendering, the viewer's time zone, rate limits."""

import functools
import hashlib
from contextlib import nullcontext
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render
from django.utils import timezone

from helpline.tickets import access

TZ_COOKIE = "helpline_tz"


@functools.cache
def _known_timezones() -> frozenset[str]:
    from zoneinfo import available_timezones

    return frozenset(available_timezones())


def browser_timezone(request) -> ZoneInfo | None:
    """The zone the browser reported in a cookie (portal.js), unless the viewer is an agent whose
    profile zone the middleware already chose; None when there is nothing to change."""
    if timezone.get_current_timezone_name() != settings.TIME_ZONE:
        return None
    name = unquote(request.COOKIES.get(TZ_COOKIE, ""))
    if name and name in _known_timezones():
        return ZoneInfo(name)
    return None


def page(request, template: str, context: dict | None = None, status: int = 200):
    """Render a portal page in the viewer's time zone, with what the layout needs (the nav's
    "Agent panel" link)."""
    context = dict(context or {})
    context.setdefault("viewer_is_agent", access.is_agent(request.user))
    zone = browser_timezone(request)
    # Only for this rendering: nothing leaks into later work on the same thread.
    with timezone.override(zone) if zone is not None else nullcontext():
        context.setdefault("viewer_timezone", timezone.get_current_timezone_name())
        return render(request, template, context, status=status)


class PortalContextMixin:
    """For class-based views (sign-in, password reset): the same layout context as `page`."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("viewer_is_agent", access.is_agent(self.request.user))
        return context


def client_ip(request) -> str:
    # REMOTE_ADDR only: a forwarded header can be forged unless a trusted proxy sets it.
    return request.META.get("REMOTE_ADDR", "") or "unknown"


class RateLimit:
    """At most `limit` hits per key in a fixed window, counted in Django's cache.

    The default cache (LocMemCache) counts per process; with several web processes configure a
    shared cache (database or Redis) so the limit holds across them.
    """

    def __init__(self, name: str, limit_setting: str, window_setting: str):
        self.name = name
        # Names of settings (declared in settings.py), read on each use so a change applies.
        self.limit_setting = limit_setting
        self.window_setting = window_setting

    @property
    def limit(self) -> int:
        return getattr(settings, self.limit_setting)

    @property
    def window(self) -> int:
        return getattr(settings, self.window_setting)

    def _key(self, kind: str, value: str) -> str:
        digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
        return f"helpline:ratelimit:{self.name}:{kind}:{digest}"

    def exceeded(self, **idents: str) -> bool:
        """Whether any of the identities (email=…, ip=…) has used up its hits."""
        keys = [self._key(k, v) for k, v in idents.items() if v]
        counts = cache.get_many(keys)
        return any(int(c) >= self.limit for c in counts.values())

    def hit(self, **idents: str) -> None:
        """Count one hit for each identity."""
        for kind, value in idents.items():
            if not value:
                continue
            key = self._key(kind, value)
            if not cache.add(key, 1, timeout=self.window):
                try:
                    cache.incr(key)
                except ValueError:  # Expired between add and incr.
                    cache.add(key, 1, timeout=self.window)

    def minutes(self) -> int:
        return max(1, self.window // 60)


NEW_TICKETS = RateLimit(
    "new-ticket", "HELPLINE_PORTAL_TICKET_LIMIT", "HELPLINE_PORTAL_TICKET_WINDOW"
)
STATUS_LOOKUPS = RateLimit(
    "status-lookup", "HELPLINE_PORTAL_LOOKUP_LIMIT", "HELPLINE_PORTAL_LOOKUP_WINDOW"
)
REGISTRATIONS = RateLimit(
    "register", "HELPLINE_PORTAL_REGISTER_LIMIT", "HELPLINE_PORTAL_REGISTER_WINDOW"
)
