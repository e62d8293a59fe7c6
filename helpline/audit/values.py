"""Field values as the audit log writes them: plain JSON, related rows by name, secrets hidden."""

import datetime
import decimal
import json

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import is_password_usable
from django.core.exceptions import ValidationError
from django.db import models

from helpline.audit.models import SECRET_CHANGED

# Email template and knowledge base bodies can be long; a diff keeps this much of each side.
MAX_TEXT = 10_000


def safe_str(obj) -> str:
    """`str(obj)` that never raises: a broken __str__ must not break the save it records."""
    try:
        return str(obj)
    except Exception:  # noqa: BLE001 - any error in a model's __str__
        return f"{type(obj).__name__} {getattr(obj, 'pk', '')}".strip()


def same(field: models.Field, before, after) -> bool:
    """Whether a field's stored value and its new value are equal (4 == Decimal("4.00"))."""
    if before == after:
        return True
    try:
        return field.to_python(before) == field.to_python(after)
    except (ValidationError, TypeError, ValueError):
        return False


def is_empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def is_rehash(instance, before, after) -> bool:
    """A user's password hash upgraded on sign-in (same password, new hasher): no change.

    Django's set_password() keeps the raw password on the instance until the save; its
    hash-upgrade path clears it first. A usable hash replaced by another usable one with no
    raw password pending is therefore an upgrade, not a change.
    """
    if not isinstance(instance, AbstractBaseUser) or instance._password is not None:
        return False
    return bool(before) and is_password_usable(before) and is_password_usable(after)


def plain(field: models.Field, value, label_of=None):
    """A JSON-ready rendering of `value` for `field`; `label_of(field, pk)` names a related row."""
    if value is None:
        return None
    if field.many_to_one or field.one_to_one:
        return label_of(field, value) if label_of else value
    if field.choices:
        return _text(str(dict(field.flatchoices).get(value, value)))
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list | dict):
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            return _text(str(value))
        return value
    name = getattr(value, "name", None)  # a FieldFile: its stored name
    if isinstance(name, str):
        return name
    return _text(safe_str(value))


def secret() -> list:
    """[before, after] of a secret: that it changed, nothing of the value or its hash."""
    return [None, SECRET_CHANGED]


def _text(value: str) -> str:
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"
