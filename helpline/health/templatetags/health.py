"""`{% health_panel %}`: the health panel, for administrators only (admin home, agent dashboard)."""

from django import template

from helpline.health import status
from helpline.tickets.access import is_admin

register = template.Library()


@register.inclusion_tag("health/panel.html", takes_context=True)
def health_panel(context) -> dict:
    request = context.get("request")
    if request is None or not is_admin(request.user):
        return {"shown": False}
    found = status.checks(status.snapshot())
    red = [c for c in found if c.level == status.RED]
    return {"shown": True, "checks": found, "red": red}
