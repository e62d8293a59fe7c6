"""The agent panel: dashboard, queues, saved searches and quick search (thin views).

Everything here reads through `tickets.queues` (which starts from `access.visible_tickets`), so a
page never shows a ticket the agent may not see; the dashboard's figures, like the reports', count
only the tickets the agent works (`access.worked_tickets`). Sign-in, profile and password pages
are in staff_account.py; bulk changes and saving searches in staff_bulk.py.
"""

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from helpline.accounts.models import Permission
from helpline.tickets import access, queues
from helpline.tickets.forms_staff_queue import BulkActionForm, QueueFilterForm, SaveSearchForm
from helpline.tickets.models import SavedSearch
from helpline.tickets.views.staff_ticket_common import denied_page, no_access_page, ticket_url
from helpline.workspace import pulse, unread

# The table's columns, in order; each sorts by the column of the same key in queues.SORT_COLUMNS.
TABLE_COLUMNS = (
    "number", "updated", "subject", "requester", "priority", "assignee", "due", "department",
    "status",
)  # fmt: skip
RESULTS_TARGET = "queue-results"


def agent_required(view: Callable) -> Callable:
    """Only agents may use the panel; anyone else goes to the panel's sign-in page.

    A ticket the agent may not see (`access.TicketNotFound`) answers the panel's 404 page, one
    they see but may not change (`access.AccessDenied`) the 403 page saying why.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not access.is_agent(request.user):
            return redirect_to_login(request.get_full_path(), reverse("staff:login"))
        try:
            return view(request, *args, **kwargs)
        except access.TicketNotFound:
            return no_access_page(request)
        except access.AccessDenied as exc:
            return denied_page(request, exc.message, kwargs.get("number"))

    return wrapper


# ---------------------------------------------------------------------------------------------
# Dashboard


@agent_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Landing page: capped counts, each linking to its queue, and the agent's next ten tickets."""
    user = request.user
    now = timezone.now()
    counts = queues.dashboard_counts(user, now)
    week_start = queues.week_start(timezone.localdate(now))
    open_url = reverse("staff:queue", args=["open"])
    all_url = reverse("staff:queue", args=["all"])
    cards = [
        ("Open", counts["open"], open_url),
        ("Overdue", counts["overdue"], reverse("staff:queue", args=["overdue"])),
        ("Due today", counts["due_today"], f"{open_url}?due=today"),
        ("Unassigned", counts["unassigned"], reverse("staff:queue", args=["unassigned"])),
        (
            "Resolved within SLA this week",
            counts["resolved_in_sla"],
            f"{all_url}?resolution=met&resolved_from={week_start.isoformat()}&sort=-updated",
        ),
    ]
    mine = queues.sorted_tickets(queues.QUEUES["mine"].tickets(user, now=now), "due")
    mine = list(mine.select_related(*queues.TABLE_RELATED)[:10])
    return render(
        request,
        "staff/dashboard.html",
        {"cards": cards, "my_tickets": mine, "active_queue": "dashboard", "now": now},
    )


# ---------------------------------------------------------------------------------------------
# Queues


@agent_required
def queue(request: HttpRequest, slug: str) -> HttpResponse:
    """A default queue (Open, My tickets, …) with filters from the query string."""
    selected = queues.get_queue(slug)
    if selected is None:
        raise Http404("No such queue.")
    return render_queue(
        request,
        selected,
        title=selected.name,
        filter_data=request.GET,
        default_sort=selected.default_sort,
        active=slug,
    )


