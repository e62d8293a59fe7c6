"""The REST API at /api/v1/ (django-ninja): OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs.

Authentication: `Authorization: Bearer <key>` (see `helpline apikey create`), or the signed-in
browser session with its CSRF token (the agent panel's own calls).
"""

from django.conf import settings
from ninja import NinjaAPI

from helpline.api import directory, errors, tickets, work  # noqa: F401 - work adds routes
from helpline.api.auth import KeyBearer, Session


class HelplineAPI(NinjaAPI):
    """The document also says the limits an administrator sets (read when it is served)."""

    def get_openapi_schema(self, **kwargs):
        schema = super().get_openapi_schema(**kwargs)
        files = min(50, settings.HELPLINE_MAX_ATTACHMENTS)
        for component in schema.get("components", {}).get("schemas", {}).values():
            attachments = component.get("properties", {}).get("attachments")
            if attachments is not None and attachments.get("type") == "array":
                attachments["maxItems"] = files
        return schema


api = HelplineAPI(
    title="Helpline API",
    version="1",
    description=(
        "Tickets, their thread and the help desk's configuration. Every call acts as the user "
        "the key belongs to, narrowed by the key's scopes: it can do what that user can do in "
        'the agent panel, never more. Errors are JSON: `{"detail": "...", "errors": '
        '{"field": ["message"]}}`.'
    ),
    auth=[KeyBearer(), Session()],
    parser=errors.JsonParser(),
    urls_namespace="api-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors.install(api)
api.add_router("", tickets.router)
api.add_router("", directory.router)
