from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The agents' shared workspace: live updates, presence, last-seen, drafts, watchers and
    in-app notifications. It listens to ticket events; the ticket layer never imports it."""

    name = "helpline.workspace"
    label = "workspace"
    verbose_name = "Agent workspace"

    def ready(self):
        from helpline.tickets import hooks
        from helpline.workspace import listeners

        hooks.on_event(listeners.event_committed)
        hooks.on_ticket_deleted(listeners.ticket_deleted)
