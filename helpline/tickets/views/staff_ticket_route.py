"""Routing a ticket from one form: priority, SLA plan, help topic, agent and team, department.

The form is one call to `actions.route`, which decides the whole combination first and then
saves all of it or nothing (field changes first, the transfer last: after it the agent may no
longer see the ticket). A refusal or a problem is reported and nothing has changed.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.html import format_html_join
from django.views.decorators.http import require_GET, require_POST

from helpline.accounts.models import Department, Permission
from helpline.tickets import access, actions
from helpline.tickets.access import Access
from helpline.tickets.forms_staff_ticket import RouteForm
from helpline.tickets.models import Ticket
from helpline.tickets.views.staff import agent_required
from helpline.tickets.views.staff_ticket_actions import stale_message
from helpline.tickets.views.staff_ticket_common import denied_page, ticket_url
from helpline.tickets.views.staff_ticket_page import render_ticket_page


@require_POST
@agent_required
def route(request: HttpRequest, number: str) -> HttpResponse:
    """Apply the route form at once; report what was done, or why nothing was."""
    user = request.user
    ticket = access.access_ticket(user, number, Access.ROUTE)
    chosen = _department(request.POST.get("department"), ticket)
    form = RouteForm(request.POST, ticket=ticket, department=chosen, auto_id="route_%s")
    if not form.is_valid():
        return render_ticket_page(request, ticket, status=400, route_form=form)
    version = form.cleaned_data["version"]
    if version != ticket.version:
        return _stale(request, number)
    changes = form.changes()
    if not changes.given:
        messages.info(request, "Nothing to change: the form has the ticket's current values.")
        return redirect(ticket_url(ticket, "main"))
    try:
        changed = actions.route(user, ticket, changes, expected_version=version)
    except access.AccessDenied as exc:
        return denied_page(request, exc.message, ticket.number)
    except actions.StaleTicket:
        return _stale(request, number)
    except ValidationError as exc:
        return _invalid(request, ticket, form, exc)
    done = _done(ticket, changed)
    if access.can_view(user, ticket):
        messages.success(request, f"Ticket #{ticket.number}: " + "; ".join(done) + ".")
        return redirect(ticket_url(ticket, "main"))
    # Routed out of the agent's reach: say where it went, and go somewhere they can be.
    moved = [d for d in done if d.startswith("transferred to ")]
    text = f"Ticket #{ticket.number} " + (moved[0] if moved else f"moved to {ticket.department}")
    others = [d for d in done if d not in moved]
    text += "." + (" Also: " + "; ".join(others) + "." if others else "")
    messages.success(request, text + " You no longer have access to it.")
    return redirect("staff:dashboard")


def _done(ticket: Ticket, changed: list[str]) -> list[str]:
    """What the route did, in words, from the saved ticket."""
    done = []
    if "priority" in changed:
        done.append(f"priority set to {ticket.priority}")
    if "sla_plan" in changed:
        done.append(f"SLA plan set to {ticket.sla_plan or 'none'}")
    if "help_topic" in changed:
        done.append(f"help topic set to {ticket.help_topic or 'none'}")
    people = [(name, getattr(ticket, name)) for name in ("assignee", "team") if name in changed]
    assigned = " and ".join(str(who) for _, who in people if who is not None)
    released = " and ".join(
        {"assignee": "agent", "team": "team"}[name] for name, who in people if who is None
    )
    if released:
        done.append(f"{released} released")
    if "department" in changed:
        handed = f", assigned to {assigned}" if assigned else ""
        done.append(f"transferred to {ticket.department}{handed}")
    elif assigned:
        done.append(f"assigned to {assigned}")
    return done


def _invalid(
    request: HttpRequest, ticket: Ticket, form: RouteForm, exc: ValidationError
) -> HttpResponse:
    """The form again with the action's reasons at the fields they concern; nothing changed."""
    shown = form.submitted()
    for field, problems in exc.message_dict.items():
        form.add_error(field if field in shown else None, problems)
    return render_ticket_page(request, ticket, status=400, route_form=form)


@require_GET
@agent_required
def route_agents(request: HttpRequest, number: str) -> HttpResponse:
    """The route form's agent <option>s for the department chosen (htmx, on its change): only
    agents who can be assigned there; the agent chosen stays selected if they still can be."""
    ticket = access.access_ticket(request.user, number, Permission.ASSIGN)
    department = _department(request.GET.get("department"), ticket)
    form = RouteForm(ticket=ticket, department=department, auto_id="route_%s")
    selected = request.GET.get("assignee", "")
    return HttpResponse(
        format_html_join(
            "\n",
            '<option value="{}"{}>{}</option>',
            (
                (value, " selected" if str(value) == selected else "", label)
                for value, label in form.fields["assignee"].widget.choices
            ),
        )
    )


def _department(raw: str | None, ticket: Ticket) -> Department:
    """The department chosen in the form (the ticket's when none or an unknown one is)."""
    pk = access.parse_id(raw)
    if pk is not None and pk != ticket.department_id:
        found = Department.objects.filter(pk=pk).first()
        if found is not None:
            return found
    return ticket.department


def _stale(request: HttpRequest, number: str) -> HttpResponse:
    ticket = access.access_ticket(request.user, number)
    data = request.POST.copy()
    data["version"] = str(ticket.version)
    chosen = _department(data.get("department"), ticket)
    form = RouteForm(data, ticket=ticket, department=chosen, auto_id="route_%s")
    return render_ticket_page(
        request,
        ticket,
        status=409,
        stale=stale_message(ticket, "routing"),
        stale_in="route",
        route_form=form,
    )
