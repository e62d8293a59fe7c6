"""The client portal: the chosen topic's fields on "Open a new ticket" (also fetched by htmx),
their values on the ticket page, agents-only fields nowhere."""

import pytest

from helpline.tickets import actions, guest
from helpline.tickets.models import HelpTopicField, Ticket
from tests.fields.conftest import XSS, XSS_ESCAPED

NEW = "/tickets/new/"
PARTIAL = "/tickets/new/fields/"
AGENTS_ONLY = ("cf_approved", "Replacement approved")


def hardware_form(ticket_form, hardware, **fields):
    data = ticket_form(help_topic=hardware.pk)
    data.update({f"cf_{name}": value for name, value in fields.items()})
    return data


def assert_no_agents_only_field(page: str) -> None:
    for text in AGENTS_ONLY:
        assert text not in page


# ---------------------------------------------------------------------------------------------
# The form


def test_the_hardware_topic_brings_its_requester_fields(client, hardware):
    page = client.get(NEW, {"topic": hardware.pk}).content.decode()
    assert 'id="topic-fields"' in page
    assert 'name="cf_asset_tag"' in page and "Asset tag" in page and "On the sticker." in page
    assert 'name="cf_device"' in page
    for option in ("Laptop", "Desktop", "Phone", "Printer", "Other"):
        assert f'<option value="{option}">{option}</option>' in page
    assert_no_agents_only_field(page)
    # The topic select fetches the fields of another topic in place.
    assert f'hx-get="{PARTIAL}"' in page and 'hx-target="#topic-fields"' in page


def test_general_inquiry_and_no_topic_bring_no_fields(client, org):
    for params in ({"topic": org.topic("General Inquiry").pk}, {}, {"topic": "abc"}):
        page = client.get(NEW, params).content.decode()
        assert 'id="topic-fields"' in page  # The empty slot htmx fills.
        assert "cf_" not in page


