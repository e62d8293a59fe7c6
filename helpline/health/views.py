"""/healthz for load balancers and monitors, /metrics for Prometheus."""

import hmac

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from helpline.health import status


@require_GET
def healthz(request):
    """200 when the database answers (cheap, for a load balancer). With ?deep=1 also the
    workers' heartbeats, the task and outbox ages and the attachment storage; 503 when one fails."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001
        return JsonResponse({"status": "error", "database": str(exc)}, status=503)
    if request.GET.get("deep") != "1":
        return JsonResponse({"status": "ok"})
    healthy, found = status.deep()
    return JsonResponse(
        {"status": "ok" if healthy else "error", "database": "ok", **found},
        status=200 if healthy else 503,
    )


@require_GET
def metrics(request):
    """Prometheus text format, to `Authorization: Bearer HELPLINE_METRICS_TOKEN` only."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from helpline.health.metrics import exposition

    token = settings.HELPLINE_METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off (HELPLINE_METRICS_TOKEN is empty).")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        return HttpResponse(
            "A valid metrics token is needed.", status=401, content_type="text/plain"
        )
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
