"""Automation and knowledge models: routing rules, auto-assignment, the scheduler's claims,
canned responses and the knowledge base. One module per subject; all exported here."""

from helpline.automation.models.assignment import AssignmentMethod, AssignmentPolicy
from helpline.automation.models.canned import CannedAttachment, CannedResponse
from helpline.automation.models.knowledge import KBArticle, KBCategory, Visibility
from helpline.automation.models.rules import (
    ActionKind,
    ConditionField,
    MatchMode,
    Operator,
    Rule,
    RuleAction,
    RuleCondition,
)
from helpline.automation.models.schedule import AutomationSettings, DueReminder, JobRun

__all__ = [
    "ActionKind",
    "AssignmentMethod",
    "AssignmentPolicy",
    "AutomationSettings",
    "CannedAttachment",
    "CannedResponse",
    "ConditionField",
    "DueReminder",
    "JobRun",
    "KBArticle",
    "KBCategory",
    "MatchMode",
    "Operator",
    "Rule",
    "RuleAction",
    "RuleCondition",
    "Visibility",
]
