"""The agent panel's review list of held mail (GET the list, POST accept or reject)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from helpline.mail import review
from helpline.tickets import access
from helpline.tickets.views.staff import agent_required

PAGE_SIZE = 50


@agent_required
def review_list(request: HttpRequest) -> HttpResponse:
    """Held mail on tickets the agent may answer, newest first."""
    rows = list(review.pending_for(request.user)[: PAGE_SIZE * 2])
    items = [held for held in rows if review.may_review(request.user, held)][:PAGE_SIZE]
    return render(request, "staff/mail_review.html", {"items": items})


@agent_required
@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    choice = request.POST.get("decision", "")
    if choice not in ("accept", "reject"):
        messages.error(request, "Choose Accept or Reject.")
        return redirect("mail:review")
    try:
        if choice == "accept":
            entry = review.accept(request.user, pk)
            messages.success(request, f"Added to ticket #{entry.ticket.number}.")
        else:
            held = review.reject(request.user, pk)
            messages.success(request, f"Mail from {held.sender} rejected.")
    except access.TicketNotFound:
        messages.error(request, "No such held mail.")
    except access.AccessDenied as denied:
        messages.error(request, denied.message)
    except ValidationError as invalid:
        messages.error(request, " ".join(invalid.messages))
    return redirect("mail:review")
