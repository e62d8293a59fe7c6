"""The API: fields on create and PATCH, errors named "fields.<name>", agents-only fields kept
from requester keys both ways."""

import pytest

from helpline.tickets import actions
from helpline.tickets.models import EventKind, Ticket

pytestmark = pytest.mark.django_db


def _create(api, topic="Hardware", **extra):
    payload = {"subject": "Laptop will not boot", "body": "It is dead.", "help_topic": topic}
    payload.update(extra)
    return api.post("/tickets", payload)


def test_an_agent_creates_with_fields_and_the_detail_shows_them(api_as, john, hardware):
    response = _create(
        api_as(john),
        requester_email="walter.white@example.com",
        fields={"asset_tag": "HL-7", "device": "Phone", "approved": True},
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["fields"] == {"asset_tag": "HL-7", "device": "Phone", "approved": True}
    ticket = Ticket.objects.get(number=data["number"])
    assert ticket.custom_fields == data["fields"]
    again = api_as(john).get(f"/tickets/{ticket.number}").json()
    assert again["fields"] == data["fields"]


def test_a_requester_creates_with_requester_fields(api_as, karen, hardware):
    response = _create(api_as(karen), fields={"asset_tag": "HL-8", "device": "Laptop"})
    assert response.status_code == 201, response.content
    assert response.json()["fields"] == {"asset_tag": "HL-8", "device": "Laptop"}


def test_numbers_and_nulls_from_json(api_as, john, lab):
    response = _create(
        api_as(john),
        topic="Lab equipment",
        requester_email="walter.white@example.com",
        fields={"serial": 1234, "quantity": 2.5, "urgent": False, "notes": None},
    )
    assert response.status_code == 201, response.content
    assert response.json()["fields"] == {"serial": "1234", "quantity": "2.5"}


def test_an_invalid_value_is_422_naming_the_field_and_nothing_is_created(api_as, john, hardware):
    response = _create(
        api_as(john), requester_email="walter.white@example.com", fields={"device": "Tablet"}
    )
    assert response.status_code in (400, 422)
    body = response.json()
    assert body["errors"] == {
        "fields.device": ["Device: “Tablet” is not one of the options for “Device”."]
    }
    assert "Tablet" in body["detail"]
    assert not Ticket.objects.exists()


def test_a_missing_required_field_and_an_unknown_one_are_422(api_as, karen, lab):
    response = _create(api_as(karen), topic="Lab equipment", fields={"serail": "SN-1"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"fields.serial", "fields.serail"}
    assert not Ticket.objects.exists()


def test_leaving_out_fields_does_not_skip_required_ones(api_as, karen, lab):
    response = _create(api_as(karen), topic="Lab equipment")
    assert response.status_code == 422
    assert "fields.serial" in response.json()["errors"]
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"asset_tag": ["a", "b"]}, "fields.asset_tag"),
        ({"asset_tag": {"nested": 1}}, "fields.asset_tag"),
        ({"asset_tag": "x\x00y"}, "fields.asset_tag"),
        ({"asset_tag": "x" * 5001}, "fields.asset_tag"),
        ({"x" * 41: "long name"}, "fields"),
        ("not an object", "fields"),
    ],
)
def test_malformed_fields_are_422(api_as, john, hardware, fields, where):
    response = _create(api_as(john), requester_email="w@example.com", fields=fields)
    assert response.status_code == 422, response.content
    assert any(key.startswith(where) for key in response.json()["errors"]), response.json()
    assert not Ticket.objects.exists()


def test_a_requester_key_cannot_set_an_agents_only_field(api_as, karen, hardware):
    response = _create(api_as(karen), fields={"device": "Phone", "approved": True})
    assert response.status_code in (403, 422)
    assert "fields.approved" in response.json()["errors"]
    assert not Ticket.objects.exists()


def test_a_requester_keys_detail_hides_agents_only_values(api_as, john, karen, hardware_ticket):
    actions.set_fields(john, hardware_ticket, {"approved": True})
    as_karen = api_as(karen).get(f"/tickets/{hardware_ticket.number}")
    assert as_karen.status_code == 200
    assert as_karen.json()["fields"] == {"asset_tag": "HL-0042", "device": "Laptop"}
    assert "approved" not in as_karen.content.decode()
    as_john = api_as(john).get(f"/tickets/{hardware_ticket.number}").json()
    assert as_john["fields"] == {"asset_tag": "HL-0042", "device": "Laptop", "approved": True}


