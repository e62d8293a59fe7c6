from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "helpline.api"
    label = "api"
    verbose_name = "API and webhooks"
