"""Routing rules: ordered conditions on incoming requests and what to do when they match."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from helpline.automation import safe_regex


class MatchMode(models.TextChoices):
    ALL = "all", "All conditions match"
    ANY = "any", "Any condition matches"


class ConditionField(models.TextChoices):
    SENDER_EMAIL = "sender_email", "Sender address"
    SENDER_DOMAIN = "sender_domain", "Sender domain"
    RECIPIENT = "recipient", "Recipient address (mailbox)"
    SUBJECT = "subject", "Subject"
    BODY = "body", "Body"
    HELP_TOPIC = "help_topic", "Help topic (name)"
    SOURCE = "source", "Source / channel (web, email, api, phone, walk-in)"
    PRIORITY = "priority", "Priority (name)"
    HEADER = "header", "Email header"


class Operator(models.TextChoices):
    EQUALS = "equals", "equals"
    NOT_EQUALS = "not_equals", "does not equal"
    CONTAINS = "contains", "contains"
    NOT_CONTAINS = "not_contains", "does not contain"
    STARTS_WITH = "starts_with", "starts with"
    ENDS_WITH = "ends_with", "ends with"
    REGEX = "regex", "matches the regular expression"


class ActionKind(models.TextChoices):
    REJECT = "reject", "Reject the request"
    SET_DEPARTMENT = "set_department", "Set department"
    SET_HELP_TOPIC = "set_help_topic", "Set help topic"
    SET_PRIORITY = "set_priority", "Set priority"
    SET_SLA_PLAN = "set_sla_plan", "Set SLA plan"
    SET_STATUS = "set_status", "Set status"
    ASSIGN_AGENT = "assign_agent", "Assign to an agent"
    ASSIGN_TEAM = "assign_team", "Assign to a team"
    ADD_COLLABORATOR = "add_collaborator", "Add a collaborator (CC)"
    SKIP_AUTORESPONSE = "skip_autoresponse", "Skip the auto-response (acknowledgement)"
    SEND_CANNED_REPLY = "send_canned_reply", "Send a canned reply"


# Which field of RuleAction each kind needs (None: nothing more to fill in).
ACTION_TARGET = {
    ActionKind.REJECT: "reason",
    ActionKind.SET_DEPARTMENT: "department",
    ActionKind.SET_HELP_TOPIC: "help_topic",
    ActionKind.SET_PRIORITY: "priority",
    ActionKind.SET_SLA_PLAN: "sla_plan",
    ActionKind.SET_STATUS: "status",
    ActionKind.ASSIGN_AGENT: "agent",
    ActionKind.ASSIGN_TEAM: "team",
    ActionKind.ADD_COLLABORATOR: "collaborator_email",
    ActionKind.SKIP_AUTORESPONSE: None,
    ActionKind.SEND_CANNED_REPLY: "canned_response",
}


class Rule(models.Model):
    """A routing rule (osTicket's "ticket filter"): applied in order while a ticket is opened,
    on every channel. Every rule that fires is recorded on the ticket with what matched."""

    name = models.CharField(max_length=120, unique=True)
    order = models.PositiveIntegerField(
        default=100, help_text="Rules run from the lowest number up."
    )
    active = models.BooleanField(default=True)
    match = models.CharField(max_length=3, choices=MatchMode.choices, default=MatchMode.ALL)
    stop_processing = models.BooleanField(
        "stop processing further rules",
        default=False,
        help_text="When this rule matches, the rules after it are not looked at.",
    )
    notes = models.TextField(blank=True, help_text="Why the rule exists (for the next admin).")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order", "id"]
        indexes = [models.Index(fields=["active", "order"], name="rule_active_order")]

    def __str__(self) -> str:
        return self.name


class RuleCondition(models.Model):
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="conditions")
    field = models.CharField(max_length=20, choices=ConditionField.choices)
    header = models.CharField(
        "header name",
        max_length=100,
        blank=True,
        help_text="For “Email header”: e.g. X-Priority or List-Id.",
    )
    operator = models.CharField(max_length=15, choices=Operator.choices)
    value = models.CharField(
        max_length=500, help_text="Compared without regard to upper and lower case."
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.field_label} {self.get_operator_display()} “{self.value}”"

    @property
    def field_label(self) -> str:
        if self.field == ConditionField.HEADER:
            return f"header {self.header}"
        return self.get_field_display().split(" (")[0].lower()

    def clean(self):
        self.header = (self.header or "").strip()
        if self.field == ConditionField.HEADER and not self.header:
            raise ValidationError({"header": "Name the email header to look at."})
        if self.field != ConditionField.HEADER:
            self.header = ""
        if self.operator == Operator.REGEX:
            try:
                safe_regex.validate_pattern(self.value)
            except ValidationError as exc:
                raise ValidationError({"value": exc.messages})
        elif not (self.value or "").strip() and self.operator not in (
            Operator.EQUALS,
            Operator.NOT_EQUALS,
        ):
            raise ValidationError({"value": "Enter the text to look for."})


class RuleAction(models.Model):
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=20, choices=ActionKind.choices)
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    help_topic = models.ForeignKey(
        "tickets.HelpTopic", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    priority = models.ForeignKey(
        "tickets.Priority", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    sla_plan = models.ForeignKey(
        "sla.SLAPlan",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name="SLA plan",
    )
    status = models.ForeignKey(
        "tickets.Status", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="For “Assign to an agent”; for “Send a canned reply”, who the reply is from "
        "(empty: the department's manager).",
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    collaborator_email = models.EmailField(blank=True)
    canned_response = models.ForeignKey(
        "automation.CannedResponse",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    reason = models.CharField(
        max_length=255, blank=True, help_text="For “Reject”: logged, and told to API clients."
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        target = ACTION_TARGET.get(self.kind)
        label = self.get_kind_display()
        if target is None:
            return label
        value = getattr(self, target, "")
        return f"{label}: {value}" if value else label

    def clean(self):
        target = ACTION_TARGET.get(self.kind)
        if target == "reason":
            self.reason = (self.reason or "").strip() or "Refused by a routing rule"
        elif target == "collaborator_email":
            if not (self.collaborator_email or "").strip():
                raise ValidationError({target: "Enter the address to copy in."})
        elif target is not None and getattr(self, f"{target}_id") is None:
            field = self._meta.get_field(target)
            raise ValidationError({target: f"Choose the {field.verbose_name}."})
        if self.kind == ActionKind.SET_STATUS and self.status_id:
            from helpline.tickets.models import State

            if self.status.state not in (State.OPEN, State.PENDING):
                raise ValidationError(
                    {"status": "A new ticket can only start in an open or pending status."}
                )
        needs_agent = self.kind in (ActionKind.ASSIGN_AGENT, ActionKind.SEND_CANNED_REPLY)
        if needs_agent and self.agent_id and not self.agent.is_agent:
            raise ValidationError({"agent": f"{self.agent} is not an agent."})
