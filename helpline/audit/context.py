"""Who is changing the configuration right now: the actor the audit log writes down.

A context variable holds the current actor. AuditActorMiddleware sets it for every request (the
signed-in user, their address, and the channel from the path); management commands wrap their
work in `acting_as(...)`; anything else (demo data, migrations, background tasks) is "system".

This module imports no models: it is loaded with the app package, before models are ready.
"""

import getpass
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

# The channel names are repeated in models.Channel (the database choices); a test keeps the two
# in step. They live here too so that this module stays free of model imports.
ADMIN, WEB, API, CLI, SYSTEM = "admin", "web", "api", "cli", "system"
CHANNELS = (ADMIN, WEB, API, CLI, SYSTEM)
SYSTEM_LABEL = "Helpline (system)"
# Entries kept per context so that a relation saved after its object joins the object's entry.
RECENT_LIMIT = 100


@dataclass
class Actor:
    """Who acts, through which channel, from where.

    With a request, the user is read from `request.user` when an entry is written, not when the
    request starts: reading it early would cost every request a session look-up, and API keys
    set `request.user` only once the API has authenticated the call.
    """

    channel: str = SYSTEM
    label: str = ""
    user: object | None = None
    request: object | None = None
    ip_address: str | None = None
    # (content type id, object id) → (entry id, its changes) of the entries written in this
    # context, so that memberships saved after their object join its entry (see capture.py).
    recent: dict = field(default_factory=dict)
    # Set when the acting user's own account is being deleted: later entries name no user.
    user_gone: bool = False

    def resolve_user(self):
        """The acting user (a saved, signed-in User), or None."""
        if self.user_gone:
            return None
        user = self.user
        if user is None and self.request is not None:
            user = getattr(self.request, "user", None)
        if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
            return None
        return user

    def resolve_label(self, user) -> str:
        if self.label:
            return self.label
        if user is not None:
            return user.get_username()
        if self.user is not None or self.request is not None:
            return "anonymous"
        return SYSTEM_LABEL

    def remember(self, key: tuple, entry: tuple) -> None:
        if len(self.recent) >= RECENT_LIMIT:
            self.recent.clear()
        self.recent[key] = entry


_current: ContextVar[Actor | None] = ContextVar("helpline_audit_actor", default=None)


def current_actor() -> Actor:
    """The actor of the running request or command; a fresh "system" actor when none is set."""
    actor = _current.get()
    return actor if actor is not None else Actor()


@contextmanager
def acting_as(
    label: str = "",
    *,
    channel: str = CLI,
    user=None,
    ip_address: str | None = None,
) -> Iterator[Actor]:
    """Record configuration changes made inside the block as done by `label` (or `user`).

    `with audit.acting_as(audit.command_label("apikey create")):` in a management command
    records its changes with the channel "cli". Nested blocks win over outer ones.
    """
    if channel not in CHANNELS:
        raise ValueError(f"Unknown audit channel {channel!r}; use one of {', '.join(CHANNELS)}.")
    actor = Actor(channel=channel, label=label[:150], user=user, ip_address=ip_address)
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


@contextmanager
def acting_for_request(request, channel: str) -> Iterator[Actor]:
    """The actor of one HTTP request (used by AuditActorMiddleware)."""
    actor = Actor(
        channel=channel,
        request=request,
        ip_address=clean_ip(request.META.get("REMOTE_ADDR", "")),
    )
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def clean_ip(value: str) -> str | None:
    """A valid IP address, or None (a unix-socket server may pass an empty or odd REMOTE_ADDR).

    REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    """
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def command_label(command: str) -> str:
    """How a management command run is named in the log: the operating-system user and command."""
    try:
        who = getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment nor in the password database
        who = "unknown user"
    return f"{who} (helpline {command})"[:150]
