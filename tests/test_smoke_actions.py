from datetime import timedelta

import pytest
from django.core import mail

from helpline.tickets import access, actions
from helpline.tickets.models import EventKind, State


@pytest.mark.django_db(transaction=True)
def test_outage_routed_to_the_right_team(org, karen, john, jane):
    ticket = actions.open_ticket(
        karen,
        requester=karen,
        subject="Mobile/online banking system down",
        body="Nothing loads.",
        help_topic=org.topic("General Inquiry"),
    )
    assert ticket.number and ticket.department == org.dept("Support")
    assert any(ticket.number in m.subject for m in mail.outbox if karen.email in m.to)
    assert access.visible_tickets(john).filter(pk=ticket.pk).exists()
    assert not access.visible_tickets(jane).filter(pk=ticket.pk).exists()

    # The department changes last: after it, John no longer works the ticket.
    actions.set_sla_plan(john, ticket, org.sla("Sev-A"))
    assert ticket.due_at == ticket.created_at + timedelta(hours=1)
    actions.set_help_topic(john, ticket, org.topic("Business Critical Outage"))
    actions.assign(john, ticket, team=org.team("Online Banking Team"))
    actions.transfer(john, ticket, org.dept("Online Banking"))
    assert not access.visible_tickets(john).filter(pk=ticket.pk).exists()
    kinds = list(ticket.events.values_list("kind", flat=True))
    for kind in (EventKind.TRANSFERRED, EventKind.ASSIGNED, EventKind.SLA, EventKind.HELP_TOPIC):
        assert kind in kinds

    assert access.visible_tickets(jane).filter(pk=ticket.pk).exists()
    mail.outbox.clear()
    actions.reply(jane, ticket, "We are on it.")
    assert any(karen.email in m.to for m in mail.outbox)
    assert ticket.first_responded_at is not None
    actions.reply(jane, ticket, "Root cause: expired certificate.", status=org.status("Resolved"))
    assert ticket.state == State.RESOLVED and ticket.resolved_at
