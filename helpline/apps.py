from django.apps import AppConfig


class HelplineConfig(AppConfig):
    name = "helpline"
    verbose_name = "Helpline"

    def ready(self):
        from helpline import checks  # noqa: F401  (registers the system checks)
