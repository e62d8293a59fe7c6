"""The routing rules' dry run: /staff/rules/dry-run/ (administrators)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from helpline.automation import dryrun
from helpline.automation.forms import DryRunForm
from helpline.tickets import access


def dry_run(request: HttpRequest) -> HttpResponse:
    """Show, rule by rule, what would happen to a sample request; nothing is created."""
    if not access.is_admin(request.user):
        if access.is_agent(request.user):
            return render(
                request, "staff/ticket_denied.html", {"message": _ONLY_ADMINS}, status=403
            )
        return redirect(f"{reverse('staff:login')}?next={request.path}")
    outcome, notes = None, []
    form = DryRunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        raw = (data.get("raw_email") or "").strip()
        if raw:
            intake, notes = dryrun.intake_from_email(raw.encode("utf-8", "surrogateescape"))
        else:
            intake = dryrun.intake_from_fields(
                sender=data["sender"],
                subject=data["subject"],
                body=data["body"],
                source=data["source"],
                help_topic=data["help_topic"],
                priority=data["priority"],
                recipient=data["recipient"] or "",
                headers=data["header_dict"],
            )
        outcome = dryrun.run(intake)
        notes = [*notes, *outcome.notes]
    return render(
        request,
        "staff/rules/dry_run.html",
        {"form": form, "outcome": outcome, "notes": notes, "title": "Routing rules: dry run"},
    )


_ONLY_ADMINS = "Only administrators can try the routing rules."
