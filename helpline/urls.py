from django.contrib import admin
from django.urls import include, path

from helpline.health.views import healthz, metrics

admin.site.site_header = "Helpline administration"
admin.site.site_title = "Helpline admin"
admin.site.index_title = "Configure the help desk"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("api/", include("helpline.api.urls")),
    path("staff/reports/", include("helpline.reports.urls")),
    path("survey/", include("helpline.reports.urls_public")),
    path("staff/mail/", include("helpline.mail.urls")),
    path("staff/", include("helpline.tickets.urls_staff")),
    path("", include("helpline.automation.urls")),
    path("", include("helpline.tickets.urls_portal")),
]
