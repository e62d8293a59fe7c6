"""The audit log: one row per change to the help desk's configuration, written by capture.py."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from helpline.audit import context


class Channel(models.TextChoices):
    ADMIN = context.ADMIN, "Admin panel"
    WEB = context.WEB, "Web (agent panel or portal)"
    API = context.API, "API"
    CLI = context.CLI, "Command line"
    SYSTEM = context.SYSTEM, "System (automatic)"


class Action(models.TextChoices):
    CREATED = "created", "Created"
    CHANGED = "changed", "Changed"
    DELETED = "deleted", "Deleted"
    M2M = "m2m", "Memberships changed"
    SIGNED_IN = "signed_in", "Signed in (administrator)"


# How a secret's change is written down: never the value, never its hash.
SECRET_CHANGED = "(changed)"


class AuditEntry(models.Model):
    """Who changed which piece of configuration, when, from where, and what the change was.

    `changes` maps a field to [before, after] (labels, not raw ids; secrets as "(changed)").
    The actor's name is copied into `actor_label` so that the entry outlives the account.
    """

    created_at = models.DateTimeField("when", default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        # Indexed together with created_at below; a second index on actor alone adds nothing.
        db_index=False,
    )
    actor_label = models.CharField("actor", max_length=150)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.SYSTEM)
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    content_type = models.ForeignKey(
        ContentType,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="object type",
        db_index=False,
    )
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField("object", max_length=200)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="audit_created"),
            models.Index(fields=["content_type", "object_id", "-created_at"], name="audit_object"),
            models.Index(fields=["actor", "-created_at"], name="audit_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.get_action_display().lower()} {self.object_repr}"

    @property
    def object_type_label(self) -> str:
        model = self.content_type.model_class()
        if model is None:
            return f"{self.content_type.app_label}.{self.content_type.model}"
        return str(model._meta.verbose_name)
