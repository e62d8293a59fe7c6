from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "helpline.api"
    label = "api"
    verbose_name = "API and webhooks"

    def ready(self) -> None:
        from helpline.api import webhooks
        from helpline.tickets import hooks

        hooks.on_event(webhooks.event_recorded)
