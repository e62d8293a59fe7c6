"""Fixtures for automation tests: rules built in one call, tickets opened through the actions."""

import pytest
from django.core.cache import cache

from helpline.automation.models import Rule, RuleAction, RuleCondition
from helpline.tickets import actions


@pytest.fixture(autouse=True)
def _fresh_rate_limits(db):
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_rule(db):
    """make_rule("name", conditions=[(field, operator, value[, header])],
    actions=[(kind, {field: value})], **rule_fields) → a saved, validated Rule."""

    def make(name, conditions=(), actions=(), **fields):
        rule = Rule.objects.create(name=name, **fields)
        for spec in conditions:
            field, operator, value, *header = spec
            condition = RuleCondition(
                rule=rule, field=field, operator=operator, value=value, header=(header or [""])[0]
            )
            condition.full_clean()
            condition.save()
        for kind, values in actions:
            action = RuleAction(rule=rule, kind=kind, **values)
            action.full_clean()
            action.save()
        return rule

    return make


@pytest.fixture
def outage_rule(make_rule, org):
    """The issue's example: "outage" emails from the bank's domain → Online Banking at Sev-A."""
    return make_rule(
        "Bank outages",
        conditions=[
            ("sender_domain", "equals", "bank.example"),
            ("subject", "contains", "outage"),
        ],
        actions=[
            ("set_department", {"department": org.dept("Online Banking")}),
            ("set_sla_plan", {"sla_plan": org.sla("Sev-A")}),
        ],
    )


@pytest.fixture
def open_for(org):
    """open_for(requester_or_email, subject, **kwargs) → a ticket opened by the requester."""
    from helpline.accounts.people import get_or_create_requester

    def make(requester, subject="Printer on fire", body="It smokes.", **kwargs):
        if isinstance(requester, str):
            requester, _ = get_or_create_requester(requester)
        kwargs.setdefault("help_topic", org.topic("General Inquiry"))
        return actions.open_ticket(
            requester, requester=requester, subject=subject, body=body, **kwargs
        )

    return make
