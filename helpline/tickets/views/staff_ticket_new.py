"""A ticket an agent opens on a requester's behalf (phone call, walk-in), and requester lookup."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from helpline.accounts.models import Department, User
from helpline.accounts.people import get_or_create_requester
from helpline.tickets import access, actions, hooks
from helpline.tickets import fields as custom_fields
from helpline.tickets.forms_staff_ticket import NewTicketForm
from helpline.tickets.views.staff import agent_required
from helpline.tickets.views.staff_ticket_actions import add_action_errors
from helpline.tickets.views.staff_ticket_common import ticket_url

LOOKUP_MIN_CHARS = 2
LOOKUP_RESULTS = 8


def departments_for(user) -> QuerySet:
    """Where the agent may open tickets: the departments they have access to (admin: all)."""
    if access.is_admin(user):
        return Department.objects.all()
    profile = access.agent_profile(user)
    return Department.objects.filter(pk__in=list(profile.department_roles()))


@agent_required
def new_ticket(request: HttpRequest) -> HttpResponse:
    """Open a ticket for a requester: find them (or create them by email) and record the call."""
    departments = departments_for(request.user)
    if request.method != "POST":
        form = NewTicketForm(departments=departments, initial=_initial(request))
        return render(request, "staff/new_ticket.html", {"form": form})
    form = NewTicketForm(request.POST, request.FILES, departments=departments)
    if not form.is_valid():
        return render(request, "staff/new_ticket.html", {"form": form}, status=400)
    data = form.cleaned_data
    try:
        # A requester created here must not outlive a ticket that failed to open.
        with transaction.atomic():
            requester, created = get_or_create_requester(
                data["requester_email"], data["requester_name"]
            )
            ticket = actions.open_ticket(
                request.user,
                requester=requester,
                subject=data["subject"],
                body=data["body"],
                source=data["source"],
                help_topic=data["help_topic"],
                department=data["department"],
                priority=data["priority"],
                sla_plan=data["sla_plan"],
                assignee=data["assignee"],
                team=data["team"],
                attachments=data["attachments"],
                autorespond=data["autorespond"],
                fields=custom_fields.from_form(data),
            )
    except ValidationError as exc:
        add_action_errors(form, exc)
        return render(request, "staff/new_ticket.html", {"form": form}, status=400)
    except hooks.TicketRejected as exc:
        form.add_error(None, f"A routing rule rejected this ticket: {exc.reason}")
        return render(request, "staff/new_ticket.html", {"form": form}, status=400)
    except access.AccessDenied as exc:
        # Opening in a department the agent lacks, or assigning without the right to, is a
        # choice on the form, not a forged request.
        assigning = "assign" in exc.message and (data["assignee"] or data["team"])
        form.add_error("assignee" if assigning else "department", exc.message)
        return render(request, "staff/new_ticket.html", {"form": form}, status=400)
    who = f"{requester.display_name} (new requester)" if created else requester.display_name
    messages.success(request, f"Ticket #{ticket.number} opened for {who}.")
    if access.can_view(request.user, ticket):
        return redirect(ticket_url(ticket, "main"))
    return redirect("staff:new_ticket")


@require_GET
@agent_required
def new_ticket_fields(request: HttpRequest) -> HttpResponse:
    """htmx: the custom fields of the help topic just chosen on the new ticket form."""
    initial = {"help_topic": request.GET.get("help_topic", "")}
    form = NewTicketForm(departments=Department.objects.none(), initial=initial)
    return render(request, "staff/partials/new_ticket_fields.html", {"form": form})


def _initial(request: HttpRequest) -> dict:
    """Prefill from the query string (e.g. a "new ticket for this requester" link)."""
    initial = {}
    for key in ("requester_email", "requester_name", "subject"):
        if request.GET.get(key):
            initial[key] = request.GET[key][:254]
    return initial


@require_GET
@agent_required
def requester_lookup(request: HttpRequest) -> HttpResponse:
    """Autocomplete for the new-ticket form: people matching a name or email (HTML fragment)."""
    query = (request.GET.get("q") or request.GET.get("requester_email") or "").strip()[:100]
    people: list[User] = []
    if len(query) >= LOOKUP_MIN_CHARS:
        people = list(
            User.objects.filter(is_active=True)
            .filter(
                Q(email__icontains=query)
                | Q(name__icontains=query)
                | Q(first_name__icontains=query)
                | Q(last_name__icontains=query)
                | Q(username__icontains=query)
            )
            .exclude(email="")
            .order_by("name", "email")[:LOOKUP_RESULTS]
        )
    return render(
        request,
        "staff/partials/ticket_requester_suggestions.html",
        {"people": people, "query": query, "too_short": len(query) < LOOKUP_MIN_CHARS},
    )
