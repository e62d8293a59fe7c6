"""Routing a ticket from one form: priority, SLA plan, help topic, agent and team, department.

The changes are applied one action at a time, each authorised on its own, and the transfer comes
LAST: after it the agent may no longer see the ticket (John has no access to Online Banking), so
anything applied after it would be refused. A refused change is reported plainly and the others
still happen.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from helpline.tickets import access, actions
from helpline.tickets.access import Access
from helpline.tickets.forms_staff_ticket import RouteForm
from helpline.tickets.models import Ticket
from helpline.tickets.views.staff import agent_required
from helpline.tickets.views.staff_ticket_actions import stale_message
from helpline.tickets.views.staff_ticket_common import denied_page, ticket_url
from helpline.tickets.views.staff_ticket_page import render_ticket_page


@dataclass
class Step:
    """One change of the route form: its name, how to say it was done, and the action to call
    with the ticket's version at that moment (each action bumps it)."""

    name: str
    done: str
    run: Callable[[int], object]


def _pk(obj) -> int | None:
    return obj.pk if obj is not None else None


def route_steps(user, ticket: Ticket, form: RouteForm) -> list[Step]:
    """The actions the submitted form asks for, in the order they must run (transfer last)."""
    sent, data = form.submitted(), form.cleaned_data
    steps: list[Step] = []

    def changed(name: str, current_id: int | None) -> bool:
        return name in sent and _pk(data.get(name)) != current_id

    priority, plan, topic = data.get("priority"), data.get("sla_plan"), data.get("help_topic")
    if changed("priority", ticket.priority_id) and priority is not None:
        steps.append(
            Step(
                "Priority change",
                f"priority set to {priority}",
                lambda v: actions.set_priority(user, ticket, priority, expected_version=v),
            )
        )
    if changed("sla_plan", ticket.sla_plan_id):
        steps.append(
            Step(
                "SLA plan change",
                f"SLA plan set to {plan or 'none'}",
                lambda v: actions.set_sla_plan(user, ticket, plan, expected_version=v),
            )
        )
    if changed("help_topic", ticket.help_topic_id):
        steps.append(
            Step(
                "Help topic change",
                f"help topic set to {topic or 'none'}",
                lambda v: actions.set_help_topic(user, ticket, topic, expected_version=v),
            )
        )
    agent_changed = changed("assignee", ticket.assignee_id)
    team_changed = changed("team", ticket.team_id)
    agent = data.get("assignee") if agent_changed else None
    team = data.get("team") if team_changed else None
    department = data.get("department")
    transferring = changed("department", ticket.department_id) and department is not None
    # With a transfer, the new agent/team is handed the ticket in the transfer itself: the agent
    # may only have access in the new department.
    if (agent is not None or team is not None) and not transferring:
        to = " and ".join(str(x) for x in (agent, team) if x is not None)
        steps.append(
            Step(
                "Assignment",
                f"assigned to {to}",
                lambda v: actions.assign(user, ticket, agent=agent, team=team, expected_version=v),
            )
        )
    drop_agent = agent_changed and agent is None
    drop_team = team_changed and team is None
    if drop_agent or drop_team:
        what = " and ".join(w for w, on in (("agent", drop_agent), ("team", drop_team)) if on)
        steps.append(
            Step(
                "Release",
                f"{what} released",
                lambda v: actions.release(
                    user, ticket, agent=drop_agent, team=drop_team, expected_version=v
                ),
            )
        )
    if transferring:
        handed = " and ".join(str(x) for x in (agent, team) if x is not None)
        steps.append(
            Step(
                "Transfer",
                f"transferred to {department}" + (f", assigned to {handed}" if handed else ""),
                lambda v: actions.transfer(
                    user, ticket, department, agent=agent, team=team, expected_version=v
                ),
            )
        )
    return steps


@require_POST
@agent_required
def route(request: HttpRequest, number: str) -> HttpResponse:
    """Apply the route form; report what was done and what was refused."""
    user = request.user
    ticket = access.access_ticket(user, number, Access.ROUTE)
    form = RouteForm(request.POST, ticket=ticket, auto_id="route_%s")
    if not form.is_valid():
        return render_ticket_page(request, ticket, status=400, route_form=form)
    if form.cleaned_data["version"] != ticket.version:
        return _stale(request, number)
    steps = route_steps(user, ticket, form)
    if not steps:
        messages.info(request, "Nothing to change: the form has the ticket's current values.")
        return redirect(ticket_url(ticket, "main"))

    done, refused, problems = [], [], []
    for step in steps:
        try:
            step.run(ticket.version)
            done.append(step.done)
        except access.AccessDenied as exc:
            refused.append(f"{step.name} refused: {exc.message}")
        except ValidationError as exc:
            problems += exc.messages
        except actions.StaleTicket:
            if not done:
                return _stale(request, number)
            problems.append(stale_message(ticket, "remaining changes"))
            break
    if not done and refused and not problems:
        return _refused_page(request, ticket, refused)
    if not done and problems:
        for problem in problems:
            form.add_error(None, problem)
        for refusal in refused:
            form.add_error(None, refusal)
        return render_ticket_page(request, ticket, status=400, route_form=form)

    for text in refused + problems:
        messages.error(request, text)
    if access.can_view(user, ticket):
        if done:
            messages.success(request, f"Ticket #{ticket.number}: " + "; ".join(done) + ".")
        return redirect(ticket_url(ticket, "main"))
    # Routed out of the agent's reach: say where it went, and go somewhere they can be.
    ticket.refresh_from_db(fields=["department"])
    moved = [d for d in done if d.startswith("transferred to ")]
    text = f"Ticket #{ticket.number} " + (
        moved[0] if moved else f"transferred to {ticket.department}"
    )
    text += "."
    others = [d for d in done if d not in moved]
    if others:
        text += " Also: " + "; ".join(others) + "."
    messages.success(request, text + " You no longer have access to it.")
    return redirect("staff:dashboard")


def _stale(request: HttpRequest, number: str) -> HttpResponse:
    ticket = access.access_ticket(request.user, number)
    data = request.POST.copy()
    data["version"] = str(ticket.version)
    form = RouteForm(data, ticket=ticket, auto_id="route_%s")
    return render_ticket_page(
        request,
        ticket,
        status=409,
        stale=stale_message(ticket, "routing"),
        stale_in="route",
        route_form=form,
    )


def _refused_page(request: HttpRequest, ticket: Ticket, refused: list[str]) -> HttpResponse:
    return denied_page(request, " ".join(refused), ticket.number)
