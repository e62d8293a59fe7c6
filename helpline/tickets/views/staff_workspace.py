"""The agent panel's shared workspace endpoints (thin: request → access → workspace action).

- pulse: the live-update poll, answered from a signed token without the session (one query)
- the ticket page's live fragment, presence heartbeat, draft autosave, claim, watch
- the notification list (the bell) and its settings, the sidebar fragment

Every endpoint that names a ticket loads it with `access.access_ticket`; the pulse names none.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from helpline.accounts.models import Permission
from helpline.tickets import access
from helpline.tickets.access import Access
from helpline.tickets.actions import StaleTicket
from helpline.tickets.views.staff import agent_required
from helpline.tickets.views.staff_ticket_common import ticket_url
from helpline.tickets.views.staff_ticket_page import live_context
from helpline.workspace import actions as workspace
from helpline.workspace import notifications, pulse
from helpline.workspace.models import DraftKind, NotificationEvent


@require_GET
def pulse_view(request: HttpRequest) -> HttpResponse:
    """304 while nothing the token covers changed; 200 with the new stamp when something did;
    410 when the token is too old or not ours (the page then fetches a fresh one). Reads
    neither the session nor the user: the browser sends no cookies here."""
    data = pulse.read(request.GET.get("t", ""))
    if data is None:
        return _no_store(HttpResponse(status=410))
    stamp = pulse.stamp(data)
    etag = f'"{stamp}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = JsonResponse({"stamp": stamp})
    response["ETag"] = etag
    return _no_store(response)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@agent_required
def ticket_live(request: HttpRequest, number: str) -> HttpResponse:
    """What changed on the ticket page since the entry and event ids it has: new thread items
    (marked new), the header, who else has it open, and a fresh pulse token."""
    ticket = access.access_ticket(request.user, number)
    context = live_context(request, ticket)
    return _no_store(render(request, "staff/partials/ticket_live.html", context))


@require_POST
@agent_required
def presence(request: HttpRequest, number: str) -> HttpResponse:
    """The page's heartbeat: viewing, replying (typing) or left."""
    ticket = access.access_ticket(request.user, number, Access.SEE_NOTES)
    state = request.POST.get("state", "")
    if state not in ("viewing", "replying", "left"):
        return HttpResponse("Unknown state.", status=400)
    workspace.touch_presence(request.user, ticket, state)
    return HttpResponse(status=204)


@require_POST
@agent_required
def draft(request: HttpRequest, number: str) -> HttpResponse:
    """Autosave of the reply or internal note box (an empty body removes the draft)."""
    ticket = access.access_ticket(request.user, number)
    kind = request.POST.get("kind", "")
    if kind not in DraftKind.values:
        return HttpResponse("Unknown draft kind.", status=400)
    permission = Permission.REPLY if kind == DraftKind.REPLY else Permission.NOTE
    access.access_ticket(request.user, ticket, permission)
    saved = workspace.save_draft(request.user, ticket, kind, request.POST.get("body", ""))
    return HttpResponse("Draft saved" if saved else "Draft removed", status=200)


def _back(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    ok = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    return target if target and ok else fallback


@require_POST
@agent_required
def claim(request: HttpRequest, number: str) -> HttpResponse:
    """ "Assign to me" (ticket page and queue rows): the assign action, version-checked."""
    ticket = access.access_ticket(request.user, number, Permission.ASSIGN)
    version = access.parse_id(request.POST.get("version", ""))
    try:
        workspace.claim(request.user, ticket, expected_version=version)
    except StaleTicket as exc:
        now = access.reload(exc.ticket)
        holder = now.assignee.display_name if now.assignee else "nobody"
        messages.warning(
            request, f"#{ticket.number} changed meanwhile (assigned to {holder}): not claimed."
        )
        return redirect(_back(request, ticket_url(ticket)))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_back(request, ticket_url(ticket)))
    messages.success(request, f"#{ticket.number} is assigned to you.")
    return redirect(_back(request, ticket_url(ticket)))


@require_POST
@agent_required
def watch(request: HttpRequest, number: str) -> HttpResponse:
    """Follow or stop following the ticket (any agent who works it)."""
    ticket = access.access_ticket(request.user, number, Access.SEE_NOTES)
    if request.POST.get("watch") == "0":
        workspace.unwatch(request.user, ticket)
        messages.success(request, f"You no longer watch #{ticket.number}.")
    else:
        workspace.watch(request.user, ticket)
        messages.success(request, f"You watch #{ticket.number}: you are told what happens.")
    return redirect(ticket_url(ticket))


@agent_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """The bell's list: marked read when opened. POST saves which events come how."""
    user = request.user
    if request.method == "POST":
        chosen = {
            event.value: (
                request.POST.get(f"app-{event.value}") == "1",
                request.POST.get(f"email-{event.value}") == "1",
            )
            for event in NotificationEvent
        }
        workspace.set_notification_choices(user, chosen)
        messages.success(request, "Notification settings saved.")
        return redirect("staff:notifications")
    items = list(workspace.visible_notifications(user)[:50])
    unread_ids = {n.pk for n in items if n.read_at is None}
    workspace.mark_notifications_read(user)
    chosen = notifications.choices(user)
    rows = [
        {"event": e.value, "label": e.label, "in_app": chosen[e.value][0],
         "by_email": chosen[e.value][1]}
        for e in NotificationEvent
    ]  # fmt: skip
    return render(
        request,
        "staff/notifications.html",
        {"items": items, "unread_ids": unread_ids, "settings_rows": rows},
    )


@require_GET
@agent_required
def sidebar(request: HttpRequest) -> HttpResponse:
    """The queue sidebar and the bell, for a live page to swap in."""
    active = request.GET.get("active", "")[:80]
    return _no_store(render(request, "staff/partials/live_sidebar.html", {"active_queue": active}))
