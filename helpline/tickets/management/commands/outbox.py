"""`helpline outbox`: what waits in the mail outbox; `--send` runs the sweep once, now."""

from django.core.management.base import BaseCommand
from django.db.models import Count, Min
from django.utils import timezone

from helpline.tickets import delivery
from helpline.tickets.models import DeliveryState, Notification


class Command(BaseCommand):
    help = "Show the mail outbox by state; --send sends what is due now (the scheduler's sweep)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--send", action="store_true", help="send queued mail whose time has come, now"
        )

    def handle(self, *, send: bool, **options):
        if send:
            self.stdout.write(f"sent {delivery.retry_due()}")
        counts = dict(Notification.objects.values_list("state").annotate(n=Count("id")).order_by())
        for state in DeliveryState:
            self.stdout.write(f"{state.value}: {counts.get(state.value, 0)}")
        oldest = Notification.objects.filter(state=DeliveryState.QUEUED).aggregate(
            oldest=Min("created_at")
        )["oldest"]
        if oldest is not None:
            age = int((timezone.now() - oldest).total_seconds())
            self.stdout.write(f"oldest queued: {age} s ago")
