"""The survey page at a requester-friendly address: mount with
`path("survey/", include("helpline.reports.urls_public"))` in helpline/urls.py."""

from django.urls import path

from helpline.reports import views_survey

app_name = "survey"
urlpatterns = [path("<str:token>/", views_survey.survey, name="answer")]
