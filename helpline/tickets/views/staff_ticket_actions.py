"""POST endpoints of the agent panel's ticket page: thin, form → action → redirect.

Each endpoint checks the permission it needs up front (so a forged POST is refused with 403
whatever it carries) and the action checks again. Bad input re-renders the page with the
form's errors in place; success redirects back to the ticket (post/redirect/get).
"""

import functools

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from helpline.accounts.models import Permission
from helpline.accounts.people import get_or_create_requester
from helpline.tickets import access, actions
from helpline.tickets import fields as custom_fields
from helpline.tickets.access import Access
from helpline.tickets.forms_staff_ticket import (
    CollaboratorForm,
    DeleteForm,
    DueForm,
    FieldsForm,
    MergeForm,
    NoteForm,
    ReplyForm,
    StatusForm,
    status_choices,
)
from helpline.tickets.models import Collaborator, Status, Ticket
from helpline.tickets.views.staff import agent_required
from helpline.tickets.views.staff_ticket_common import ticket_url
from helpline.tickets.views.staff_ticket_history import stamp
from helpline.tickets.views.staff_ticket_page import render_ticket_page
from helpline.workspace import actions as workspace

# The page shows every form; each endpoint puts its own form back under its own name.
FORM_NAMES = {
    ReplyForm: ("reply_form", "reply_%s"),
    NoteForm: ("note_form", "note_%s"),
    StatusForm: ("status_form", "status_%s"),
    DueForm: ("due_form", "due_%s"),
    CollaboratorForm: ("collaborator_form", "collab_%s"),
    MergeForm: ("merge_form", "merge_%s"),
    FieldsForm: ("fields_form", "fields_%s"),
    DeleteForm: ("delete_form", "delete_%s"),
}


def stale_message(ticket: Ticket, what: str) -> str:
    if what in ("reply", "internal note"):
        return (
            f"Ticket #{ticket.number} changed meanwhile: see the new entries above; your {what} "
            "was not sent — send again."
        )
    return (
        f"Ticket #{ticket.number} changed meanwhile: see the new entries above; your {what} "
        "was not saved — look at the ticket again and repeat it if still needed."
    )


