"""`helpline apikey create USERNAME [--scope S ...] [--allow-ip CIDR ...]`, `list`, `revoke`.

`create` prints the new key alone on its last line, so scripts can take it with `tail -n1`.
Creating and revoking are recorded in the audit log with the channel "cli".
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from helpline import audit
from helpline.accounts.models import User
from helpline.api.models import KEY_PREFIX, ApiKey, Scope


class Command(BaseCommand):
    help = "Create, list and revoke API keys."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a key for a user (printed once).")
        create.add_argument("username")
        create.add_argument(
            "--scope",
            action="append",
            choices=Scope.values,
            help="Repeat for several (default: tickets:read and tickets:write).",
        )
        create.add_argument(
            "--allow-ip", action="append", default=[], metavar="CIDR",
            help="Only from this address or range; repeat for several (default: anywhere).",
        )  # fmt: skip
        create.add_argument("--name", default="", help="What the key is for.")
        create.add_argument("--expires-days", type=int, help="Expire after this many days.")
        create.add_argument("--rate-limit", type=int, help="Requests per minute.")
        listing = sub.add_parser("list", help="List keys (prefixes only).")
        listing.add_argument("username", nargs="?")
        revoke = sub.add_parser("revoke", help="Revoke a key by its prefix.")
        revoke.add_argument("prefix", help=f"As listed, with or without “{KEY_PREFIX}_”.")

    def handle(self, *args, action: str, **options):
        with audit.acting_as(audit.command_label(f"apikey {action}"), channel="cli"):
            getattr(self, f"_{action}")(**options)

    def _create(self, username, scope, allow_ip, name, expires_days, rate_limit, **_):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user “{username}”.")
        expires_at = None
        if expires_days is not None:
            if expires_days < 1:
                raise CommandError("--expires-days must be at least 1.")
            expires_at = timezone.now() + timedelta(days=expires_days)
        try:
            row, key = ApiKey.issue(
                user,
                name=name or f"Key for {username}",
                scopes=scope or [Scope.TICKETS_READ, Scope.TICKETS_WRITE],
                allowed_ips="\n".join(allow_ip),
                expires_at=expires_at,
                rate_limit=rate_limit,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages))
        self.stderr.write(
            f"Created “{row.name}” for {username} with scopes {', '.join(row.scopes)}. "
            "The key is shown only now:"
        )
        self.stdout.write(key)

    def _list(self, username=None, **_):
        keys = ApiKey.objects.select_related("user")
        if username:
            keys = keys.filter(user__username=username)
        for k in keys:
            state = "revoked" if k.revoked_at else ("expired" if k.is_expired() else "active")
            used = k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "never"
            self.stdout.write(
                f"{KEY_PREFIX}_{k.prefix}  {k.user.username:<12} {state:<8} "
                f"{','.join(k.scopes):<40} last used {used}  {k.name}"
            )

    def _revoke(self, prefix, **_):
        prefix = prefix.removeprefix(f"{KEY_PREFIX}_").rstrip("…")
        with transaction.atomic():
            # A save, not a queryset update: the audit log records saves (update() sends no
            # signal), and the row lock keeps two revocations from racing.
            key = (
                ApiKey.objects.select_for_update()
                .filter(prefix=prefix, revoked_at__isnull=True)
                .first()
            )
            if key is None:
                raise CommandError(f"No active key with the prefix “{prefix}”.")
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
        self.stdout.write(f"Revoked {KEY_PREFIX}_{prefix}.")
