from zoneinfo import ZoneInfo

from django.utils import timezone


class TimezoneMiddleware:
    """Show times in the agent's own time zone (their profile), else the help desk's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tz_name = ""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            agent = getattr(user, "agent", None) if hasattr(user, "agent") else None
            tz_name = getattr(agent, "timezone", "") or ""
        if tz_name:
            try:
                timezone.activate(ZoneInfo(tz_name))
            except Exception:
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)
