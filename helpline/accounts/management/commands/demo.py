from django.core.management.base import BaseCommand

from helpline.accounts.demo import DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Load the demo organisation of scenarios.md (idempotent) and print the demo logins."

    def handle(self, *args, **options):
        logins = load_demo()
        self.stdout.write(self.style.SUCCESS("Demo organisation loaded."))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, what in logins:
            self.stdout.write(f"  {username:<8} {what}")
        self.stdout.write("Agent panel: /staff/   Client portal: /   Admin panel: /admin/")
