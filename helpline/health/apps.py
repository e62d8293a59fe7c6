from django.apps import AppConfig


class HealthConfig(AppConfig):
    """Workers that outlive database restarts, task leases, and the health an admin can see."""

    name = "helpline.health"
    label = "health"
    verbose_name = "Health"
    default_auto_field = "django.db.models.BigAutoField"