def test_the_htmx_partial_returns_the_topics_fields_only(client, hardware, org):
    response = client.get(PARTIAL, {"help_topic": hardware.pk}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="topic-fields"')
    assert "<html" not in page
    assert 'name="cf_asset_tag"' in page and 'name="cf_device"' in page
    assert_no_agents_only_field(page)
    empty = client.get(PARTIAL, {"help_topic": org.topic("General Inquiry").pk})
    assert empty.status_code == 200 and "cf_" not in empty.content.decode()


@pytest.mark.parametrize("raw", ["", "x", "-1", "99999999", "1" * 30, "1 OR 1=1", "\x00"])
def test_the_partial_shrugs_off_odd_topics(client, demo, raw):
    response = client.get(PARTIAL, {"help_topic": raw})
    assert response.status_code == 200
    assert "cf_" not in response.content.decode()


def test_the_partial_does_not_reveal_fields_of_topics_not_offered(client, hardware, lab):
    lab.public = False
    lab.save(update_fields=["public"])
    hardware.active = False
    hardware.save(update_fields=["active"])
    for topic in (lab, hardware):
        page = client.get(PARTIAL, {"help_topic": topic.pk}).content.decode()
        assert "cf_" not in page
        page = client.get(NEW, {"topic": topic.pk}).content.decode()
        assert "cf_" not in page


def test_required_fields_are_marked_and_every_kind_renders(client, lab):
    page = client.get(NEW, {"topic": lab.pk}).content.decode()
    assert 'class="required">Serial number</label>' in page
    assert 'type="number"' in page and 'type="date"' in page and 'type="email"' in page
    assert 'type="checkbox" name="cf_urgent"' in page and "<textarea" in page
    assert "cf_budget_code" not in page and "Budget code" not in page


# ---------------------------------------------------------------------------------------------
# Opening


def test_valid_values_are_stored_and_shown_on_the_ticket_page(
    client, karen, john, hardware, ticket_form
):
    client.force_login(karen)
    response = client.post(
        NEW, hardware_form(ticket_form, hardware, asset_tag="HL-0042", device="Printer")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    ticket = Ticket.objects.get()
    assert ticket.custom_fields == {"asset_tag": "HL-0042", "device": "Printer"}
    actions.set_fields(john, ticket, {"approved": True})  # Agents only: Karen must not see it.
    page = client.get(f"/tickets/{ticket.number}/").content.decode()
    assert '<dt>Asset tag</dt><dd class="custom-field" data-field="asset_tag">HL-0042</dd>' in page
    assert '<dd class="custom-field" data-field="device">Printer</dd>' in page
    assert_no_agents_only_field(page)
    assert 'data-field="approved"' not in page


def test_a_guest_can_open_with_fields_and_see_them_through_a_link(
    client, john, hardware, ticket_form
):
    response = client.post(NEW, hardware_form(ticket_form, hardware, device="Phone"))
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.custom_fields == {"device": "Phone"}
    actions.set_fields(john, ticket, {"approved": False})
    token = guest.issue_link(ticket, "jane.doe@example.org")
    page = client.get(guest.link_path(token), follow=True).content.decode()
    assert '<dd class="custom-field" data-field="device">Phone</dd>' in page
    assert_no_agents_only_field(page)


def test_an_invalid_choice_is_a_form_error_and_nothing_is_created(
    client, karen, hardware, ticket_form
):
    client.force_login(karen)
    response = client.post(
        NEW, hardware_form(ticket_form, hardware, asset_tag="HL-1", device="Tablet")
    )
    assert response.status_code in (200, 400)
    page = response.content.decode()
    assert "“Tablet” is not one of the options for “Device”." in page
    assert 'value="HL-1"' in page  # What was typed is kept.
    assert Ticket.objects.count() == 0


def test_an_invalid_value_of_every_kind_is_shown_on_its_field(client, lab, ticket_form):
    data = ticket_form(help_topic=lab.pk)
    data.update(
        {
            "cf_serial": "",
            "cf_quantity": "lots",
            "cf_needed_by": "2026-02-30",
            "cf_contact": "nobody",
            "cf_colour": "Pink",
        }
    )
    response = client.post(NEW, data)
    assert response.status_code in (200, 400)
    page = response.content.decode()
    for message in (
        "Fill in “Serial number”.",
        "Enter a number.",
        "Enter a valid date.",
        "Enter a valid email address.",
        "“Pink” is not one of the options for “Colour”.",
    ):
        assert message in page, message
    assert Ticket.objects.count() == 0


def test_a_forged_agents_only_value_is_not_stored(client, hardware, ticket_form):
    """The portal's form has no such field: a posted value is ignored, never stored."""
    client.post(NEW, hardware_form(ticket_form, hardware, device="Phone", approved="on"))
    ticket = Ticket.objects.get()
    assert ticket.custom_fields == {"device": "Phone"}


def test_fields_posted_for_another_topic_are_ignored(client, org, ticket_form):
    data = ticket_form(help_topic=org.topic("General Inquiry").pk, cf_device="Laptop")
    assert client.post(NEW, data).status_code == 302
    assert Ticket.objects.get().custom_fields == {}


def test_a_required_field_added_later_is_asked_for(client, hardware, ticket_form):
    HelpTopicField.objects.filter(help_topic=hardware, name="device").update(required=True)
    response = client.post(NEW, hardware_form(ticket_form, hardware, asset_tag="HL-1"))
    assert "Fill in “Device”." in response.content.decode()
    assert Ticket.objects.count() == 0


def test_a_script_in_a_value_is_escaped_everywhere(client, karen, hardware, ticket_form):
    client.force_login(karen)
    client.post(NEW, hardware_form(ticket_form, hardware, asset_tag=XSS, device="Laptop"))
    ticket = Ticket.objects.get()
    assert ticket.custom_fields["asset_tag"] == XSS
    page = client.get(f"/tickets/{ticket.number}/").content.decode()
    assert XSS not in page and XSS_ESCAPED in page
    # A refused form shows the typed value back, escaped too.
    again = client.post(NEW, hardware_form(ticket_form, hardware, asset_tag=XSS, device=XSS))
    page = again.content.decode()
    assert XSS not in page and XSS_ESCAPED in page


def test_labels_help_texts_and_options_are_escaped(client, hardware):
    HelpTopicField.objects.filter(help_topic=hardware, name="asset_tag").update(
        label=f"Tag {XSS}", help_text=f"Look {XSS} & see"
    )
    HelpTopicField.objects.filter(help_topic=hardware, name="device").update(
        choices=f"Laptop\n{XSS}"
    )
    for path, params in ((NEW, {"topic": hardware.pk}), (PARTIAL, {"help_topic": hardware.pk})):
        page = client.get(path, params).content.decode()
        assert XSS not in page, path
        assert f"Tag {XSS_ESCAPED}" in page and f"Look {XSS_ESCAPED} &amp; see" in page


def test_a_nul_byte_in_a_field_is_a_form_error(client, hardware, ticket_form):
    response = client.post(NEW, hardware_form(ticket_form, hardware, asset_tag="HL\x001"))
    assert response.status_code in (200, 400)
    assert "Null characters are not allowed." in response.content.decode()
    assert Ticket.objects.count() == 0


def test_a_percent_sign_in_a_choice_label_is_harmless_on_the_portal(client, hardware, ticket_form):
    HelpTopicField.objects.filter(help_topic=hardware, name="device").update(label="Device (100%)")
    response = client.post(NEW, hardware_form(ticket_form, hardware, device="Tablet"))
    assert response.status_code in (200, 400)
    assert "is not one of the options for “Device (100%)”" in response.content.decode()
