"""Routing rules at intake: which rules match a request, why, and what they change.

`evaluate(intake)` is the one matching code: the intake filter registered in apps.py runs it for
real on every channel (inside `actions.open_ticket`), and the dry-run page runs it with
`dry_run=True`, which changes the same Intake object but creates nothing (no requester accounts
for collaborators, no canned reply, a rejection reported instead of raised).

Conditions look at the request as it arrived (before any rule changed it), so the order of rules
decides only which actions win, never whether a later rule matches. Text comparisons ignore case.
"""

import logging
from dataclasses import dataclass, field

from django.db.models import Prefetch

from helpline.accounts.models import User
from helpline.automation import safe_regex
from helpline.automation.models import (
    ActionKind,
    ConditionField,
    MatchMode,
    Operator,
    Rule,
    RuleAction,
    RuleCondition,
)
from helpline.tickets import access, hooks

log = logging.getLogger(__name__)
WHY_MAX = 360  # Event.reason holds 500 characters, and the rule's name goes first


class RuleRejection(hooks.TicketRejected, access.AccessDenied):
    """A rule refused the request. Being an AccessDenied too, every channel already handles it
    without a server error: the API answers 403 with the reason, a form shows "not allowed",
    mail intake keeps the message as failed mail with the reason."""


@dataclass
class ConditionResult:
    condition: RuleCondition
    matched: bool
    actual: str

    @property
    def why(self) -> str:
        shown = self.actual if len(self.actual) <= 60 else self.actual[:57] + "…"
        return f"{self.condition} (was “{shown}”)"


@dataclass
class RuleResult:
    rule: Rule
    matched: bool
    conditions: list[ConditionResult] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    rejected: str = ""

    @property
    def why(self) -> str:
        """The conditions that made the rule match, as recorded on the ticket's event."""
        if not self.rule_conditions:
            return "The rule has no conditions, so it never matches."
        hits = [c.why for c in self.conditions if c.matched]
        if not self.matched:
            return "No match: " + "; ".join(c.why for c in self.conditions if not c.matched)
        joiner = " and " if self.rule.match == MatchMode.ALL else "; "
        return "Matched: " + joiner.join(hits)

    @property
    def rule_conditions(self) -> list[RuleCondition]:
        return list(self.rule.conditions.all())

    @property
    def summary(self) -> str:
        text = self.why
        if self.actions:
            text += ". Then: " + "; ".join(self.actions)
        return text if len(text) <= WHY_MAX else text[: WHY_MAX - 1] + "…"


def active_rules() -> list[Rule]:
    """Active rules in order, with conditions and actions (three queries)."""
    actions = RuleAction.objects.select_related(
        "department", "help_topic", "priority", "sla_plan", "status", "agent", "team",
        "canned_response",
    )  # fmt: skip
    return list(
        Rule.objects.filter(active=True)
        .order_by("order", "id")
        .prefetch_related("conditions", Prefetch("actions", queryset=actions))
    )


# ---------------------------------------------------------------------------------------------
# Conditions


def snapshot(intake: hooks.Intake) -> dict[str, object]:
    """What conditions look at: the request as it arrived, as text."""
    sender = (getattr(intake.requester, "email", "") or "").strip().lower()
    priority = intake.priority or (intake.help_topic.priority if intake.help_topic else None)
    return {
        ConditionField.SENDER_EMAIL: sender,
        ConditionField.SENDER_DOMAIN: sender.rpartition("@")[2],
        ConditionField.RECIPIENT: (intake.recipient or "").strip().lower(),
        ConditionField.SUBJECT: intake.subject or "",
        ConditionField.BODY: intake.body or "",
        ConditionField.HELP_TOPIC: intake.help_topic.name if intake.help_topic else "",
        ConditionField.SOURCE: intake.source or "",
        ConditionField.PRIORITY: priority.name if priority else "",
        "headers": {k.strip().lower(): str(v) for k, v in (intake.headers or {}).items()},
    }


def _actual(condition: RuleCondition, sample: dict) -> str:
    if condition.field == ConditionField.HEADER:
        return sample["headers"].get(condition.header.strip().lower(), "")
    return str(sample.get(condition.field, ""))


def compare(operator: str, actual: str, value: str, field_name: str = "") -> bool:
    """One condition's test: case-insensitive; regex through the bounded safe_regex.search."""
    if operator == Operator.REGEX:
        return safe_regex.search(value, actual) is not None
    have = (actual or "").strip().casefold()
    want = (value or "").strip().casefold()
    if field_name == ConditionField.SENDER_DOMAIN:
        want = want.lstrip("@")  # "@bank.example" and "bank.example" mean the same
    if operator == Operator.EQUALS:
        return have == want
    if operator == Operator.NOT_EQUALS:
        return have != want
    if operator == Operator.CONTAINS:
        return want in have
    if operator == Operator.NOT_CONTAINS:
        return want not in have
    if operator == Operator.STARTS_WITH:
        return have.startswith(want)
    if operator == Operator.ENDS_WITH:
        return have.endswith(want)
    return False


