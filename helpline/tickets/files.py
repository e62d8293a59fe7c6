"""Attachment files and transactions: a file written for a transaction that rolls back is removed.

A file is written to storage inside the transaction that creates its row (so the row never points
at nothing). When that transaction rolls back — a routing rule rejects the mail, the database
fails, a later step raises — the file must go too, or storage fills with orphans. Django has no
on-rollback hook, so each written file is remembered with an on-commit marker: a file whose
transaction has ended without running its marker was rolled back and is deleted by
`remove_rolled_back()`, which runs when a request or a mail intake ends and before every new
write. A failing write removes what the same step wrote at once.

Storage that refuses a write (read-only, full, unreachable) raises `StorageUnavailable` with the
reason: web pages answer 503 with it, the API a JSON 503, mail intake leaves the message on the
server to try again, and the administrators are told by mail (at most once an hour per process).
"""

import logging
import threading
import time
from dataclasses import dataclass, field

from django.core.files.base import ContentFile
from django.core.mail import mail_admins
from django.db import transaction

try:  # object storage (HELPLINE_S3_BUCKET) fails with botocore's errors, not OSError
    from botocore.exceptions import BotoCoreError, ClientError

    STORAGE_ERRORS: tuple[type[Exception], ...] = (OSError, BotoCoreError, ClientError)
except ImportError:  # pragma: no cover - botocore is a dependency
    STORAGE_ERRORS = (OSError,)

log = logging.getLogger(__name__)
ALERT_EVERY_SECONDS = 3600
_last_alert = {"at": -ALERT_EVERY_SECONDS}


class StorageUnavailable(Exception):
    """Attachment storage refused a write; `reason` is safe to show to the person."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Written:
    name: str
    storage: object
    marker: object
    committed: list = field(default_factory=list)


_pending = threading.local()


def _written() -> list[_Written]:
    if not hasattr(_pending, "files"):
        _pending.files = []
    return _pending.files


def save_file(field_file, name: str, content: bytes) -> None:
    """Write `content` through a model's FieldFile, remembered for removal on rollback."""
    remove_rolled_back()
    try:
        field_file.save(name, ContentFile(content), save=False)
    except STORAGE_ERRORS as exc:
        raise storage_failed(exc) from exc
    written = _Written(field_file.name, field_file.storage, None)
    written.marker = lambda: written.committed.append(True)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(written.marker)
    else:
        written.marker()
    _written().append(written)


def forget(names: list[str]) -> None:
    """Remove files this step wrote (it failed before its rows could be saved)."""
    for item in [w for w in _written() if w.name in names]:
        _delete(item)
        _written().remove(item)


def remove_rolled_back(**kwargs) -> int:
    """Delete files whose transaction rolled back; keep those still in an open transaction.

    Also a `request_finished` receiver (hence **kwargs). Returns how many were removed."""
    pending = _written()
    if not pending:
        return 0
    connection = transaction.get_connection()
    waiting = {id(func) for _, func, _ in connection.run_on_commit}
    removed = 0
    for item in list(pending):
        if item.committed:
            pending.remove(item)
        elif not (connection.in_atomic_block and id(item.marker) in waiting):
            _delete(item)
            pending.remove(item)
            removed += 1
    return removed


def _delete(item: _Written) -> None:
    try:
        item.storage.delete(item.name)
    except STORAGE_ERRORS as exc:  # the same failing storage: logged for the operator
        log.warning("Could not remove %s after a rollback: %s", item.name, exc)


def storage_failed(exc: Exception) -> StorageUnavailable:
    """The error to raise for a refused write; logs it and alerts the administrators."""
    reason = f"Attachments cannot be stored right now: {getattr(exc, 'strerror', None) or exc}"
    log.error("%s (%s)", reason, exc)
    # Not through the database: the transaction this error ends is about to roll back.
    now = time.monotonic()
    if now - _last_alert["at"] >= ALERT_EVERY_SECONDS:
        _last_alert["at"] = now
        try:
            mail_admins("Attachment storage refuses writes", f"{reason}\n\n{exc!r}")
        except OSError as alert_error:  # telling must not hide the first error
            log.error("Could not alert the administrators: %s", alert_error)
    return StorageUnavailable(reason)


class StorageUnavailableMiddleware:
    """A page whose attachment could not be stored answers 503 with the reason, not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, StorageUnavailable):
            return None
        from django.shortcuts import render

        context = {"reason": exception.reason}
        response = render(request, "storage_unavailable.html", context, status=503)
        response["Retry-After"] = "120"
        # Logged and the administrators told once an hour (storage_failed): not Django's
        # "Service Unavailable" error mail on every request as well.
        response._has_been_logged = True
        return response
