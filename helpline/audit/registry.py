"""THE list of audited models: configuration changes are recorded, operational data is not.

To audit a new configuration model, add an `Audited(...)` line to AUDITED. A model registered in
the admin panel by one of Helpline's apps must appear either in AUDITED or in NOT_AUDITED (with
the reason); the system check audit.W001 and tests/audit/test_registry.py say which one is
missing, so a new admin page cannot be forgotten.
"""

from collections.abc import Callable
from dataclasses import dataclass

from helpline.audit import context


def _privileged_or_deliberate(user, actor: context.Actor) -> bool:
    """Record a new user when an administrator or a command made it, or it is privileged.

    Requesters are created by the thousand from mail, the portal and the API while tickets come
    in; those are operational data, and writing an entry for each would slow ticket intake.
    """
    return actor.channel in (context.ADMIN, context.CLI) or user.is_staff or user.is_superuser


def _confirmed(device) -> bool:
    return bool(device.confirmed)


@dataclass(frozen=True)
class Audited:
    """How one model is audited.

    only:     the fields recorded (default: every field but `exclude` and the bookkeeping ones).
    exclude:  fields the application itself keeps up to date (last use, fetch status…).
    secrets:  fields recorded as "(changed)", never with their value or hash.
    reverse_m2m: relations edited from this side although declared on the other model
              (an agent's teams are Team.members).
    record_creation: when set, a new row is recorded only if this returns True.
    only_when: when set, a row is recorded (created, changed, deleted) only while this holds
              for it: an authenticator being set up is no change until it is confirmed.
    """

    model: str
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    reverse_m2m: tuple[str, ...] = ()
    record_creation: Callable | None = None
    only_when: Callable | None = None


# Written by the application on every save, never by a person: noise in a diff.
BOOKKEEPING = frozenset({"created_at", "updated_at", "last_used_at"})

AUDITED: tuple[Audited, ...] = (
    # People and organisation.
    Audited(
        "accounts.User",
        only=(
            "username",
            "name",
            "email",
            "is_active",
            "is_staff",
            "is_superuser",
            "password",
            "groups",
            "user_permissions",
        ),
        secrets=("password",),
        record_creation=_privileged_or_deliberate,
    ),
    Audited("accounts.Role"),
    Audited("accounts.Department"),
    Audited("accounts.Team"),
    Audited("accounts.Agent", reverse_m2m=("teams",)),
    Audited("accounts.DepartmentAccess"),
    Audited("auth.Group"),
    # Two-factor: an authenticator once confirmed (its key hidden) and the recovery-code device
    # (the codes themselves are StaticTokens: never recorded).
    Audited(
        "otp_totp.TOTPDevice",
        only=("user", "name", "confirmed", "key"),
        secrets=("key",),
        only_when=_confirmed,
    ),
    Audited("otp_static.StaticDevice", only=("user", "name", "confirmed"), only_when=_confirmed),
    # SLA.
    Audited("sla.Schedule"),
    Audited("sla.ScheduleShift"),
    Audited("sla.Holiday"),
    Audited("sla.SLAPlan"),
    # Tickets' configuration.
    Audited("tickets.Priority"),
    Audited("tickets.Status"),
    Audited("tickets.HelpTopic"),
    Audited("tickets.HelpTopicField"),
    Audited("tickets.HelpdeskConfig"),
    # Mail.
    Audited("mail.Mailbox", exclude=("last_fetched_at", "last_error"), secrets=("password",)),
    Audited("mail.BannedAddress"),
    Audited("mail.EmailTemplate"),
    # API.
    Audited("api.ApiKey", secrets=("key_hash",)),
    Audited(
        "api.Webhook",
        exclude=("failure_streak", "disabled_at", "disabled_reason"),
        secrets=("secret",),
    ),
    # Automation and knowledge.
    Audited("automation.Rule"),
    Audited("automation.RuleCondition"),
    Audited("automation.RuleAction"),
    Audited("automation.AssignmentPolicy", exclude=("last_assigned",)),
    Audited("automation.AutomationSettings"),
    Audited("automation.CannedResponse"),
    Audited("automation.CannedAttachment"),
    Audited("automation.KBCategory"),
    Audited("automation.KBArticle", exclude=("body_html",)),
    # Reports.
    Audited("reports.SatisfactionSettings"),
)

# Relations `str()` of a row reads: joined when related rows are named in a change.
LABEL_JOINS: dict[str, tuple[str, ...]] = {
    "accounts.Agent": ("user",),
    "accounts.DepartmentAccess": ("agent__user", "department", "role"),
    "auth.Permission": ("content_type",),
}

# Shown in the admin panel but not configuration: each has its own history or is a log itself.
NOT_AUDITED: dict[str, str] = {
    "tickets.Ticket": "changed only by tickets/actions.py, which records an Event per change",
    "tickets.Event": "the tickets' own history",
    "tickets.Notification": "the mail outbox",
    "api.WebhookDelivery": "the webhook delivery log",
    "automation.JobRun": "the scheduler's run log",
    "mail.FailedMail": "incoming mail that could not be taken in",
    "mail.ReceivedMail": "the incoming mail log",
    "health.Worker": "the task workers' heartbeats (read-only in the admin)",
    "health.TaskRecovery": "the log of tasks put back in the queue (read-only in the admin)",
    "mail.HeldMail": "incoming mail waiting for review (decisions are recorded on the row)",
    "reports.CsatSurvey": "requesters' survey answers",
    "reports.TicketMetrics": "computed from tickets",
    "audit.AuditEntry": "the audit log itself",
}


def audited_labels() -> set[str]:
    """Lower-cased "app_label.modelname" of every audited model."""
    return {spec.model.lower() for spec in AUDITED}
