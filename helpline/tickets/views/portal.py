"""The client portal's ticket pages: home, open a ticket, my tickets, one ticket.

Thin views: parse the form, call tickets/actions, render. Guest look-ups and accounts live in
portal_guest.py and portal_account.py.
"""

import math
import secrets

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from helpline.accounts.people import get_or_create_requester
from helpline.tickets import access, actions, guest, hooks
from helpline.tickets import fields as custom_fields
from helpline.tickets.access import Access
from helpline.tickets.forms_portal import NewTicketForm, ReplyForm
from helpline.tickets.models import (
    ACTIVE_STATES,
    CLOSED_STATES,
    Collaborator,
    EntryKind,
    HelpdeskConfig,
    Source,
    State,
    Ticket,
)
from helpline.tickets.views.portal_common import NEW_TICKETS, client_ip, page

OPENED_KEY = "helpline_portal_opened"
PAGE_SIZE = 25
# Where errors raised by the actions belong on the portal's forms.
ACTION_FIELDS = {
    "body": "message",
    "subject": "subject",
    "attachments": "attachments",
    "help_topic": "help_topic",
    "email": "email",
}


def form_errors_from(form, exc: ValidationError) -> None:
    """Put an action's ValidationError on the form: on its field when the form has one."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        target = ACTION_FIELDS.get(field)
        if field.startswith("fields."):
            target = custom_fields.FORM_PREFIX + field.removeprefix("fields.")
        form.add_error(target if target in form.fields else None, errors)


def login_redirect(request) -> HttpResponse:
    return redirect_to_login(request.get_full_path(), login_url=reverse("portal:login"))


def home(request) -> HttpResponse:
    return page(request, "portal/home.html")


# ---------------------------------------------------------------------------------------------
# Opening a ticket


def _decoy_number() -> str:
    """A plausible ticket number for a bot caught by the honeypot (no ticket exists)."""
    config = HelpdeskConfig.objects.filter(pk=1).first() or HelpdeskConfig()
    digits = config.number_digits
    return f"{config.number_prefix}{secrets.randbelow(9 * 10 ** (digits - 1)) + 10 ** (digits - 1)}"


def _with_phone(body: str, phone: str, requester, may_update_profile: bool) -> str:
    """Keep the phone number: in the requester's profile when it is theirs to set, else in the
    message, so nothing typed is lost and no one else's profile changes."""
    if not phone or phone == requester.phone:
        return body
    if may_update_profile and not requester.phone:
        requester.phone = phone
        requester.save(update_fields=["phone"])
        return body
    return f"{body}\n\nPhone: {phone}"


def _open_ticket(request, form: NewTicketForm) -> Ticket | None:
    data = form.cleaned_data
    user = form.signed_in_user
    email = data["email"] if user is None else (user.email or f"user-{user.pk}")
    # Signed-in requesters are limited per account; guests per address and per network address.
    ip = client_ip(request) if user is None else ""
    if NEW_TICKETS.exceeded(email=email, ip=ip):
        form.add_error(
            None,
            f"You opened several tickets in a short time. Please wait {NEW_TICKETS.minutes()} "
            "minutes and try again, or add to a ticket you already opened.",
        )
        return None
    try:
        with transaction.atomic():
            if user is not None:
                requester, created = user, False
            else:
                requester, created = get_or_create_requester(email, data["name"])
            if not requester.is_active:
                form.add_error("email", "Tickets from this address are not accepted here.")
                return None
            body = _with_phone(
                data["message"],
                data.get("phone", "").strip(),
                requester,
                created or user is not None,
            )
            ticket = actions.open_ticket(
                requester,
                requester=requester,
                subject=data["subject"],
                body=body,
                help_topic=data["help_topic"],
                source=Source.WEB,
                attachments=data.get("attachments") or [],
                fields=custom_fields.from_form(data),
            )
    except ValidationError as exc:
        form_errors_from(form, exc)
        return None
    except hooks.TicketRejected as exc:
        form.add_error(None, f"This request cannot be accepted: {exc.reason}")
        return None
    NEW_TICKETS.hit(email=email, ip=ip)
    return ticket


def new_ticket(request) -> HttpResponse:
    """Open a new ticket, as a guest or signed in; then show its number at once."""
    user = request.user if request.user.is_authenticated else None
    if request.method == "POST":
        form = NewTicketForm(request.POST, request.FILES, user=user)
        if form.is_spam:
            request.session[OPENED_KEY] = {"number": _decoy_number(), "email": "", "mine": False}
            return redirect("portal:ticket_opened")
        if form.is_valid():
            ticket = _open_ticket(request, form)
            if ticket is not None:
                request.session[OPENED_KEY] = {
                    "number": ticket.number,
                    "email": ticket.requester.email,
                    "mine": user is not None,
                }
                return redirect("portal:ticket_opened")
    else:
        initial = {}
        topic = access.parse_id(request.GET.get("topic", ""))
        if topic is not None:
            initial["help_topic"] = topic
        form = NewTicketForm(user=user, initial=initial)
    return page(request, "portal/new_ticket.html", {"form": form})


def new_ticket_fields(request) -> HttpResponse:
    """htmx: the custom fields of the help topic just chosen on the new ticket form."""
    user = request.user if request.user.is_authenticated else None
    topic = request.GET.get("help_topic", "")
    form = NewTicketForm(user=user, initial={"help_topic": topic})
    return render(request, "portal/_topic_fields.html", {"form": form})


