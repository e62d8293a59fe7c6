"""Mounted at /api/: the REST API under v1/, osTicket-compatible intake beside it."""

from django.urls import path

from helpline.api import osticket
from helpline.api.v1 import api

urlpatterns = [
    path("v1/", api.urls),
    path("tickets.json", osticket.tickets_json, name="osticket_json"),
    path("tickets.xml", osticket.tickets_xml, name="osticket_xml"),
    path("tickets.email", osticket.tickets_email, name="osticket_email"),
]
