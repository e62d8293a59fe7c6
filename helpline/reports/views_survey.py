"""The satisfaction survey page: reached through a signed link, no sign-in.

GET shows the form (the rating from the link preselected) and never saves: mail link scanners
open every link in a message, so a GET that saved would record ratings nobody gave. POST saves.
"""

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from helpline.reports import csat
from helpline.reports.forms import SurveyForm
from helpline.reports.models import EDIT_DAYS, CsatSurvey


@never_cache
@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    """Show the survey (GET, never saves) or record the answer (POST)."""
    found = CsatSurvey.from_token(token)
    if found is None:
        return render(request, "portal/survey_invalid.html", status=404)
    now = timezone.now()
    context = {"survey": found, "ticket": found.ticket, "edit_days": EDIT_DAYS, "saved": False}
    if not found.is_open(now):
        return render(request, "portal/survey_closed.html", context, status=410)
    if request.method == "POST":
        form = SurveyForm(request.POST)
        if form.is_valid():
            try:
                csat.answer(found, form.cleaned_data["rating"], form.cleaned_data["comment"], now)
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
            else:
                context["saved"] = True
                form = SurveyForm(initial={"rating": found.rating, "comment": found.comment})
    else:
        initial = {"rating": found.rating, "comment": found.comment}
        wanted = request.GET.get("rating", "")
        if wanted in {str(n) for n in csat.RATINGS}:
            initial["rating"] = int(wanted)
        form = SurveyForm(initial=initial)
    context["form"] = form
    context["closes_at"] = found.answer_closes_at()
    # A bound form here is a rejected answer (a saved one is replaced by an unbound form).
    status = 400 if form.is_bound else 200
    return render(request, "portal/survey.html", context, status=status)