def ticket_opened(request) -> HttpResponse:
    """The confirmation: the new ticket's number (kept in the session so a reload works)."""
    opened = request.session.get(OPENED_KEY)
    if not opened:
        return redirect("portal:new_ticket")
    return page(request, "portal/ticket_opened.html", {"opened": opened})


# ---------------------------------------------------------------------------------------------
# My tickets


def _own_tickets(user):
    """The user's own requests and those they are CC'd on (agents too: the portal is where
    they are requesters)."""
    collaborating = Collaborator.objects.filter(user=user).values("ticket_id")
    return access.visible_tickets(user).filter(Q(requester=user) | Q(pk__in=collaborating))


def _page_number(raw: str, pages: int) -> int:
    return min(access.parse_id(raw) or 1, pages)


def my_tickets(request) -> HttpResponse:
    """The signed-in requester's tickets: Open or Closed tab, search, pages of PAGE_SIZE.

    Two queries whatever the number of tickets: the tab counts, then one page.
    """
    if not request.user.is_authenticated:
        return login_redirect(request)
    tab = "closed" if request.GET.get("tab") == "closed" else "open"
    # NUL characters would make PostgreSQL refuse the query: drop them.
    query = (request.GET.get("q") or "").replace("\x00", "").strip()[:100]
    tickets = _own_tickets(request.user)
    if query:
        number = query.lstrip("#").strip()
        tickets = tickets.filter(Q(number__iexact=number) | Q(subject__icontains=query))
    counts = tickets.aggregate(
        open=Count("pk", filter=Q(state__in=ACTIVE_STATES)),
        closed=Count("pk", filter=Q(state__in=CLOSED_STATES)),
    )
    states = CLOSED_STATES if tab == "closed" else ACTIVE_STATES
    total = counts[tab]
    pages = max(1, math.ceil(total / PAGE_SIZE))
    number = _page_number(request.GET.get("page", "1"), pages)
    rows = (
        tickets.filter(state__in=states)
        .select_related("status", "department")
        .order_by("-updated_at", "-pk")[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    )
    context = {
        "tickets": list(rows),
        "tab": tab,
        "query": query,
        "counts": counts,
        "page_number": number,
        "pages": pages,
        "has_previous": number > 1,
        "has_next": number < pages,
    }
    return page(request, "portal/my_tickets.html", context)


# ---------------------------------------------------------------------------------------------
# One ticket


def _viewer(request, number: str):
    """(ticket, the user the viewer acts as, is_guest), or a response (redirect), or Http404."""
    if len(number) > 64 or not number.isprintable():
        raise Http404("No such ticket.")
    user = request.user
    if user.is_authenticated:
        try:
            ticket = access.access_ticket(user, number)
        except access.TicketNotFound:
            pass
        else:
            if access.can(user, Access.MESSAGE, ticket):
                return ticket, user, False
            if access.is_agent(user):
                # Someone else's ticket that this agent works: the agent panel is the place.
                return redirect(ticket.get_absolute_url())
    # A guest link in the session: the guest acts as the person it was sent to.
    try:
        ticket, person = guest.access_ticket(request.session, number)
        return ticket, person, True
    except access.TicketNotFound:
        pass
    if not user.is_authenticated and not request.session.get(guest.SESSION_KEY):
        # Same answer whether the number exists or not: sign in first.
        return login_redirect(request)
    raise Http404("No such ticket.")


def _reply(request, ticket: Ticket, viewer, form: ReplyForm) -> HttpResponse | None:
    was_closed = ticket.is_closed
    try:
        entry = actions.add_message(
            viewer,
            ticket,
            form.cleaned_data["message"],
            attachments=form.cleaned_data.get("attachments") or [],
            source=Source.WEB,
        )
    except ValidationError as exc:
        form_errors_from(form, exc)
        return None
    except access.AccessDenied as exc:
        form.add_error(None, exc.message)
        return None
    if was_closed and ticket.state == State.OPEN:
        messages.success(request, "Your reply reopened the ticket.")
    else:
        messages.success(request, "Your reply was added.")
    url = reverse("portal:ticket", args=[ticket.number])
    return redirect(f"{url}#entry-{entry.pk}")


def ticket_detail(request, number: str) -> HttpResponse:
    """The public thread of one ticket (messages and replies, never internal notes) and the
    reply form."""
    found = _viewer(request, number)
    if isinstance(found, HttpResponse):
        return found
    ticket, viewer, is_guest = found
    can_reply = ticket.merged_into_id is None
    form = ReplyForm()
    if request.method == "POST":
        form = ReplyForm(request.POST, request.FILES)
        if not can_reply:
            form.add_error(None, "This ticket was merged into another one: reply there.")
        elif form.is_valid():
            done = _reply(request, ticket, viewer, form)
            if done is not None:
                return done
    entries = list(
        ticket.entries.filter(kind__in=[EntryKind.MESSAGE, EntryKind.REPLY])
        .prefetch_related("attachments")
        .order_by("created_at", "pk")
    )
    context = {
        "ticket": ticket,
        "entries": entries,
        "viewer": viewer,
        "is_guest": is_guest,
        "form": form,
        "can_reply": can_reply,
        "field_values": custom_fields.shown(ticket, requester_side=True),
    }
    return page(request, "portal/ticket.html", context)
