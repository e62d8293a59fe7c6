"""Auto-assignment policies: per department or per help topic, with the round-robin cursor."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class AssignmentMethod(models.TextChoices):
    NONE = "none", "None (leave unassigned)"
    ROUND_ROBIN = "round_robin", "Round robin"
    FEWEST_OPEN = "fewest_open", "Fewest open tickets"


class AssignmentPolicy(models.Model):
    """How new tickets of a department (or of a help topic, which wins) get an agent.

    Candidates: active agents with a role that can reply in the ticket's department, not on
    vacation, and members of `team` when one is set. The round-robin position is this row's
    `last_assigned`, advanced under a row lock so several web and mail processes take turns.
    """

    department = models.OneToOneField(
        "accounts.Department",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="assignment_policy",
    )
    help_topic = models.OneToOneField(
        "tickets.HelpTopic",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="assignment_policy",
    )
    method = models.CharField(
        max_length=12, choices=AssignmentMethod.choices, default=AssignmentMethod.ROUND_ROBIN
    )
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Only agents of this team (empty: every agent of the department).",
    )
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = "auto-assignment policy"
        verbose_name_plural = "auto-assignment policies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(department__isnull=True) ^ models.Q(help_topic__isnull=True),
                name="assignment_policy_one_scope",
                violation_error_message="Choose a department or a help topic (one of the two).",
            )
        ]

    def __str__(self) -> str:
        scope = f"help topic {self.help_topic}" if self.help_topic_id else str(self.department)
        return f"{self.get_method_display()} for {scope}"

    def clean(self):
        if (self.department_id is None) == (self.help_topic_id is None):
            raise ValidationError("Choose a department or a help topic (one of the two).")
