"""What the agent panel's ticket pages share: the 404 and 403 pages and the ticket's URL.

Tickets are loaded with `access.access_ticket` and what the agent may do is asked of
`access.permissions`; `staff.agent_required` turns a refusal into one of these pages.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from helpline.tickets.models import Ticket

NO_ACCESS = "This ticket does not exist or you have no access to it."


def no_access_page(request: HttpRequest) -> HttpResponse:
    # "Does not exist" and "no access" look the same, so numbers cannot be probed.
    return render(request, "staff/ticket_not_found.html", {"message": NO_ACCESS}, status=404)


def denied_page(request: HttpRequest, message: str, number: str | None = None) -> HttpResponse:
    """The 403 page: what was refused and why, and that nothing changed."""
    return render(
        request, "staff/ticket_denied.html", {"message": message, "number": number}, status=403
    )


def ticket_url(ticket: Ticket | str, fragment: str = "") -> str:
    """The ticket page (of a ticket or a number), optionally at an anchor ("main": the top,
    where messages show)."""
    number = ticket.number if isinstance(ticket, Ticket) else ticket
    path = reverse("staff:ticket", args=[number])
    return f"{path}#{fragment}" if fragment else path
