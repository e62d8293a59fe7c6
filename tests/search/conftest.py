"""A small help desk with words to find, shared by the search tests."""

import pytest

from helpline.tickets import actions


def open_for(requester, subject, body="Details.", **kwargs):
    """A ticket opened by the requester on the portal (General Inquiry unless given)."""
    return actions.open_ticket(requester, requester=requester, subject=subject, body=body, **kwargs)


@pytest.fixture
def library(org, karen, ken, greg, john, jane):
    """Tickets with known words, across departments John can and cannot see."""
    general = org.topic("General Inquiry")
    t = {
        "printer": open_for(
            karen, "Printer jammed", "The printers on the third floor crumple every page.",
            help_topic=general,
        ),
        "screen": open_for(
            ken, "Laptop problem", "I get a blue screen after the update.", help_topic=general
        ),
        "reverse": open_for(
            greg, "Monitor", "The screen is blue and flickers.", help_topic=general
        ),
        "vpn": open_for(karen, "VPN drops", "The VPN printer tunnel drops hourly.",
                        help_topic=general),
        "banking": open_for(
            karen, "Card payments fail", "Printer receipts fail too.",
            help_topic=org.topic("Business Critical Outage"),
        ),
        "sysadmins": open_for(
            greg, "Core switch down", "The printer VLAN is down.",
            help_topic=org.topic("Sev-A Emergency"),
        ),
    }  # fmt: skip
    actions.assign(john, t["vpn"], agent=john)
    actions.add_note(john, t["screen"], "Internal: suspect the zebracorn driver.")
    return t
