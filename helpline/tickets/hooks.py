"""Listeners for ticket events (webhooks, search indexing …), run after the action commits.

The action layer calls `event_recorded` for every Event it writes; listeners registered with
`on_event` get the event once the transaction has committed, so they never see rolled-back work.
"""

from collections.abc import Callable

from django.db import transaction

_listeners: list[Callable] = []


def on_event(listener: Callable) -> Callable:
    """Register `listener(event)`; usable as a decorator. Registering twice is a no-op."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def event_recorded(event) -> None:
    for listener in list(_listeners):
        transaction.on_commit(lambda listener=listener: listener(event))
