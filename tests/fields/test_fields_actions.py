"""The action layer: open_ticket stores field values, set_fields changes them with one event."""

import pytest
from django.core.exceptions import ValidationError

from helpline.tickets import access, actions
from helpline.tickets.fields import shown
from helpline.tickets.models import Event, EventKind, Source, Ticket

pytestmark = pytest.mark.django_db


def _open(actor, requester, topic, fields, **kwargs):
    return actions.open_ticket(
        actor,
        requester=requester,
        subject="New laptop needed",
        body="The old one is dead.",
        help_topic=topic,
        fields=fields,
        **kwargs,
    )


def field_events(ticket) -> list[Event]:
    return list(ticket.events.filter(kind=EventKind.FIELDS).order_by("id"))


# ---------------------------------------------------------------------------------------------
# Opening


def test_a_requester_opens_a_ticket_with_values(hardware, karen):
    ticket = _open(karen, karen, hardware, {"asset_tag": " HL-0042 ", "device": "Laptop"})
    ticket.refresh_from_db()
    assert ticket.custom_fields == {"asset_tag": "HL-0042", "device": "Laptop"}
    # The values come with the ticket: no separate "fields" event.
    assert field_events(ticket) == []


def test_an_agent_opening_on_behalf_may_set_agents_only_fields(hardware, john, karen):
    ticket = _open(john, karen, hardware, {"device": "Phone", "approved": True})
    ticket.refresh_from_db()
    assert ticket.custom_fields == {"device": "Phone", "approved": True}


def test_a_requester_cannot_set_an_agents_only_field_and_nothing_is_created(hardware, karen):
    before = Ticket.objects.count()
    with pytest.raises(ValidationError) as exc:
        _open(karen, karen, hardware, {"device": "Phone", "approved": True})
    assert list(exc.value.message_dict) == ["fields.approved"]
    assert Ticket.objects.count() == before


def test_help_desk_automation_counts_as_the_requester_side(hardware, karen):
    with pytest.raises(ValidationError) as exc:
        _open(None, karen, hardware, {"approved": True})
    assert "fields.approved" in exc.value.message_dict


def test_empty_values_are_not_stored(lab, karen):
    ticket = _open(karen, karen, lab, {"serial": "SN-1", "notes": "", "quantity": None})
    ticket.refresh_from_db()
    assert ticket.custom_fields == {"serial": "SN-1"}


def test_every_kind_is_stored_json_native_and_reads_back_the_same(lab, john, karen):
    values = {
        "serial": "SN-1",
        "notes": "Two\nlines",
        "quantity": "3.50",
        "colour": "Blue",
        "urgent": True,
        "needed_by": "2026-04-01",
        "contact": "lab@example.com",
        "budget_code": "BC-9",
    }
    ticket = _open(john, karen, lab, values)
    stored = Ticket.objects.get(pk=ticket.pk).custom_fields
    assert stored == {**values, "quantity": "3.5"}
    assert Ticket.objects.filter(custom_fields__colour="Blue").get() == ticket


def test_a_missing_required_field_refuses_the_ticket(lab, karen, john):
    tickets, events = Ticket.objects.count(), Event.objects.count()
    for actor in (karen, john):
        with pytest.raises(ValidationError) as exc:
            _open(actor, karen, lab, {"notes": "No serial given."})
        assert exc.value.message_dict == {"fields.serial": ["Fill in “Serial number”."]}
    assert Ticket.objects.count() == tickets and Event.objects.count() == events


def test_invalid_values_refuse_the_ticket_before_anything_is_written(hardware, karen):
    tickets = Ticket.objects.count()
    with pytest.raises(ValidationError) as exc:
        _open(karen, karen, hardware, {"device": "Tablet", "colour": "Red"})
    assert set(exc.value.message_dict) == {"fields.device", "fields.colour"}
    assert Ticket.objects.count() == tickets


def test_a_channel_without_fields_skips_required_ones(lab, karen):
    """Email cannot ask for fields: fields=None opens the ticket with none."""
    ticket = _open(karen, karen, lab, None, source=Source.EMAIL)
    ticket.refresh_from_db()
    assert ticket.custom_fields == {}
    # An empty dict, though, is a form that asked and got nothing: required ones are missing.
    with pytest.raises(ValidationError):
        _open(karen, karen, lab, {})


def test_fields_without_a_help_topic_are_refused(demo, karen, org):
    with pytest.raises(ValidationError) as exc:
        _open(karen, karen, None, {"asset_tag": "x"}, department=org.dept("Support"))
    assert "fields.asset_tag" in exc.value.message_dict


# ---------------------------------------------------------------------------------------------
# Changing