def match(rule: Rule, sample: dict) -> RuleResult:
    """Whether `rule` matches the sample, condition by condition."""
    results = []
    for condition in rule.conditions.all():
        actual = _actual(condition, sample)
        hit = compare(condition.operator, actual, condition.value, condition.field)
        results.append(ConditionResult(condition, hit, actual))
    if not results:
        matched = False
    elif rule.match == MatchMode.ANY:
        matched = any(r.matched for r in results)
    else:
        matched = all(r.matched for r in results)
    return RuleResult(rule, matched, results)


# ---------------------------------------------------------------------------------------------
# Actions


def _canned_reply(action: RuleAction):
    """The after-open callback that answers the new ticket with the canned response."""

    def send(ticket) -> None:
        from helpline.accounts.models import Permission
        from helpline.automation.canned import render_for
        from helpline.tickets import actions

        sender = action.agent or ticket.department.manager
        if sender is None or not access.can(sender, Permission.REPLY, ticket):
            log.warning(
                "Rule %s: no canned reply on #%s: %s may not reply in %s",
                action.rule.name,
                ticket.number,
                sender or "nobody (no sender and no department manager)",
                ticket.department,
            )
            return
        response = action.canned_response
        files = []
        for a in response.attachments.all():
            with a.file.open("rb") as handle:
                files.append(actions.NewAttachment(a.filename, handle.read(), a.content_type))
        actions.reply(sender, ticket, render_for(response, ticket, sender), attachments=files)

    return send


def _collaborator(intake: hooks.Intake, email: str, dry_run: bool) -> str:
    from helpline.accounts.people import find_by_email, get_or_create_requester

    if dry_run:
        user = find_by_email(email)
        if all(getattr(u, "email", "").lower() != email.lower() for u in intake.collaborators):
            intake.collaborators.append(user or User(email=email))
        return f"copy in {email}" + ("" if user else " (a new requester account)")
    user, _ = get_or_create_requester(email)
    if user.pk != getattr(intake.requester, "pk", None) and user not in intake.collaborators:
        intake.collaborators.append(user)
    return f"copy in {email}"


def apply_action(action: RuleAction, intake: hooks.Intake, result: RuleResult, dry_run: bool):
    """Change the intake as `action` says; return a description for the event and dry run."""
    kind = action.kind
    name = result.rule.name
    if kind == ActionKind.REJECT:
        result.rejected = action.reason or "Refused by a routing rule"
        if dry_run:
            return f"reject: {result.rejected}"
        log.info(
            "Request from %s rejected by rule %s", getattr(intake.requester, "email", ""), name
        )
        raise RuleRejection(result.rejected, rule=name)
    setters = {
        ActionKind.SET_DEPARTMENT: ("department", "department"),
        ActionKind.SET_HELP_TOPIC: ("help_topic", "help topic"),
        ActionKind.SET_PRIORITY: ("priority", "priority"),
        ActionKind.SET_SLA_PLAN: ("sla_plan", "SLA plan"),
        ActionKind.SET_STATUS: ("status", "status"),
        ActionKind.ASSIGN_TEAM: ("team", "team"),
    }
    if kind in setters:
        attr, label = setters[kind]
        value = getattr(action, attr)
        setattr(intake, attr, value)
        if kind == ActionKind.ASSIGN_TEAM:
            intake.assignment_reason = f"Assigned by the routing rule “{name}”"
            return f"assign to the team {value}"
        return f"{label} {value}"
    if kind == ActionKind.ASSIGN_AGENT:
        intake.assignee = action.agent
        intake.assignment_reason = f"Assigned by the routing rule “{name}”"
        return f"assign to {action.agent}"
    if kind == ActionKind.ADD_COLLABORATOR:
        return _collaborator(intake, action.collaborator_email, dry_run)
    if kind == ActionKind.SKIP_AUTORESPONSE:
        intake.autorespond = False
        return "no acknowledgement"
    if kind == ActionKind.SEND_CANNED_REPLY:
        # The canned reply takes the acknowledgement's place: one automatic mail, not two.
        intake.autorespond = False
        if not dry_run:
            intake.after_open.append(_canned_reply(action))
        sender = action.agent or "the department manager"
        return f"reply with “{action.canned_response}” as {sender}"
    return f"unknown action {kind}"


def evaluate(
    intake: hooks.Intake, rules: list[Rule] | None = None, *, dry_run: bool = False
) -> list[RuleResult]:
    """Run the rules in order on `intake`, changing it; one result per rule looked at.

    Stops after a rule that matches with "stop processing", and at a rejection (raised as
    RuleRejection unless `dry_run`).
    """
    rules = active_rules() if rules is None else rules
    sample = snapshot(intake)
    results = []
    for rule in rules:
        result = match(rule, sample)
        results.append(result)
        if not result.matched:
            continue
        for action in rule.actions.all():
            result.actions.append(apply_action(action, intake, result, dry_run))
            if result.rejected:
                return results
        if rule.stop_processing:
            result.actions.append("stop processing further rules")
            break
    return results


def apply_rules(intake: hooks.Intake) -> None:
    """The intake filter: run the rules for real and record each one that fired."""
    for result in evaluate(intake):
        if result.matched:
            name = result.rule.name
            intake.applied.append((name, f"Rule “{name}” — {result.summary}"))
