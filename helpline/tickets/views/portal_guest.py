"""Guest access to one ticket: "Check ticket status" sends a link; /t/<token>/ opens it."""

import logging

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect

from helpline.tickets import guest
from helpline.tickets.forms_portal import StatusLookupForm
from helpline.tickets.views.portal_common import STATUS_LOOKUPS, client_ip, page

log = logging.getLogger(__name__)
SENT_KEY = "helpline_portal_status_sent"


def check_status(request) -> HttpResponse:
    """Email + ticket number → a link by email. The answer is the same whether or not the
    details match, so the page reveals nothing about tickets or addresses."""
    if request.method == "POST":
        form = StatusLookupForm(request.POST)
        if form.is_valid():
            email, number = form.cleaned_data["email"], form.cleaned_data["number"]
            ip = client_ip(request)
            if STATUS_LOOKUPS.exceeded(email=email, ip=ip):
                form.add_error(
                    None,
                    "Too many look-ups in a short time. Please wait "
                    f"{STATUS_LOOKUPS.minutes()} minutes and try again.",
                )
            else:
                STATUS_LOOKUPS.hit(email=email, ip=ip)
                request.session[SENT_KEY] = {"email": email, "link": _send_link(email, number)}
                return redirect("portal:status_sent")
    else:
        initial = {"email": request.user.email} if request.user.is_authenticated else {}
        form = StatusLookupForm(initial=initial)
    return page(request, "portal/check_status.html", {"form": form})


def _send_link(email: str, number: str) -> str:
    """Send a link if the details match; returns the link's path when the settings say to show
    it on the page (HELPLINE_GUEST_LINK_SHOWN, for demos and tests), else ""."""
    ticket = guest.find_ticket(email, number)
    if ticket is None:
        return ""
    token = guest.issue_link(ticket, email)
    try:
        guest.send_link(ticket, email, token)
    except Exception:  # noqa: BLE001 - a mail outage must not reveal that the details matched
        log.exception("Sending the guest link for ticket %s failed", ticket.number)
    if settings.HELPLINE_GUEST_LINK_SHOWN:
        return guest.link_path(token)
    return ""


def status_sent(request) -> HttpResponse:
    sent = request.session.get(SENT_KEY)
    if not sent:
        return redirect("portal:check_status")
    return page(request, "portal/status_sent.html", {"sent": sent, "link_days": guest.link_days()})


def guest_link(request, token: str) -> HttpResponse:
    """Open the ticket of a valid link: remember the grant in the session, go to the ticket."""
    grant = guest.resolve(token)
    if grant is None:
        return page(request, "portal/guest_link_invalid.html", status=404)
    guest.remember(request.session, grant)
    return redirect("portal:ticket", number=grant.ticket.number)