def add_action_errors(form: Form, exc: ValidationError) -> None:
    """Show an action's ValidationError on the form: by field where the form has that field."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            if field.startswith("fields."):  # A custom field: its input is cf_<name>.
                field = custom_fields.FORM_PREFIX + field.removeprefix("fields.")
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def offer_allowed_statuses(request: HttpRequest, ticket: Ticket, form: Form) -> None:
    """Forms validate against every status (so the action can refuse a forged one with 403);
    shown again, they offer only the statuses the agent may pick."""
    if "status" in form.fields:
        can = access.permissions(request.user, ticket)
        form.fields["status"].queryset = status_choices(can["status"], can["close"])


def page_with(request: HttpRequest, ticket: Ticket, form: Form, status: int, **extra):
    name, _ = FORM_NAMES[type(form)]
    offer_allowed_statuses(request, ticket, form)
    return render_ticket_page(request, ticket, status=status, **{name: form}, **extra)


def stale_page(request: HttpRequest, number: str, form_class, what: str, **form_kwargs):
    """Re-render with the typed input kept, now carrying the current version ("send again")."""
    ticket = access.access_ticket(request.user, number)
    data = request.POST.copy()
    data["version"] = str(ticket.version)
    name, auto_id = FORM_NAMES[form_class]
    form = form_class(data, auto_id=auto_id, **form_kwargs)
    offer_allowed_statuses(request, ticket, form)
    message = stale_message(ticket, what)
    tab = "note" if form_class is NoteForm else "reply"
    panel = {StatusForm: "status", DueForm: "due", FieldsForm: "fields"}.get(form_class, tab)
    return render_ticket_page(
        request, ticket, status=409, stale=message, stale_in=panel, tab=tab, **{name: form}
    )


def _compose(request: HttpRequest, number: str, form_class, permission: Permission):
    ticket = access.access_ticket(request.user, number, permission)
    kwargs = {"statuses": Status.objects.all()} if form_class is ReplyForm else {}
    _, auto_id = FORM_NAMES[form_class]
    form = form_class(request.POST, request.FILES, auto_id=auto_id, **kwargs)
    what = "reply" if form_class is ReplyForm else "internal note"
    tab = "reply" if form_class is ReplyForm else "note"
    if not form.is_valid():
        return page_with(request, ticket, form, 400, tab=tab)
    data = form.cleaned_data
    if data["version"] != ticket.version:
        return stale_page(request, number, form_class, what, **kwargs)
    files = data["attachments"]
    try:
        # An @mention of an agent who cannot see the note refuses the note (text kept).
        mentioned = (
            []
            if form_class is ReplyForm
            else workspace.check_mentions(request.user, ticket, data["body"])
        )
        if form_class is ReplyForm:
            entry = actions.reply(
                request.user,
                ticket,
                data["body"],
                attachments=files,
                status=data["status"],
                expected_version=data["version"],
            )
        else:
            entry = actions.add_note(
                request.user,
                ticket,
                data["body"],
                attachments=files,
                expected_version=data["version"],
            )
    except actions.StaleTicket:
        return stale_page(request, number, form_class, what, **kwargs)
    except ValidationError as exc:
        add_action_errors(form, exc)
        return page_with(request, ticket, form, 400, tab=tab)
    workspace.discard_draft(request.user, ticket, tab)
    if mentioned:
        workspace.notify_mentions(request.user, ticket, mentioned)
    if form_class is ReplyForm:
        text = f"Reply sent to {ticket.requester.display_name}."
        if data["status"] is not None:
            text += f" Status: {ticket.status}."
    else:
        text = "Internal note added."
    messages.success(request, text)
    return redirect(f"{ticket_url(ticket)}#entry-{entry.pk}")


@require_POST
@agent_required
def reply(request: HttpRequest, number: str) -> HttpResponse:
    """Reply to the requester (and collaborators), optionally setting a status."""
    return _compose(request, number, ReplyForm, Permission.REPLY)


@require_POST
@agent_required
def note(request: HttpRequest, number: str) -> HttpResponse:
    """Add an internal note (agents only; never mailed to the requester)."""
    return _compose(request, number, NoteForm, Permission.NOTE)


@require_POST
@agent_required
def change_status(request: HttpRequest, number: str) -> HttpResponse:
    """Change the status; closing needs "close", anything else "change status"."""
    user = request.user
    ticket = access.access_ticket(user, number, Access.CHANGE_STATUS)
    # Every status validates; the action refuses the ones the role does not allow (403).
    form = StatusForm(request.POST, statuses=Status.objects.all(), auto_id="status_%s")
    if not form.is_valid():
        return page_with(request, ticket, form, 400)
    data = form.cleaned_data
    if data["version"] != ticket.version:
        return stale_page(
            request, number, StatusForm, "status change", statuses=Status.objects.all()
        )
    new = data["status"]
    if new.pk == ticket.status_id:
        messages.info(request, f"The status is already {new}.")
        return redirect(ticket_url(ticket, "main"))
    try:
        actions.set_status(
            user, ticket, new, reason=data["reason"], expected_version=data["version"]
        )
    except actions.StaleTicket:
        return stale_page(
            request, number, StatusForm, "status change", statuses=Status.objects.all()
        )
    except ValidationError as exc:
        add_action_errors(form, exc)
        return page_with(request, ticket, form, 400)
    messages.success(request, f"Status set to {new}.")
    return redirect(ticket_url(ticket, "main"))


def _versioned_change(request, ticket, form, what: str, change, form_kwargs=None) -> HttpResponse:
    """A panel form carrying the version the agent saw → `change(data)` → back to the ticket.

    `change` calls the action (with expected_version) and returns the success message. A
    change made meanwhile re-renders with the typed input kept (409); bad input shows the
    form's or the action's errors in place (400).
    """
    if not form.is_valid():
        return page_with(request, ticket, form, 400)
    data = form.cleaned_data
    kwargs = form_kwargs or {}
    stale = functools.partial(stale_page, request, ticket.number, type(form), what, **kwargs)
    if data["version"] != ticket.version:
        return stale()
    try:
        message = change(data)
    except actions.StaleTicket:
        return stale()
    except ValidationError as exc:
        add_action_errors(form, exc)
        return page_with(request, ticket, form, 400)
    messages.success(request, message)
    return redirect(ticket_url(ticket, "main"))


@require_POST
@agent_required
def due_time(request: HttpRequest, number: str) -> HttpResponse:
    """Set the due time by hand (entered in the agent's time zone), or reset it to the SLA's."""
    user = request.user
    ticket = access.access_ticket(user, number, Permission.EDIT)

    def change(data) -> str:
        due_at = None if data["reset"] else data["due_at"]
        actions.set_due_time(user, ticket, due_at, expected_version=data["version"])
        if due_at is None:
            return f"Due time reset to the SLA plan's: {stamp(ticket.due_at)}."
        return f"Due time set to {stamp(ticket.due_at)}."

    form = DueForm(request.POST, auto_id="due_%s")
    return _versioned_change(request, ticket, form, "due time", change)


@require_POST
@agent_required
def custom_field_values(request: HttpRequest, number: str) -> HttpResponse:
    """Save the values of the help topic's custom fields."""
    user = request.user
    ticket = access.access_ticket(user, number, Permission.EDIT)

    def change(data) -> str:
        values = custom_fields.from_form(data)
        actions.set_fields(user, ticket, values, expected_version=data["version"])
        return "Fields saved."

    form = FieldsForm(request.POST, ticket=ticket, auto_id="fields_%s")
    return _versioned_change(request, ticket, form, "fields", change, {"ticket": ticket})


@require_POST
@agent_required
def collaborators(request: HttpRequest, number: str) -> HttpResponse:
    """Add a collaborator by email (found or created as a requester), or remove one."""
    user = request.user
    ticket = access.access_ticket(user, number, Permission.EDIT)
    if "remove" in request.POST:
        return _remove_collaborator(request, ticket)
    form = CollaboratorForm(request.POST, auto_id="collab_%s")
    if not form.is_valid():
        return page_with(request, ticket, form, 400)
    data = form.cleaned_data
    try:
        # Creating the person and adding them succeed or fail together.
        with transaction.atomic():
            person, _ = get_or_create_requester(data["email"], data["name"])
            if person.pk == ticket.requester_id:
                raise ValidationError(
                    {"email": f"{person.display_name} is the requester of this ticket already."}
                )
            if Collaborator.objects.filter(ticket=ticket, user=person).exists():
                raise ValidationError(
                    {"email": f"{person.display_name} is already a collaborator."}
                )
            actions.add_collaborator(user, ticket, person)
    except ValidationError as exc:
        add_action_errors(form, exc)
        return page_with(request, ticket, form, 400)
    messages.success(request, f"{person.display_name} added as a collaborator.")
    return redirect(ticket_url(ticket, "main"))


def _remove_collaborator(request: HttpRequest, ticket: Ticket) -> HttpResponse:
    collaboration = None
    pk = access.parse_id(request.POST.get("remove", ""))
    if pk is not None:
        collaboration = (
            Collaborator.objects.filter(ticket=ticket, user_id=pk).select_related("user").first()
        )
    if collaboration is None:
        messages.error(request, "That person is not a collaborator on this ticket.")
        return redirect(ticket_url(ticket, "main"))
    actions.remove_collaborator(request.user, ticket, collaboration.user)
    messages.success(request, f"{collaboration.user.display_name} removed from the collaborators.")
    return redirect(ticket_url(ticket, "main"))


@require_POST
@agent_required
def merge(request: HttpRequest, number: str) -> HttpResponse:
    """Merge this ticket into another: its thread moves there and it is closed."""
    user = request.user
    ticket = access.access_ticket(user, number, Permission.MERGE)
    form = MergeForm(request.POST, auto_id="merge_%s")
    if not form.is_valid():
        return page_with(request, ticket, form, 400)
    into_number = form.cleaned_data["into"]
    target = None
    if into_number == ticket.number:
        form.add_error("into", "A ticket cannot be merged into itself.")
    else:
        try:
            target = access.access_ticket(user, into_number, Permission.MERGE)
        except access.TicketNotFound:
            form.add_error("into", f"There is no ticket #{into_number} that you can see.")
        except access.AccessDenied as exc:
            form.add_error("into", exc.message)
    if form.errors:
        return page_with(request, ticket, form, 400)
    try:
        actions.merge(user, ticket, target)
    except ValidationError as exc:
        add_action_errors(form, exc)
        return page_with(request, ticket, form, 400)
    messages.success(request, f"Ticket #{ticket.number} merged into #{target.number}.")
    return redirect(ticket_url(target, "main"))


@require_POST
@agent_required
def delete(request: HttpRequest, number: str) -> HttpResponse:
    """Delete the ticket for good, after the agent typed its number."""
    user = request.user
    ticket = access.access_ticket(user, number, Permission.DELETE)
    form = DeleteForm(request.POST, ticket=ticket, auto_id="delete_%s")
    if not form.is_valid():
        return page_with(request, ticket, form, 400)
    actions.delete_ticket(user, ticket, reason=form.cleaned_data["reason"])
    messages.success(request, f"Ticket #{number} deleted.")
    return redirect("staff:dashboard")
