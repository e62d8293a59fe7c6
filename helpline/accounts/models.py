"""People and organisation: users, agents, departments, teams and roles."""

import secrets
from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.crypto import salted_hmac


class Permission(models.TextChoices):
    """What a role allows in a department. Viewing is implied by any access."""

    REPLY = "reply", "Reply to the requester"
    NOTE = "note", "Add internal notes"
    ASSIGN = "assign", "Assign and release"
    TRANSFER = "transfer", "Transfer to another department"
    EDIT = "edit", "Edit (priority, SLA plan, help topic, due time, collaborators)"
    STATUS = "status", "Change status"
    CLOSE = "close", "Resolve and close"
    MERGE = "merge", "Merge tickets"
    DELETE = "delete", "Delete tickets"


class HelplineUserManager(UserManager):
    def for_sign_in(self, identifier: str) -> "User | None":
        """The one account a sign-in name means: the exact username, else the only account with
        that email address (any case); None when unknown or ambiguous.

        Signing in with the email address works as well as with the username. An ambiguous name
        (two accounts share the address) never picks one at random: the sign-in fails.
        """
        identifier = (identifier or "").strip()
        if not identifier:
            return None
        user = self.filter(username=identifier).first()
        if user is not None:
            return user
        matches = list(self.filter(email__iexact=identifier)[:2])
        return matches[0] if len(matches) == 1 else None

    def get_by_natural_key(self, username):
        user = self.for_sign_in(username)
        if user is None:
            # ModelBackend treats this like a wrong password (and still runs the hasher).
            raise self.model.DoesNotExist(f"No single account answers to {username!r}.")
        return user

    def throttle_key(self, identifier: str) -> str:
        """What sign-in failures are counted against: the account the name resolves to (any
        spelling: username or email, any case, surrounding spaces), else the name lower-cased."""
        identifier = (identifier or "").strip()
        user = self.for_sign_in(identifier)
        if user is None and identifier:
            matches = list(self.filter(username__iexact=identifier)[:2])
            user = matches[0] if len(matches) == 1 else None
        return user.username if user is not None else identifier.lower()

    def name_taken(self, name: str, exclude_pk: int | None = None) -> bool:
        """Whether another account answers to `name`: its username or email, in any case."""
        others = self.exclude(pk=exclude_pk) if exclude_pk else self.all()
        return others.filter(
            models.Q(username__iexact=name) | models.Q(email__iexact=name)
        ).exists()


class User(AbstractUser):
    """Anyone who signs in or writes in: requesters, agents and administrators."""

    name = models.CharField(max_length=150, blank=True, help_text="Full name shown on tickets.")
    phone = models.CharField(max_length=40, blank=True)
    # Mixed into the session hash: a new value signs out every session ("Sign out everywhere").
    # Empty until first used, so existing sessions survive the migration that adds it.
    session_epoch = models.CharField(max_length=32, blank=True, editable=False)

    objects = HelplineUserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="user_email_unique_ci",
                violation_error_message="A user with this email address already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.display_name

    def clean(self) -> None:
        """A username never collides with another account's username or email (in any case), so
        a sign-in name always means one account."""
        super().clean()
        errors = {}
        others = User.objects.exclude(pk=self.pk) if self.pk else User.objects.all()
        if self.username:
            if others.filter(username__iexact=self.username).exists():
                errors["username"] = "Another account has this username (in other capitals)."
            elif others.filter(email__iexact=self.username).exists():
                errors["username"] = "This is another account's email address: choose another."
            elif "@" in self.username and self.username.lower() != (self.email or "").lower():
                # Such a name could be someone's address one day: sign-in would be ambiguous.
                errors["username"] = (
                    "A username that is an email address must be this account's own email "
                    "address. Choose one without “@”, or set the email address to match."
                )
        if self.email and others.filter(username__iexact=self.email).exists():
            errors["email"] = "Another account has this address as its username."
        if errors:
            raise ValidationError(errors)

    @property
    def display_name(self) -> str:
        return self.name or self.get_full_name() or self.username

    def _get_session_auth_hash(self, secret=None) -> str:
        # Django checks every request's session against this hash (and the SECRET_KEY_FALLBACKS
        # variants, which call this too): changing the password or the epoch ends the sessions.
        if not self.session_epoch:
            return super()._get_session_auth_hash(secret=secret)
        return salted_hmac(
            "helpline.accounts.User.get_session_auth_hash",
            f"{self.password}:{self.session_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def end_all_sessions(self) -> None:
        """Sign this user out of every browser; keep the current one with
        `update_session_auth_hash(request, user)` afterwards."""
        self.session_epoch = secrets.token_hex(16)
        self.save(update_fields=["session_epoch"])

    @property
    def is_agent(self) -> bool:
        """Agents have an active agent profile; administrators are always agents."""
        if self.is_superuser:
            return True
        profile = getattr(self, "agent", None)
        return profile is not None and profile.is_active


class Role(models.Model):
    """A named set of permissions that an agent holds in one department."""

    name = models.CharField(max_length=80, unique=True)
    can_reply = models.BooleanField("reply", default=False)
    can_note = models.BooleanField("internal note", default=False)
    can_assign = models.BooleanField("assign", default=False)
    can_transfer = models.BooleanField("transfer", default=False)
    can_edit = models.BooleanField("edit", default=False)
    can_status = models.BooleanField("change status", default=False)
    can_close = models.BooleanField("close", default=False)
    can_merge = models.BooleanField("merge", default=False)
    can_delete = models.BooleanField("delete", default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def allows(self, permission: Permission | str) -> bool:
        return bool(getattr(self, f"can_{Permission(permission).value}"))

    @property
    def permissions(self) -> list[str]:
        return [p.value for p in Permission if self.allows(p)]

    @property
    def is_view_only(self) -> bool:
        return not self.permissions


class Department(models.Model):
    name = models.CharField(max_length=120, unique=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    default_sla = models.ForeignKey(
        "sla.SLAPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.EmailField(
        "outgoing address", blank=True, help_text="Replies from this department are sent from here."
    )
    restricted = models.BooleanField(
        default=False, help_text="Only members of the department see its tickets."
    )
    signature = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    members = models.ManyToManyField("Agent", blank=True, related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


TIMEZONE_CHOICES = [(tz, tz) for tz in sorted(available_timezones())]


class Agent(models.Model):
    """The staff profile of a user: a primary department with a role, plus extra accesses."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        related_name="primary_agents",
        verbose_name="primary department",
    )
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="+")
    timezone = models.CharField(max_length=64, blank=True, choices=TIMEZONE_CHOICES)
    signature = models.TextField(blank=True)
    on_vacation = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return self.user.display_name

    def department_roles(self) -> dict[int, Role]:
        """Department id → role, the primary department first; cached on the instance."""
        cached = getattr(self, "_department_roles", None)
        if cached is None:
            cached = {self.department_id: self.role}
            for access in self.accesses.select_related("role"):
                cached.setdefault(access.department_id, access.role)
            self._department_roles = cached
        return cached

    def team_ids(self) -> set[int]:
        cached = getattr(self, "_team_ids", None)
        if cached is None:
            cached = set(self.teams.values_list("id", flat=True))
            self._team_ids = cached
        return cached


class DepartmentAccess(models.Model):
    """An extra department an agent may work in, with the role they have there."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="accesses")
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="accesses")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = "extra department access"
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "department"], name="one_access_per_department"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agent} in {self.department} as {self.role}"
