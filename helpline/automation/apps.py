from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "helpline.automation"
    label = "automation"
    verbose_name = "Automation and knowledge"
