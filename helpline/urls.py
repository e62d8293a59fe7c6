from django.contrib import admin
from django.db import connection
from django.http import JsonResponse
from django.urls import include, path


def healthz(request):
    """For a load balancer: answers 200 when the database does."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001
        return JsonResponse({"status": "error", "database": str(exc)}, status=503)
    return JsonResponse({"status": "ok"})


admin.site.site_header = "Helpline administration"
admin.site.site_title = "Helpline admin"
admin.site.index_title = "Configure the help desk"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/", include("helpline.api.urls")),
    path("staff/reports/", include("helpline.reports.urls")),
    path("survey/", include("helpline.reports.urls_public")),
    path("staff/mail/", include("helpline.mail.urls")),
    path("staff/", include("helpline.tickets.urls_staff")),
    path("", include("helpline.automation.urls")),
    path("", include("helpline.tickets.urls_portal")),
]
