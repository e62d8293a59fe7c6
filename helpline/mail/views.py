"""The agent panel's review list of held mail (GET the list, POST accept or reject)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from helpline.mail import review
from helpline.tickets import access
from helpline.tickets.views.staff import agent_required

PAGE_SIZE = 50


@agent_required
def review_list(request: HttpRequest) -> HttpResponse:
    """Held mail on tickets the agent may answer, newest first; `?folder=spam` the spam folder."""
    spam = review.spam_for(request.user)
    if request.GET.get("folder") == "spam":
        context = {"folder": "spam", "items": list(spam[:PAGE_SIZE])}
    else:
        rows = list(review.pending_for(request.user)[: PAGE_SIZE * 2])
        items = [held for held in rows if review.may_review(request.user, held)][:PAGE_SIZE]
        context = {"folder": "review", "items": items}
    context["spam_count"] = spam.count()
    return render(request, "staff/mail_review.html", context)


@agent_required
@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    choice = request.POST.get("decision", "")
    if choice not in ("accept", "reject", "not_spam"):
        messages.error(request, "Choose Accept or Reject.")
        return _back(request)
    try:
        if choice == "not_spam":
            result = review.not_spam(request.user, pk)
            where = f" (ticket #{result.ticket.number})" if result.ticket else ""
            messages.success(request, f"Taken in: {result.outcome.replace('_', ' ')}{where}.")
        elif choice == "accept":
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
    return _back(request)


def _back(request: HttpRequest) -> HttpResponse:
    """To the folder the decision was made in."""
    url = reverse("mail:review")
    return redirect(url + "?folder=spam" if request.POST.get("folder") == "spam" else url)
