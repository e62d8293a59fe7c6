from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "helpline.automation"
    label = "automation"
    verbose_name = "Automation and knowledge"

    def ready(self) -> None:
        from helpline.automation.intake import route
        from helpline.tickets import hooks

        # Every channel opens tickets through actions.open_ticket, which runs intake filters:
        # rules and auto-assignment apply the same way to portal, email, API and agents.
        hooks.on_intake(route)
