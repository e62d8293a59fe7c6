"""Sets the audit log's actor for each request: the signed-in user, their address, the channel."""

from helpline.audit.context import ADMIN, API, WEB, acting_for_request

# The URL prefixes of helpline/urls.py.
ADMIN_PREFIX = "/admin/"
API_PREFIX = "/api/"


def channel_for(path: str) -> str:
    """The channel of a request path: admin panel, API, or web (agent panel and portal)."""
    if path.startswith(ADMIN_PREFIX):
        return ADMIN
    if path.startswith(API_PREFIX):
        return API
    return WEB


class AuditActorMiddleware:
    """Runs after AuthenticationMiddleware; `request.user` is read only when an entry is written."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with acting_for_request(request, channel_for(request.path_info)):
            return self.get_response(request)
