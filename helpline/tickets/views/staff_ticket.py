"""The agent panel's ticket page and "new ticket on behalf of a requester".

`ticket_urlpatterns` is included by helpline/tickets/urls_staff.py (namespace "staff", under
/staff/). The page itself is built in staff_ticket_page.py; the POST endpoints live in
staff_ticket_actions.py and staff_ticket_route.py; the history sentences in
staff_ticket_history.py.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from helpline.tickets import access
from helpline.tickets.views import staff_ticket_actions as ticket_actions
from helpline.tickets.views import staff_workspace as shared
from helpline.tickets.views.staff import agent_required
from helpline.tickets.views.staff_ticket_new import (
    new_ticket,
    new_ticket_fields,
    requester_lookup,
)
from helpline.tickets.views.staff_ticket_page import render_ticket_page
from helpline.tickets.views.staff_ticket_route import route, route_agents


@require_GET
@agent_required
def ticket_page(request: HttpRequest, number: str) -> HttpResponse:
    """One ticket: header, thread and history, and the controls the agent's role allows."""
    return render_ticket_page(request, access.access_ticket(request.user, number))


ticket_urlpatterns = [
    path("tickets/new/", new_ticket, name="new_ticket"),
    path("tickets/new/fields/", new_ticket_fields, name="new_ticket_fields"),
    path("tickets/<str:number>/", ticket_page, name="ticket"),
    path("tickets/<str:number>/reply/", ticket_actions.reply, name="ticket_reply"),
    path("tickets/<str:number>/note/", ticket_actions.note, name="ticket_note"),
    path("tickets/<str:number>/route/", route, name="ticket_route"),
    path("tickets/<str:number>/route/agents/", route_agents, name="ticket_route_agents"),
    path("tickets/<str:number>/status/", ticket_actions.change_status, name="ticket_status"),
    path(
        "tickets/<str:number>/collaborators/",
        ticket_actions.collaborators,
        name="ticket_collaborators",
    ),
    path("tickets/<str:number>/due/", ticket_actions.due_time, name="ticket_due"),
    path(
        "tickets/<str:number>/fields/",
        ticket_actions.custom_field_values,
        name="ticket_fields",
    ),
    path("tickets/<str:number>/merge/", ticket_actions.merge, name="ticket_merge"),
    path("tickets/<str:number>/delete/", ticket_actions.delete, name="ticket_delete"),
    path("tickets/<str:number>/live/", shared.ticket_live, name="ticket_live"),
    path("tickets/<str:number>/presence/", shared.presence, name="ticket_presence"),
    path("tickets/<str:number>/draft/", shared.draft, name="ticket_draft"),
    path("tickets/<str:number>/claim/", shared.claim, name="ticket_claim"),
    path("tickets/<str:number>/watch/", shared.watch, name="ticket_watch"),
    path("requesters/lookup/", requester_lookup, name="requester_lookup"),
]
