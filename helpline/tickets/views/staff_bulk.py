"""Agent panel writes from a queue: bulk changes (through tickets.actions) and saved searches."""

import json
from dataclasses import dataclass, field

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from helpline.tickets import access, actions, queues
from helpline.tickets.forms_staff_queue import BulkActionForm, SaveSearchForm
from helpline.tickets.models import SavedSearch, Ticket
from helpline.tickets.views.staff import agent_required

MAX_REFUSALS_SHOWN = 10


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ) and target.startswith("/staff/"):
        return redirect(target)
    return redirect(fallback)


@dataclass
class BulkOutcome:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    missing: int = 0

    def summary(self) -> str:
        """One line: 2 changed, 1 refused: #123456 — Your role … does not allow …"""
        parts = [f"{len(self.changed)} changed"]
        if self.unchanged:
            parts.append(f"{len(self.unchanged)} already so")
        if self.missing:
            parts.append(f"{self.missing} not found (no longer visible to you)")
        if self.refused:
            parts.append(f"{len(self.refused)} refused")
        text = ", ".join(parts)
        if self.refused:
            shown = self.refused[:MAX_REFUSALS_SHOWN]
            text += ": " + "; ".join(f"#{number} — {reason}" for number, reason in shown)
            if len(self.refused) > len(shown):
                text += f"; and {len(self.refused) - len(shown)} more"
        return text

    @property
    def level(self) -> int:
        if not self.refused and not self.missing:
            return messages.SUCCESS
        return messages.WARNING if self.changed else messages.ERROR


def _apply(user, ticket: Ticket, data: dict) -> None:
    action = data["action"]
    if action == "assign":
        actions.assign(user, ticket, agent=data["agent"], team=data["team"])
    elif action == "transfer":
        actions.transfer(user, ticket, data["department"])
    else:
        actions.set_status(user, ticket, data["status"])


def apply_bulk(user, ids: list[int], data: dict) -> BulkOutcome:
    """Apply one change to each ticket through tickets.actions; refusals are collected."""
    outcome = BulkOutcome()
    tickets = list(
        access.visible_tickets(user)
        .filter(pk__in=ids)
        .select_related("department", "status", "priority", "sla_plan", "requester")
        .order_by("number")
    )
    outcome.missing = len(set(ids)) - len(tickets)
    for ticket in tickets:
        if data["action"] == "transfer" and ticket.department_id == data["department"].pk:
            outcome.unchanged.append(ticket.number)
            continue
        version = ticket.version
        try:
            _apply(user, ticket, data)
        except access.AccessDenied as exc:
            outcome.refused.append((ticket.number, exc.message))
        except access.TicketNotFound:
            outcome.refused.append((ticket.number, "you no longer have access to it"))
        except ValidationError as exc:
            outcome.refused.append((ticket.number, " ".join(exc.messages)))
        except actions.StaleTicket:
            outcome.refused.append((ticket.number, "it was changed by someone else meanwhile"))
        else:
            bucket = outcome.changed if ticket.version != version else outcome.unchanged
            bucket.append(ticket.number)
    return outcome


@require_POST
@agent_required
def bulk(request: HttpRequest) -> HttpResponse:
    """Assign, transfer or set the status of the selected tickets, one by one."""
    fallback = reverse("staff:dashboard")
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        problems = [" ".join(errors) for errors in form.errors.values()]
        messages.error(request, "Nothing changed. " + " ".join(problems))
        return _back(request, fallback)
    outcome = apply_bulk(request.user, form.cleaned_data["ticket"], form.cleaned_data)
    messages.add_message(request, outcome.level, outcome.summary())
    return _back(request, fallback)


@require_POST
@agent_required
def save_search(request: HttpRequest) -> HttpResponse:
    """Keep the current filters and sort as a named queue in the agent's sidebar."""
    form = SaveSearchForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the saved search a name (at most 80 characters).")
        return _back(request, reverse("staff:dashboard"))
    try:
        raw = json.loads(request.POST.get("filters") or "{}")
    except ValueError:
        raw = {}
    filters = queues.filters_to_json(queues.filters_from_json(raw))
    base = queues.saved_search_queue(raw)
    if base.slug != "all":
        filters["queue"] = base.slug
    sort = (request.POST.get("sort") or "").strip()
    try:
        queues.parse_sort(sort)
    except queues.UnknownSort:
        sort = ""
    try:
        search, created = SavedSearch.objects.update_or_create(
            owner=request.user,
            name=form.cleaned_data["name"],
            defaults={"filters": filters, "sort": sort},
        )
    except IntegrityError:  # Saved twice at once under the same name.
        messages.error(request, "A saved search with this name was just created; try again.")
        return _back(request, reverse("staff:dashboard"))
    verb = "Saved" if created else "Updated"
    messages.success(request, f"{verb} the search “{search.name}”.")
    return redirect("staff:saved_search", pk=search.pk)


@require_POST
@agent_required
def delete_search(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove one of the agent's saved searches."""
    search = get_object_or_404(SavedSearch, pk=pk, owner=request.user)
    name = search.name
    search.delete()
    messages.success(request, f"Deleted the saved search “{name}”.")
    return redirect("staff:dashboard")
