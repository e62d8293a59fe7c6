from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "helpline.tickets"
    label = "tickets"
    verbose_name = "Tickets"

    def ready(self):
        from django.core.signals import request_finished

        from helpline.tickets.files import remove_rolled_back

        # Files written for a transaction that rolled back go when the request ends.
        request_finished.connect(remove_rolled_back, dispatch_uid="helpline-files-rollback")
