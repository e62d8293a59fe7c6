from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "helpline.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self):
        from helpline.audit import capture, checks  # noqa: F401  (checks registers itself)

        capture.connect()
