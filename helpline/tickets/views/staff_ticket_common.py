"""What every view of the agent panel's ticket pages shares: agents only, 404/403 pages."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from helpline.accounts.models import Permission
from helpline.tickets import access
from helpline.tickets.models import Ticket

STAFF_LOGIN_URL = "/staff/login/"
NO_ACCESS = "This ticket does not exist or you have no access to it."

# What the page loads with the ticket: everything the header shows, in one query.
TICKET_RELATED = (
    "department",
    "help_topic",
    "priority",
    "sla_plan",
    "status",
    "assignee",
    "team",
    "requester",
    "merged_into",
)


def agent_view(view: Callable) -> Callable:
    """Agents only (others go to the staff sign-in); invisible → 404 page, refused → 403 page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not access.is_agent(request.user):
            return redirect_to_login(request.get_full_path(), STAFF_LOGIN_URL)
        try:
            return view(request, *args, **kwargs)
        except access.TicketNotFound:
            return no_access_page(request)
        except access.AccessDenied as exc:
            return denied_page(request, exc.message, kwargs.get("number"))

    return wrapper


def no_access_page(request: HttpRequest) -> HttpResponse:
    # "Does not exist" and "no access" look the same, so numbers cannot be probed.
    return render(request, "staff/ticket_not_found.html", {"message": NO_ACCESS}, status=404)


def denied_page(request: HttpRequest, message: str, number: str | None = None) -> HttpResponse:
    """The 403 page: what was refused and why, and that nothing changed."""
    return render(
        request, "staff/ticket_denied.html", {"message": message, "number": number}, status=403
    )


def load_ticket(user, number: str) -> Ticket:
    """The ticket with this number if `user` may see it; else TicketNotFound."""
    ticket = Ticket.objects.select_related(*TICKET_RELATED).filter(number=number).first()
    if ticket is None:
        raise access.TicketNotFound("No such ticket.")
    access.check(user, "view", ticket)
    return ticket


def permissions(user, ticket: Ticket) -> dict[str, bool]:
    """Everything the user may do to the ticket, computed once per request."""
    can = {p.value: access.can(user, p, ticket) for p in Permission}
    can["route"] = can[Permission.EDIT] or can[Permission.ASSIGN] or can[Permission.TRANSFER]
    can["change_status"] = can[Permission.STATUS] or can[Permission.CLOSE]
    can["compose"] = can[Permission.REPLY] or can[Permission.NOTE]
    can["anything"] = any(can[p.value] for p in Permission)
    return can


def ticket_url(ticket: Ticket, fragment: str = "") -> str:
    """The ticket page, optionally at an anchor ("main": the top, where messages show)."""
    path = reverse("staff:ticket", args=[ticket.number])
    return f"{path}#{fragment}" if fragment else path


def panel_home_url() -> str:
    """Where to go when the ticket is out of reach: the dashboard (or the panel's root)."""
    for name in ("staff:dashboard", "staff:queues", "staff:home"):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return "/staff/"