def test_set_fields_records_one_event_with_exact_before_and_after(hardware_ticket, john):
    version = hardware_ticket.version
    actions.set_fields(
        john,
        hardware_ticket,
        {"asset_tag": "HL-0043", "device": "Laptop", "approved": True},
        expected_version=version,
    )
    assert hardware_ticket.version == version + 1  # The caller's object is in sync.
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.custom_fields == {
        "asset_tag": "HL-0043",
        "device": "Laptop",
        "approved": True,
    }
    [event] = field_events(hardware_ticket)
    assert event.actor == john
    # Unchanged values (device) are not in the event.
    assert event.before == {"asset_tag": "HL-0042", "approved": None}
    assert event.after == {"asset_tag": "HL-0043", "approved": True}


def test_none_and_empty_text_clear_values(hardware_ticket, john):
    actions.set_fields(john, hardware_ticket, {"asset_tag": None, "device": ""})
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.custom_fields == {}
    [event] = field_events(hardware_ticket)
    assert event.before == {"asset_tag": "HL-0042", "device": "Laptop"}
    assert event.after == {"asset_tag": None, "device": None}


def test_unticking_a_checkbox_clears_it(hardware_ticket, john):
    actions.set_fields(john, hardware_ticket, {"approved": True})
    actions.set_fields(john, hardware_ticket, {"approved": False})
    hardware_ticket.refresh_from_db()
    assert "approved" not in hardware_ticket.custom_fields
    assert [(e.before, e.after) for e in field_events(hardware_ticket)] == [
        ({"approved": None}, {"approved": True}),
        ({"approved": True}, {"approved": None}),
    ]


def test_setting_the_same_values_records_nothing(hardware_ticket, john):
    version = hardware_ticket.version
    actions.set_fields(john, hardware_ticket, {"asset_tag": "HL-0042", "device": "Laptop"})
    actions.set_fields(john, hardware_ticket, {})
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.version == version
    assert field_events(hardware_ticket) == []


def test_set_fields_leaves_other_values_alone(hardware_ticket, john):
    actions.set_fields(john, hardware_ticket, {"device": "Desktop"})
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.custom_fields == {"asset_tag": "HL-0042", "device": "Desktop"}


def test_invalid_values_change_nothing(hardware_ticket, john):
    version = hardware_ticket.version
    with pytest.raises(ValidationError) as exc:
        actions.set_fields(john, hardware_ticket, {"asset_tag": "HL-1", "device": "Tablet"})
    assert list(exc.value.message_dict) == ["fields.device"]
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.version == version
    assert hardware_ticket.custom_fields == {"asset_tag": "HL-0042", "device": "Laptop"}
    assert field_events(hardware_ticket) == []


def test_a_role_without_edit_is_refused_and_nothing_changes(hardware_ticket, garnet, org):
    assert garnet.agent.role == org.role("Limited Access") and not garnet.agent.role.can_edit
    version = hardware_ticket.version
    with pytest.raises(access.AccessDenied):
        actions.set_fields(garnet, hardware_ticket, {"approved": True})
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.version == version
    assert "approved" not in hardware_ticket.custom_fields
    assert field_events(hardware_ticket) == []


def test_an_agent_who_cannot_see_the_ticket_gets_not_found(hardware_ticket, jane):
    with pytest.raises(access.TicketNotFound):
        actions.set_fields(jane, hardware_ticket, {"approved": True})


def test_a_requester_cannot_use_set_fields(hardware_ticket, karen):
    with pytest.raises((access.AccessDenied, access.TicketNotFound)):
        actions.set_fields(karen, hardware_ticket, {"asset_tag": "HL-9"})
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.custom_fields["asset_tag"] == "HL-0042"


def test_a_stale_version_raises_and_changes_nothing(hardware_ticket, john):
    seen = hardware_ticket.version
    actions.add_note(john, hardware_ticket, "Someone else was here.")
    current = Ticket.objects.get(pk=hardware_ticket.pk).version
    assert current > seen
    with pytest.raises(actions.StaleTicket) as exc:
        actions.set_fields(john, hardware_ticket, {"asset_tag": "HL-9"}, expected_version=seen)
    assert exc.value.ticket.version == current
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.custom_fields["asset_tag"] == "HL-0042"
    assert field_events(hardware_ticket) == []


def test_fields_follow_the_current_help_topic(hardware_ticket, john, org):
    """Values of the old topic stay stored but are no longer offered or shown."""
    actions.set_help_topic(john, hardware_ticket, org.topic("General Inquiry"))
    with pytest.raises(ValidationError):
        actions.set_fields(john, hardware_ticket, {"device": "Phone"})
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.custom_fields == {"asset_tag": "HL-0042", "device": "Laptop"}
    assert shown(hardware_ticket, requester_side=False) == []


def test_set_fields_refuses_clearing_a_required_field(lab, john, karen):
    ticket = _open(karen, karen, lab, {"serial": "SN-1"})
    with pytest.raises(ValidationError):
        actions.set_fields(john, ticket, {"serial": None})