def test_a_ticket_without_values_shows_an_empty_object(api_as, karen, support_ticket):
    assert api_as(karen).get(f"/tickets/{support_ticket.number}").json()["fields"] == {}


def test_patch_changes_fields_and_records_the_event(api_as, john, hardware_ticket):
    response = api_as(john).patch(
        f"/tickets/{hardware_ticket.number}",
        {"fields": {"approved": True, "asset_tag": None}, "version": hardware_ticket.version},
    )
    assert response.status_code == 200, response.content
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.custom_fields == {"device": "Laptop", "approved": True}
    [event] = hardware_ticket.events.filter(kind=EventKind.FIELDS)
    assert event.actor == john
    assert (event.before, event.after) == (
        {"approved": None, "asset_tag": "HL-0042"},
        {"approved": True, "asset_tag": None},
    )
    detail = api_as(john).get(f"/tickets/{hardware_ticket.number}").json()
    assert detail["fields"] == {"device": "Laptop", "approved": True}
    assert any(e["kind"] == "fields" for e in detail["events"])


def test_patch_with_other_changes_is_all_or_nothing(api_as, john, hardware_ticket, org):
    version = hardware_ticket.version
    response = api_as(john).patch(
        f"/tickets/{hardware_ticket.number}",
        {"subject": "Renamed", "fields": {"device": "Tablet"}},
    )
    assert response.status_code == 422 and "fields.device" in response.json()["errors"]
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.version == version and hardware_ticket.subject != "Renamed"
    assert hardware_ticket.custom_fields["device"] == "Laptop"


def test_patch_fields_after_a_topic_change_in_the_same_request(api_as, john, support_ticket):
    response = api_as(john).patch(
        f"/tickets/{support_ticket.number}",
        {"help_topic": "Hardware", "fields": {"device": "Printer"}},
    )
    assert response.status_code == 200, response.content
    support_ticket.refresh_from_db()
    assert support_ticket.custom_fields == {"device": "Printer"}


def test_patch_by_a_role_without_edit_is_403(api_as, garnet, hardware_ticket):
    version = hardware_ticket.version
    response = api_as(garnet).patch(
        f"/tickets/{hardware_ticket.number}", {"fields": {"approved": True}}
    )
    assert response.status_code == 403
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.version == version and "approved" not in hardware_ticket.custom_fields


def test_patch_by_the_requester_is_refused(api_as, karen, hardware_ticket):
    response = api_as(karen).patch(
        f"/tickets/{hardware_ticket.number}", {"fields": {"asset_tag": "HL-9"}}
    )
    assert response.status_code in (403, 404)
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.custom_fields["asset_tag"] == "HL-0042"


def test_patch_with_a_stale_version_is_409(api_as, john, hardware_ticket):
    seen = hardware_ticket.version
    actions.add_note(john, hardware_ticket, "Meanwhile.")
    response = api_as(john).patch(
        f"/tickets/{hardware_ticket.number}", {"fields": {"device": "Phone"}, "version": seen}
    )
    assert response.status_code == 409
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.custom_fields["device"] == "Laptop"


def test_a_number_for_a_date_field_is_422(api_as, john, lab):
    response = _create(
        api_as(john),
        topic="Lab equipment",
        requester_email="w@example.com",
        fields={"serial": "SN-1", "needed_by": 20260301},
    )
    assert response.status_code == 422
    assert "fields.needed_by" in response.json()["errors"]


def test_patch_cannot_clear_a_required_field(api_as, john, karen, lab):
    ticket = actions.open_ticket(
        karen, requester=karen, subject="S", body="B", help_topic=lab, fields={"serial": "SN-1"}
    )
    response = api_as(john).patch(f"/tickets/{ticket.number}", {"fields": {"serial": None}})
    assert response.status_code == 422
    ticket.refresh_from_db()
    assert ticket.custom_fields == {"serial": "SN-1"}
