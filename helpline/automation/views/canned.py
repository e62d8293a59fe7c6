"""Canned responses in the agent panel: the reply box's picker and the rendered text."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from helpline.accounts.models import Permission
from helpline.automation import canned
from helpline.automation.models import CannedResponse
from helpline.tickets import access
from helpline.tickets.views.staff import agent_required


def _ticket(request: HttpRequest):
    """The ticket named by ?ticket=, which the agent must be allowed to reply to.

    Seeing a ticket is not enough: an agent who opened a ticket of another department as its
    requester sees it, but that department's canned responses are not theirs to read. An
    invisible ticket answers 404 (like a missing one), a visible one without the permission 403.
    """
    number = (request.GET.get("ticket") or "").strip()[:32]
    if not number:
        raise Http404("No ticket given.")
    return access.access_ticket(request.user, number, Permission.REPLY)


@agent_required
def pick(request: HttpRequest) -> HttpResponse:
    """htmx: responses for the ticket matching ?q= (title or text), each with an insert button."""
    ticket = _ticket(request)
    query = request.GET.get("q", "")
    return render(
        request,
        "staff/canned/results.html",
        {
            "ticket": ticket,
            "responses": canned.search(ticket, query),
            "query": query,
            "target": _target(request),
        },
    )


@agent_required
def rendered(request: HttpRequest, pk: int) -> HttpResponse:
    """The response's text for the ticket (plain text), as the reply box inserts it."""
    ticket = _ticket(request)
    response = canned.available_for(ticket).filter(pk=pk).first()
    if response is None:
        raise Http404("No such canned response for this ticket.")
    text = canned.render_for(response, ticket, request.user)
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@agent_required
def index(request: HttpRequest) -> HttpResponse:
    """Every active canned response an agent can use, by department."""
    profile = access.agent_profile(request.user)
    responses = CannedResponse.objects.filter(active=True).select_related("department")
    if not access.is_admin(request.user) and profile is not None:
        roles = profile.department_roles()
        writable = [d for d, role in roles.items() if role.allows(Permission.REPLY)]
        responses = responses.filter(department__isnull=True) | responses.filter(
            department__in=writable
        )
    query = (request.GET.get("q") or "").replace("\x00", "").strip()[:100]
    if query:
        responses = responses.filter(title__icontains=query)
    return render(
        request,
        "staff/canned/list.html",
        {"responses": responses.order_by("department__name", "title")[:200], "query": query},
    )


def _target(request: HttpRequest) -> str:
    """The id of the text box to insert into (reply_body or note_body; nothing else)."""
    target = request.GET.get("target", "reply_body")
    return target if target in ("reply_body", "note_body") else "reply_body"
