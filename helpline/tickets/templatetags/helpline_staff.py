"""Template tags and filters of the agent panel: relative times, capped counts, the sidebar."""

import json
import re
from datetime import datetime

from django import template
from django.urls import reverse
from django.utils import timezone

from helpline.tickets import queues
from helpline.tickets.models import SavedSearch

register = template.Library()


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"


@register.filter
def due_relative(value: datetime | None, now: datetime | None = None) -> str:
    """A due time relative to now: "in 45 min", "3 h overdue"; empty without a due time."""
    if not value:
        return ""
    delta = (value - (now or timezone.now())).total_seconds()
    if delta >= 0:
        return f"in {_span(delta)}"
    return f"{_span(-delta)} overdue"


@register.filter
def ago(value: datetime | None, now: datetime | None = None) -> str:
    """A past time relative to now: "just now", "5 min ago", "3 h ago", "2 days ago"."""
    if not value:
        return ""
    delta = ((now or timezone.now()) - value).total_seconds()
    if delta < 60:
        return "just now"
    return f"{_span(delta)} ago"


@register.filter
def capped(count: int | None) -> str:
    """A capped count as shown: 1000 or more (the cap) reads "999+"."""
    if count is None:
        return ""
    return f"{queues.COUNT_CAP - 1}+" if count >= queues.COUNT_CAP else str(count)


@register.simple_tag(takes_context=True)
def sort_url(context, column: str) -> str:
    """The current URL sorted by `column`: ascending, or descending if already ascending.

    Filters are kept; the page cursor is dropped (a new sort starts at the first page).
    """
    request = context["request"]
    current = context.get("sort", "")
    params = request.GET.copy()
    params.pop("after", None)
    params["sort"] = f"-{column}" if current == column else column
    return f"{request.path}?{params.urlencode()}"


@register.simple_tag(takes_context=True)
def page_url(context, after: str | None = None) -> str:
    """The current URL at the page after the cursor `after` (the first page without it)."""
    request = context["request"]
    params = request.GET.copy()
    params.pop("after", None)
    if after:
        params["after"] = after
    query = params.urlencode()
    return f"{request.path}?{query}" if query else request.path


@register.inclusion_tag("staff/queue_sidebar.html", takes_context=True)
def staff_sidebar(context) -> dict:
    """The queue sidebar with capped live counts: one query for the list, one for the counts."""
    request = context["request"]
    user = request.user
    searches = list(SavedSearch.objects.filter(owner=user).order_by("name")[:50])
    counts = queues.sidebar_counts(user, searches)
    active = context.get("active_queue", "")
    return {
        "queues": [
            {"name": q.name, "url": reverse("staff:queue", args=[q.slug]),
             "count": counts.get(q.slug, 0), "active": active == q.slug}
            for q in queues.sidebar_queues()
        ],
        "searches": [
            {"name": s.name, "url": reverse("staff:saved_search", args=[s.pk]),
             "count": counts.get(f"search-{s.pk}", 0), "active": active == f"search-{s.pk}"}
            for s in searches
        ],
    }  # fmt: skip


_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


@register.filter
def safe_colour(value: str) -> str:
    """A priority colour fit for a style attribute: "#rrggbb", else a neutral grey."""
    return value if isinstance(value, str) and _COLOUR.fullmatch(value) else "#6b7280"


@register.filter
def json_attr(value) -> str:
    """JSON text of `value` for a hidden input (the template's autoescaping quotes it)."""
    return json.dumps(value, sort_keys=True)
