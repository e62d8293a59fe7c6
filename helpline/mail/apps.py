from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class MailConfig(AppConfig):
    name = "helpline.mail"
    label = "mail"
    verbose_name = "Email"

    def ready(self):
        from helpline.accounts.models import Department
        from helpline.mail.loops import forget_own_addresses
        from helpline.mail.models import BannedAddress, Mailbox

        for model in (Department, Mailbox, BannedAddress):
            post_save.connect(forget_own_addresses, sender=model, dispatch_uid=f"own-{model}")
            post_delete.connect(forget_own_addresses, sender=model, dispatch_uid=f"own-d-{model}")
