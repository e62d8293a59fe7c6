from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "helpline.reports"
    label = "reports"
    verbose_name = "Reports and satisfaction"

    def ready(self) -> None:
        from helpline.reports import csat, metrics
        from helpline.tickets import hooks

        hooks.on_event(metrics.event_recorded)
        hooks.on_event(csat.event_recorded)
