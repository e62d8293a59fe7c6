"""`helpline backup PATH`: dump the database and copy the attachments (see helpline.ops)."""

from django.core.management.base import BaseCommand, CommandError

from helpline.ops import BackupError, create_backup


class Command(BaseCommand):
    help = (
        "Back up the help desk to PATH: a new directory, or a .tar.gz file. Holds a consistent "
        "database dump (SQLite online backup or pg_dump), the attachments and a manifest."
    )
    # A backup must work even when the configuration has problems the checks would report.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("path", help="New directory or .tar.gz file to write the backup to.")

    def handle(self, *args, **options):
        try:
            manifest = create_backup(options["path"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        counts = manifest["counts"]
        self.stdout.write(
            self.style.SUCCESS(f"Backup of the {manifest['vendor']} database written to ")
            + options["path"]
        )
        self.stdout.write("  " + ", ".join(f"{count} {name}" for name, count in counts.items()))
        if manifest["missing_files"]:
            examples = ", ".join(manifest["missing_examples"])
            self.stderr.write(
                self.style.WARNING(
                    f"{manifest['missing_files']} attachment file(s) the database refers to were "
                    f"not in storage and are not in the backup: {examples}"
                )
            )
