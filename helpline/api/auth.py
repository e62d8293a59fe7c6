"""Who is calling: API keys (Bearer or X-API-Key), the browser session, scopes and rate limits.

A key acts as its user: everything after authentication goes through tickets/access.py with that
user, so a key can never do more than its user could in the agent panel. Scopes only narrow.
"""

import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import HttpBearer
from ninja.security.session import SessionAuth

from helpline.api.models import ApiKey, Scope, split_key

LAST_USED_PRECISION = 60  # seconds: last_used_at is written at most this often per key


class RateLimited(HttpError):
    """Too many requests with this key in the current minute."""

    def __init__(self, retry_after: int):
        super().__init__(429, f"Rate limit exceeded; retry in {retry_after} s.")
        self.retry_after = retry_after


@dataclass
class Caller:
    """The authenticated caller: the user, the key used (None for a session) and its scopes."""

    user: object
    key: ApiKey | None = None
    scopes: set[str] = field(default_factory=set)


def client_address(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR", "")


def _rate_limit(api_key: ApiKey) -> None:
    limit = api_key.rate_limit or settings.HELPLINE_API_RATE_LIMIT
    if not limit:
        return
    now = time.time()
    window = int(now // 60)
    bucket = f"helpline-api-rate:{api_key.pk}:{window}"
    cache.add(bucket, 0, timeout=70)
    try:
        count = cache.incr(bucket)
    except ValueError:  # Evicted between add and incr: start the window again.
        cache.set(bucket, 1, timeout=70)
        count = 1
    if count > limit:
        raise RateLimited(max(1, int((window + 1) * 60 - now) + 1))


def key_caller(request: HttpRequest, presented: str) -> Caller:
    """Authenticate a presented key; raise HttpError 401/403/429 with a clear message."""
    presented = (presented or "").strip()
    prefix = split_key(presented)
    api_key = None
    if prefix is not None:
        api_key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
    if api_key is None or not api_key.matches(presented) or api_key.revoked_at is not None:
        raise HttpError(401, "Unknown or revoked API key.")
    now = timezone.now()
    if api_key.is_expired(now):
        raise HttpError(401, "This API key has expired.")
    if not api_key.user.is_active:
        raise HttpError(401, "The user of this API key is deactivated.")
    if not api_key.allows_address(client_address(request)):
        raise HttpError(403, "This API key may not be used from your address.")
    _rate_limit(api_key)
    stale = api_key.last_used_at is None or (
        (now - api_key.last_used_at).total_seconds() > LAST_USED_PRECISION
    )
    if stale:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return Caller(user=api_key.user, key=api_key, scopes=set(api_key.scopes or []))


class KeyBearer(HttpBearer):
    """`Authorization: Bearer <key>`."""

    def authenticate(self, request: HttpRequest, token: str) -> Caller:
        caller = key_caller(request, token)
        request.user = caller.user
        return caller


class Session(SessionAuth):
    """The agent panel's own calls: the signed-in user, CSRF checked, every scope of the user."""

    def _get_key(self, request: HttpRequest) -> str | None:
        # Only a signed-in browser needs the CSRF check; anyone else gets a plain 401.
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Caller | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        scopes = {Scope.TICKETS_READ.value, Scope.TICKETS_WRITE.value}
        if user.is_superuser:
            scopes.add(Scope.ADMIN_READ.value)
        return Caller(user=user, key=None, scopes=scopes)


def require(request: HttpRequest, scope: str) -> Caller:
    """The caller, if it holds `scope`; else 403 naming the missing scope."""
    caller: Caller = request.auth
    if scope not in caller.scopes:
        raise HttpError(403, f"This API key lacks the scope {scope}.")
    return caller
