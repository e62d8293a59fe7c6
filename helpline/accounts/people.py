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


def get_or_create_requester(email: str, name: str = "") -> tuple[User, bool]:
    """The user with this email address, created (without a usable password) if new."""
    email = normalise_email(email)
    user = find_by_email(email)
    if user is not None:
        return user, False
    name = (name or "").strip()[:150]
    base = _USERNAME_SAFE.sub("", email)[:130] or "requester"
    for attempt in range(5):
        username = base if attempt == 0 else f"{base[:120]}-{get_random_string(6).lower()}"
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
