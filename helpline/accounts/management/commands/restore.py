"""`helpline restore PATH`: put a backup made by `helpline backup` back (see helpline.ops)."""

from django.core.management.base import BaseCommand, CommandError

from helpline.ops import BackupError, restore_backup


class Command(BaseCommand):
    help = (
        "Restore the help desk from a backup made by `helpline backup` (directory or .tar.gz). "
        "Replaces the database and copies the attachments back; stop the web process and the "
        "workers first. Refuses a database that already holds tickets or users unless --force."
    )
    # The database may be empty or unmigrated before a restore: nothing to check yet.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("path", help="Backup directory or .tar.gz file.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace a database that already holds tickets or users.",
        )
        parser.add_argument(
            "--allow-missing-files",
            action="store_true",
            help="Restore even though attachment files the backup's database refers to are "
            "not in it (they will fail to download).",
        )

    def handle(self, *args, **options):
        try:
            result = restore_backup(
                options["path"],
                force=options["force"],
                allow_missing_files=options["allow_missing_files"],
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS("Restored the backup of ")
            + str(result.manifest.get("created_at", "unknown date"))
        )
        for name, count in result.counts.items():
            self.stdout.write(f"  {name:<12} {count}  (matches the backup)")
        if result.pending_migrations:
            self.stdout.write(
                self.style.WARNING(
                    "The backup predates this version's database changes: run `helpline migrate`."
                )
            )
