from django.urls import path

from helpline.reports import views, views_survey

app_name = "reports"
urlpatterns = [
    path("", views.report, name="index"),
    path("export/<slug:table>.csv", views.export_csv, name="export"),
    # The requester's survey page (no sign-in). Better mounted at /survey/ (urls_public.py).
    path("survey/<str:token>/", views_survey.survey, name="survey"),
]
