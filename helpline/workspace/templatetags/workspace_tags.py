"""The workspace in the agent panel's frame: the bell and the sidebar's unread count."""

from django import template

from helpline.workspace.unread import sidebar_figures

register = template.Library()


@register.simple_tag(takes_context=True)
def workspace_figures(context) -> dict:
    """Unread tickets and notifications of the signed-in agent, counted once per request."""
    request = context.get("request")
    if request is None or not getattr(request.user, "is_authenticated", False):
        return {"unread": 0, "notifications": 0}
    figures = getattr(request, "_workspace_figures", None)
    if figures is None:
        figures = sidebar_figures(request.user)
        request._workspace_figures = figures
    return figures