@agent_required
def saved_search(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the agent's saved searches; filters in the query string override its own."""
    search = get_object_or_404(SavedSearch, pk=pk, owner=request.user)
    form_probe = QueueFilterForm(request.GET)
    # Stored JSON goes through the lenient parser first: whatever is in it, the form sees strings.
    stored = queues.filters_to_json(queues.filters_from_json(search.filters))
    data = request.GET if form_probe.has_filters() else stored
    return render_queue(
        request,
        queues.saved_search_queue(search.filters),
        title=search.name,
        filter_data=data,
        default_sort=search.sort or "-updated",
        active=f"search-{search.pk}",
        saved=search,
    )


@agent_required
def search(request: HttpRequest) -> HttpResponse:
    """Quick search: a visible ticket's number opens it; anything else lists matching tickets."""
    # NUL cannot reach PostgreSQL (DataError): it separates words like a space.
    query = (request.GET.get("q") or "").replace("\x00", " ").strip()[:200]
    if query:
        number = query.lstrip("#").strip()
        if number and access.visible_tickets(request.user).filter(number=number).exists():
            return redirect(ticket_url(number))
    data = request.GET.copy()
    data.pop("q", None)
    if query:
        data["text"] = query
    if not (data.get("text") or "").strip():
        return render(
            request,
            "staff/queue_search.html",
            {"title": "Search", "query": query, "quick_query": query},
        )
    return render_queue(
        request,
        queues.QUEUES["all"],
        title=f"Search: {data['text'].strip()}",
        filter_data=data,
        default_sort="-updated",
        active="",
        query=query or data["text"],
    )


def _sort_from(request: HttpRequest, default_sort: str) -> str:
    sort = request.GET.get("sort") or default_sort
    try:
        queues.parse_sort(sort)
    except queues.UnknownSort as exc:
        messages.error(request, f"{exc} Showing the default order.")
        return default_sort
    return sort


def _table_columns(sort: str) -> list[dict[str, Any]]:
    column, descending = queues.parse_sort(sort)
    return [
        {
            "key": key,
            "label": queues.SORT_COLUMNS[key].label,
            "aria_sort": ("descending" if descending else "ascending") if key == column.key else "",
        }
        for key in TABLE_COLUMNS
    ]


def render_queue(
    request: HttpRequest,
    selected: queues.Queue,
    *,
    title: str,
    filter_data: Mapping[str, Any],
    default_sort: str,
    active: str,
    saved: SavedSearch | None = None,
    query: str = "",
) -> HttpResponse:
    """Filter, sort and page a queue; the whole page, or just the results for htmx."""
    form = QueueFilterForm(filter_data)
    if not form.is_valid():
        messages.warning(request, form.error_summary())
    filters = form.clean_filters()
    sort = _sort_from(request, default_sort)
    tickets = selected.tickets(request.user, filters)
    only_unread = request.GET.get("unread") == "1"
    if only_unread:
        tickets = unread.only_unread(tickets, request.user)
    tickets = unread.annotate_rows(tickets, request.user)
    try:
        result = queues.page(tickets, sort, request.GET.get("after"))
    except queues.InvalidCursor as exc:
        messages.warning(request, f"{exc} Showing the first page.")
        result = queues.page(tickets, sort)
    ids = [t.pk for t in result.tickets]
    unread.read_rows(result.tickets, request)
    for t in result.tickets:
        t.can_claim = (
            not t.is_closed
            and t.assignee_id != request.user.pk
            and access.can(request.user, Permission.ASSIGN, t)
        )
    stored = queues.filters_to_json(filters)
    if selected.slug != "all":
        stored["queue"] = selected.slug
    context = {
        "title": title,
        "queue": selected,
        "saved": saved,
        "form": form,
        "filters_active": bool(filters),
        "page": result,
        "sort": sort,
        "sort_choices": _sort_choices(),
        "columns": _table_columns(sort),
        "bulk_form": BulkActionForm(auto_id="bulk_%s"),
        "save_form": SaveSearchForm(initial={"name": saved.name if saved else ""}),
        "stored_filters": stored,
        "active_queue": active,
        "query": query,
        "quick_query": query,
        "results_target": RESULTS_TARGET,
        "only_unread": only_unread,
        "pulse_token": pulse.issue(request.user, pulse.agent_scopes(request.user), ids),
        "poll_seconds": pulse.POLL_SECONDS,
    }
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == RESULTS_TARGET and not htmx.history_restore_request:
        return render(request, "staff/queue_results.html", context)
    return render(request, "staff/queue.html", context)


SORT_DIRECTION_WORDS = {
    "datetime": ("earliest first", "latest first"),
    "text": ("A–Z", "Z–A"),
    "int": ("lowest first", "highest first"),
}


def _sort_choices() -> list[tuple[str, str]]:
    choices = []
    for key, column in queues.SORT_COLUMNS.items():
        up, down = SORT_DIRECTION_WORDS[column.kind]
        choices.append((key, f"{column.label}, {up}"))
        choices.append((f"-{key}", f"{column.label}, {down}"))
    return choices
