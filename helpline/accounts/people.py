"""Finding and creating requesters: one place for every channel (portal, staff, email, API)."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.crypto import get_random_string

from helpline.accounts.models import User

_USERNAME_SAFE = re.compile(r"[^\w.@+-]")


def normalise_email(email: str) -> str:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": f"“{email[:100]}” is not a valid email address."})
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def find_by_email(email: str) -> User | None:
    return User.objects.filter(email__iexact=(email or "").strip()).first()


def username_for(email: str, suffix: bool = False) -> str:
    """A username for a new account with this (normalised) address.

    The address itself when it is a valid username; otherwise a name with no "@", which can never
    be someone else's address ("ken!@example.com" must not become "ken@example.com"). Sign-in
    takes a username or an address, so the two must never meet.
    """
    safe = _USERNAME_SAFE.sub("", email)
    if not suffix and safe == email and len(email) <= 150:
        return email
    base = safe.replace("@", "_at_")[:120] or "requester"
    return f"{base}-{get_random_string(6).lower()}" if suffix else base


def get_or_create_requester(email: str, name: str = "") -> tuple[User, bool]:
    """The user with this email address, created (without a usable password) if new."""
    email = normalise_email(email)
    user = find_by_email(email)
    if user is not None:
        return user, False
    name = (name or "").strip()[:150]
    for attempt in range(5):
        username = username_for(email, suffix=attempt > 0)
        if User.objects.name_taken(username):
            continue
        try:
            with transaction.atomic():
                user = User(username=username, email=email, name=name)
                user.set_unusable_password()
                user.save()
                return user, True
        except IntegrityError:
            existing = find_by_email(email)
            if existing is not None:  # Created concurrently by another channel.
                return existing, False
    raise ValidationError({"email": "Could not create a user for this address."})
