"""The ticket's history in words: events as sentences, times as "in 45 min" / "3 h overdue".

Everything returned here is HTML-safe (built with format_html), so names typed by people —
a requester's name, a department someone created — are escaped.
"""

from datetime import datetime, timedelta

from django.utils import dateformat, timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from helpline.tickets.models import Event, EventKind, Source

# One format for every absolute time on the page (in the viewer's time zone).
STAMP = "D j M Y, H:i"

# Thread entries already show these; the matching events would only repeat them.
SHOWN_AS_ENTRIES = {EventKind.REPLIED, EventKind.NOTE, EventKind.MESSAGE}


def span(delta: timedelta) -> str:
    """A duration in the help desk's words: "45 min", "3 h", "4 days"."""
    minutes = int(abs(delta.total_seconds()) // 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} min"
    # Whole hours, then whole days, as the queues show them.
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"


def relative(at: datetime | None, now: datetime) -> str:
    """ "in 45 min" for the future, "3 h ago" for the past."""
    if at is None:
        return ""
    return f"in {span(at - now)}" if at >= now else f"{span(now - at)} ago"


def time_left(due: datetime | None, now: datetime) -> str:
    """ "in 45 min" before a due time, "3 h overdue" after it."""
    if due is None:
        return ""
    return f"in {span(due - now)}" if due >= now else f"{span(now - due)} overdue"


def stamp(at: datetime | None) -> str:
    """An absolute time in the viewer's time zone (activated by TimezoneMiddleware)."""
    if at is None:
        return "none"
    return dateformat.format(timezone.localtime(at), STAMP)


def _stamp_iso(value) -> str:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return stamp(parsed) if parsed else "none"


def _name(ref) -> str:
    if isinstance(ref, dict):
        return str(ref.get("name") or "")
    return str(ref or "")


def _with_reason(sentence: SafeString, event: Event) -> SafeString:
    if event.reason:
        return format_html("{} — {}", sentence, event.reason)
    return sentence


def _change(event: Event, what: str) -> SafeString:
    before, after = _name(event.before), _name(event.after)
    actor = event.actor_name
    if before and after:
        return format_html("{} changed the {} from {} to {}", actor, what, before, after)
    if after:
        return format_html("{} set the {} to {}", actor, what, after)
    return format_html("{} removed the {} (was {})", actor, what, before or "none")


def _assignment(ref: dict | None) -> str:
    ref = ref or {}
    people = [_name(ref.get("agent")), _name(ref.get("team"))]
    return " and ".join(p for p in people if p) or "nobody"


def _created(event: Event) -> SafeString:
    after = event.after or {}
    source = after.get("source") or ""
    department = _name(after.get("department"))
    how = Source(source).label if source in Source.values else source
    if event.actor_id:
        text = format_html("{} opened the ticket", event.actor_name)
    else:
        text = format_html("The ticket was opened")
    if how:
        text = format_html("{} via {}", text, how.lower() if how != "API" else how)
    if department:
        text = format_html("{} in {}", text, department)
    return text


def _due(event: Event) -> SafeString:
    before, after = event.before or {}, event.after or {}
    if set(after) == {"due_at"}:
        # set_due_time: an agent set (or reset) the resolution due time by hand.
        return format_html(
            "{} set the due time to {} (was {}) — {}",
            event.actor_name,
            _stamp_iso(after.get("due_at")),
            _stamp_iso(before.get("due_at")),
            event.reason or "set by hand",
        )
    parts = []
    for key, label in (("due_at", "Due time"), ("first_response_due_at", "First-response due")):
        if before.get(key) != after.get(key):
            parts.append(
                format_html(
                    "{} moved from {} to {}",
                    label,
                    _stamp_iso(before.get(key)),
                    _stamp_iso(after.get(key)),
                )
            )
    if not parts:
        return _with_reason(format_html("Due times recomputed"), event)
    return _with_reason(format_html_join("; ", "{}", ((part,) for part in parts)), event)


def _collaborator(event: Event) -> SafeString:
    added = (event.after or {}).get("added")
    if added:
        return format_html("{} added {} as a collaborator", event.actor_name, _name(added))
    removed = (event.before or {}).get("removed")
    return format_html("{} removed {} from the collaborators", event.actor_name, _name(removed))


def _field_value(value):
    return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value


def _fields(event: Event) -> SafeString:
    """e.g. "John Smith changed asset_tag from A-1 to A-2; set approved to yes"."""
    before, after = event.before or {}, event.after or {}
    parts = []
    for name in sorted(set(before) | set(after)):
        old, new = _field_value(before.get(name)), _field_value(after.get(name))
        if new is None:
            parts.append(format_html("cleared {} (was {})", name, old))
        elif old is None:
            parts.append(format_html("set {} to {}", name, new))
        else:
            parts.append(format_html("changed {} from {} to {}", name, old, new))
    changes = format_html_join("; ", "{}", ((part,) for part in parts))
    return format_html("{} {}", event.actor_name, changes)


def _merged(event: Event) -> SafeString:
    after = event.after or {}
    if after.get("into"):
        number = after["into"]
        return format_html(
            '{} merged this ticket into <a href="/staff/tickets/{}/">#{}</a>',
            event.actor_name,
            number,
            number,
        )
    number = after.get("from", "")
    return format_html(
        '{} merged <a href="/staff/tickets/{}/">#{}</a> into this ticket',
        event.actor_name,
        number,
        number,
    )


def describe(event: Event) -> SafeString:
    """One event as a sentence.

    e.g. "John Smith transferred the ticket from Support to Online Banking".
    """
    actor = event.actor_name
    kind = event.kind
    if kind == EventKind.CREATED:
        text = _created(event)
    elif kind == EventKind.ASSIGNED:
        text = format_html(
            "{} assigned the ticket to {} (was: {})",
            actor,
            _assignment(event.after),
            _assignment(event.before),
        )
    elif kind == EventKind.RELEASED:
        text = format_html("{} released the ticket from {}", actor, _assignment(event.before))
    elif kind == EventKind.TRANSFERRED:
        text = format_html(
            "{} transferred the ticket from {} to {}",
            actor,
            _name(event.before),
            _name(event.after),
        )
    elif kind in (EventKind.STATUS, EventKind.PRIORITY, EventKind.SLA, EventKind.HELP_TOPIC):
        what = {
            EventKind.STATUS: "status",
            EventKind.PRIORITY: "priority",
            EventKind.SLA: "SLA plan",
            EventKind.HELP_TOPIC: "help topic",
        }[kind]
        text = _change(event, what)
    elif kind == EventKind.DUE:
        return _due(event)
    elif kind == EventKind.OVERDUE:
        text = format_html(
            "The ticket became overdue (due {})", _stamp_iso((event.after or {}).get("due_at"))
        )
    elif kind == EventKind.REOPENED:
        text = format_html("{} reopened the ticket", actor)
    elif kind == EventKind.MERGED:
        text = _merged(event)
    elif kind == EventKind.COLLABORATOR:
        text = _collaborator(event)
    elif kind == EventKind.FIELDS:
        text = _fields(event)
    elif kind == EventKind.SUBJECT:
        text = format_html(
            "{} changed the subject from “{}” to “{}”", actor, event.before, event.after
        )
    else:
        text = format_html("{}: {}", actor, event.get_kind_display())
    return _with_reason(text, event)
