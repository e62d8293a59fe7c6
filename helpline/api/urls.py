"""Mounted at /api/: the REST API under v1/, osTicket-compatible intake beside it."""

from django.http import JsonResponse
from django.urls import path, re_path

from helpline.api import osticket
from helpline.api.errors import error_body
from helpline.api.v1 import api


def not_found(request, rest: str = "") -> JsonResponse:
    """Any other path under v1/ (also "/tickets/x/collaborators/٣", which no route's
    digits-only converter takes): a JSON 404, as from the API itself."""
    return JsonResponse(error_body("No such API endpoint."), status=404)


urlpatterns = [
    path("v1/", api.urls),
    re_path(r"^v1/(?P<rest>.*)$", not_found),
    path("tickets.json", osticket.tickets_json, name="osticket_json"),
    path("tickets.xml", osticket.tickets_xml, name="osticket_xml"),
    path("tickets.email", osticket.tickets_email, name="osticket_email"),
]
