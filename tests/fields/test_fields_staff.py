"""The agent panel: fields on "new ticket on behalf", the ticket page's header and Fields card,
saving them (permission, stale version, history) and the page's query count."""

import re
from html.parser import HTMLParser

from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpline.accounts.models import User
from helpline.tickets import actions
from helpline.tickets.models import EventKind, HelpTopicField, Source, Ticket
from tests.fields.conftest import XSS, XSS_ESCAPED

NEW = "/staff/tickets/new/"
PARTIAL = "/staff/tickets/new/fields/"
# Same bound as tests/staff_ticket/test_page.py: fields must not make the page dearer.
MAX_PAGE_QUERIES = 32


def page_url(ticket) -> str:
    return f"/staff/tickets/{ticket.number}/"


def fields_url(ticket) -> str:
    return f"/staff/tickets/{ticket.number}/fields/"


def on_behalf(hardware, **changes) -> dict:
    data = {
        "requester_email": "walter.white@example.com",
        "requester_name": "Walter White",
        "source": Source.PHONE,
        "help_topic": hardware.pk,
        "department": "",
        "priority": "",
        "sla_plan": "",
        "assignee": "",
        "team": "",
        "subject": "Laptop will not boot",
        "body": "Called at 9:10.",
    }
    data.update(changes)
    return data


def fields_post(ticket, **values) -> dict:
    return {"version": ticket.version, **{f"cf_{k}": v for k, v in values.items()}}


def header(page: str) -> str:
    return page.split('class="card ticket-head', 1)[1].split("</section>", 1)[0]


def fields_card(page: str) -> str | None:
    if 'id="fields-form"' not in page:
        return None
    return page.split('id="fields-form"', 1)[1].split("</form>", 1)[0]


# ---------------------------------------------------------------------------------------------
# New ticket on behalf


def test_the_partial_gives_agents_every_field_of_the_topic(client_for, john, hardware, org):
    response = client_for(john).get(PARTIAL, {"help_topic": hardware.pk})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="topic-fields"') and "<html" not in page
    for name in ("cf_asset_tag", "cf_device", "cf_approved"):
        assert f'name="{name}"' in page
    assert "Replacement approved" in page
    none = client_for(john).get(PARTIAL, {"help_topic": org.topic("General Inquiry").pk})
    assert "cf_" not in none.content.decode()
    for odd in ("", "x", "-3", "9" * 40):
        response = client_for(john).get(PARTIAL, {"help_topic": odd})
        assert response.status_code == 200 and "cf_" not in response.content.decode()


def test_the_partial_is_for_agents_only(client, client_for, karen, hardware):
    for anonymous_or_requester in (client, client_for(karen)):
        response = anonymous_or_requester.get(PARTIAL, {"help_topic": hardware.pk})
        assert response.status_code == 302
        assert response["Location"].startswith("/staff/login/")


def test_the_form_wires_the_topic_select_to_the_partial(client_for, john, demo):
    page = client_for(john).get(NEW).content.decode()
    assert f'hx-get="{PARTIAL}"' in page and 'id="topic-fields"' in page


def test_an_agent_opens_a_ticket_with_fields_agents_only_included(client_for, john, hardware):
    data = on_behalf(hardware, cf_asset_tag="HL-7", cf_device="Desktop", cf_approved="on")
    response = client_for(john).post(NEW, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    ticket = Ticket.objects.get(subject="Laptop will not boot")
    assert ticket.custom_fields == {"asset_tag": "HL-7", "device": "Desktop", "approved": True}
    assert response["Location"] == f"{page_url(ticket)}#main"


def test_an_invalid_value_on_behalf_keeps_the_form_and_creates_nothing(client_for, john, hardware):
    data = on_behalf(hardware, cf_asset_tag="HL-7", cf_device="Tablet")
    response = client_for(john).post(NEW, data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "“Tablet” is not one of the options for “Device”." in page
    assert 'name="cf_asset_tag"' in page and 'value="HL-7"' in page
    assert not Ticket.objects.exists()
    assert not User.objects.filter(email="walter.white@example.com").exists()


def test_a_required_field_is_asked_for_on_behalf(client_for, john, lab):
    response = client_for(john).post(NEW, on_behalf(lab, cf_notes="n"))
    assert response.status_code == 400
    assert "Fill in “Serial number”." in response.content.decode()
    assert not Ticket.objects.exists()


# ---------------------------------------------------------------------------------------------
# The ticket page


def test_the_header_lists_values_and_marks_agents_only_ones(client_for, john, hardware_ticket):
    actions.set_fields(john, hardware_ticket, {"approved": True})
    page = client_for(john).get(page_url(hardware_ticket)).content.decode()
    head = header(page)
    assert '<dd class="custom-field" data-field="asset_tag">HL-0042</dd>' in head
    assert '<dd class="custom-field" data-field="device">Laptop</dd>' in head
    assert re.search(
        r'<dt>Replacement approved</dt><dd class="custom-field" data-field="approved">Yes'
        r' <span class="muted small">\(agents only\)</span></dd>',
        head,
    )
    assert head.index("Asset tag") < head.index("Device") < head.index("Replacement approved")


def test_john_gets_the_fields_form_filled_in(client_for, john, hardware_ticket):
    actions.set_fields(john, hardware_ticket, {"approved": True})
    page = client_for(john).get(page_url(hardware_ticket)).content.decode()
    form = fields_card(page)
    assert form is not None
    assert f'action="{fields_url(hardware_ticket)}#fields"' in page
    assert f'name="version" value="{hardware_ticket.version}"' in form
    assert re.search(r'<input[^>]*name="cf_asset_tag"[^>]*value="HL-0042"', form)
    assert '<option value="Laptop" selected>Laptop</option>' in form
    assert re.search(r'<input[^>]*type="checkbox"[^>]*name="cf_approved"[^>]*checked', form)


def test_garnet_sees_the_values_but_no_fields_form(client_for, garnet, hardware_ticket):
    page = client_for(garnet).get(page_url(hardware_ticket)).content.decode()
    assert "HL-0042" in header(page)
    assert fields_card(page) is None and 'id="fields"' not in page


def test_no_fields_card_for_a_topic_without_fields(client_for, john, support_ticket):
    page = client_for(john).get(page_url(support_ticket)).content.decode()
    assert fields_card(page) is None and "custom-field" not in page


def test_saving_the_fields_form_stores_values_and_tells_the_history(
    client_for, john, hardware_ticket
):
    client = client_for(john)
    data = fields_post(hardware_ticket, asset_tag="HL-0043", device="Laptop", approved="on")
    response = client.post(fields_url(hardware_ticket), data)
    assert response.status_code == 302
    assert response["Location"] == f"{page_url(hardware_ticket)}#main"
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.custom_fields == {
        "asset_tag": "HL-0043",
        "device": "Laptop",
        "approved": True,
    }
    [event] = hardware_ticket.events.filter(kind=EventKind.FIELDS)
    assert (event.before, event.after) == (
        {"asset_tag": "HL-0042", "approved": None},
        {"asset_tag": "HL-0043", "approved": True},
    )
    page = client.get(page_url(hardware_ticket)).content.decode()
    assert "Fields saved." in page
    # Changes are told in name order.
    assert "John Smith set approved to yes; changed asset_tag from HL-0042 to HL-0043" in page


def test_emptying_a_field_clears_it_and_the_history_says_so(client_for, john, hardware_ticket):
    client = client_for(john)
    data = fields_post(hardware_ticket, asset_tag="", device="Laptop")
    assert client.post(fields_url(hardware_ticket), data).status_code == 302
    hardware_ticket.refresh_from_db()
    assert "asset_tag" not in hardware_ticket.custom_fields
    page = client.get(page_url(hardware_ticket)).content.decode()
    assert "cleared asset_tag (was HL-0042)" in page
    assert 'data-field="asset_tag"' not in page


def test_an_invalid_value_is_a_400_on_the_form_and_nothing_changes(
    client_for, john, hardware_ticket
):
    version = hardware_ticket.version
    data = fields_post(hardware_ticket, asset_tag="HL-9", device="Tablet")
    response = client_for(john).post(fields_url(hardware_ticket), data)
    assert response.status_code == 400
    form = fields_card(response.content.decode())
    assert "“Tablet” is not one of the options for “Device”." in form
    assert 'value="HL-9"' in form
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.version == version
    assert hardware_ticket.custom_fields == {"asset_tag": "HL-0042", "device": "Laptop"}


def test_a_forged_post_by_garnet_is_403_and_nothing_changes(client_for, garnet, hardware_ticket):
    version = hardware_ticket.version
    data = fields_post(hardware_ticket, asset_tag="HL-X", device="Phone", approved="on")
    response = client_for(garnet).post(fields_url(hardware_ticket), data)
    assert response.status_code == 403
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.version == version
    assert hardware_ticket.custom_fields == {"asset_tag": "HL-0042", "device": "Laptop"}
    assert not hardware_ticket.events.filter(kind=EventKind.FIELDS).exists()


def test_jane_cannot_even_find_the_ticket(client_for, jane, hardware_ticket):
    data = fields_post(hardware_ticket, asset_tag="HL-X", device="Phone")
    assert client_for(jane).post(fields_url(hardware_ticket), data).status_code == 404
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.custom_fields["asset_tag"] == "HL-0042"


def test_the_fields_form_only_takes_posts(client_for, john, hardware_ticket):
    assert client_for(john).get(fields_url(hardware_ticket)).status_code == 405


def test_a_stale_form_is_a_409_with_the_typed_values_kept(client_for, john, hardware_ticket):
    seen = fields_post(hardware_ticket, asset_tag="HL-TYPED", device="Printer", approved="on")
    actions.add_note(john, hardware_ticket, "Meanwhile, a note.")
    hardware_ticket.refresh_from_db()
    response = client_for(john).post(fields_url(hardware_ticket), seen)
    assert response.status_code == 409
    page = response.content.decode()
    assert "changed meanwhile" in page and "your fields was not saved" in page
    form = fields_card(page)
    assert 'value="HL-TYPED"' in form
    assert '<option value="Printer" selected>Printer</option>' in form
    assert re.search(r'name="cf_approved"[^>]*checked', form)
    # The form now carries the current version: sending again saves.
    assert f'name="version" value="{hardware_ticket.version}"' in form
    stored = Ticket.objects.get(pk=hardware_ticket.pk).custom_fields
    assert stored == {"asset_tag": "HL-0042", "device": "Laptop"}
    again = client_for(john).post(
        fields_url(hardware_ticket),
        fields_post(hardware_ticket, asset_tag="HL-TYPED", device="Printer", approved="on"),
    )
    assert again.status_code == 302


def test_a_damaged_version_is_a_400(client_for, john, hardware_ticket):
    for version in ("", "x", "0"):
        data = {**fields_post(hardware_ticket, device="Phone"), "version": version}
        response = client_for(john).post(fields_url(hardware_ticket), data)
        assert response.status_code == 400
    hardware_ticket.refresh_from_db()
    assert hardware_ticket.custom_fields["device"] == "Laptop"


def test_a_script_in_a_value_is_escaped_in_header_form_and_history(
    client_for, john, hardware_ticket
):
    client = client_for(john)
    data = fields_post(hardware_ticket, asset_tag=XSS, device="Laptop")
    assert client.post(fields_url(hardware_ticket), data).status_code == 302
    page = client.get(page_url(hardware_ticket)).content.decode()
    assert XSS not in page
    assert f'data-field="asset_tag">{XSS_ESCAPED}</dd>' in header(page)
    assert f'value="{XSS_ESCAPED}"' in fields_card(page)
    assert f"changed asset_tag from HL-0042 to {XSS_ESCAPED}" in page


def test_saving_one_change_records_only_that_change(client_for, john, hardware_ticket):
    data = fields_post(hardware_ticket, asset_tag="HL-0043", device="Laptop")  # approved unticked
    assert client_for(john).post(fields_url(hardware_ticket), data).status_code == 302
    [event] = hardware_ticket.events.filter(kind=EventKind.FIELDS)
    assert (event.before, event.after) == ({"asset_tag": "HL-0042"}, {"asset_tag": "HL-0043"})


def test_help_text_and_labels_are_escaped_once_in_the_panel(
    client_for, john, hardware_ticket, hardware
):
    HelpTopicField.objects.filter(help_topic=hardware, name="asset_tag").update(
        label=f"Tag {XSS}", help_text=f"Tag & serial {XSS}"
    )
    for path, params in ((PARTIAL, {"help_topic": hardware.pk}), (page_url(hardware_ticket), {})):
        page = client_for(john).get(path, params).content.decode()
        assert XSS not in page
        assert f"Tag &amp; serial {XSS_ESCAPED}" in page and "&amp;amp;" not in page
        assert f"Tag {XSS_ESCAPED}" in page


# ---------------------------------------------------------------------------------------------
# Query count


def _count_queries(client, ticket) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(page_url(ticket))
    assert response.status_code == 200
    return len(captured)


def test_fields_cost_no_extra_queries_however_many(
    client_for, john, support_ticket, hardware_ticket, hardware, django_assert_max_num_queries
):
    """Same number of queries for a topic without fields, with three, and with thirteen."""
    actions.set_fields(john, hardware_ticket, {"approved": True})
    client = client_for(john)
    client.get(page_url(support_ticket))  # Warm per-process caches (content types, sessions).
    without = _count_queries(client, support_ticket)
    with_three = _count_queries(client, hardware_ticket)
    for n in range(10):
        HelpTopicField.objects.create(
            help_topic=hardware, name=f"extra_{n}", label=f"Extra {n}", order=10 + n
        )
    actions.set_fields(john, hardware_ticket, {f"extra_{n}": f"v{n}" for n in range(10)})
    with_thirteen = _count_queries(client, hardware_ticket)
    assert without == with_three == with_thirteen
    with django_assert_max_num_queries(MAX_PAGE_QUERIES):
        page = client.get(page_url(hardware_ticket)).content.decode()
    assert page.count('class="custom-field"') == 13


# ---------------------------------------------------------------------------------------------
# Every kind through the form and back


class _FormValues(HTMLParser):
    """What a browser would send back for the cf_ inputs of a form, as rendered."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name") or ""
        if tag == "input" and name.startswith("cf_"):
            if a.get("type") != "checkbox":
                self.values[name] = a.get("value") or ""
            elif "checked" in a:
                self.values[name] = "on"
        elif tag == "select" and name.startswith("cf_"):
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value") or ""
        elif tag == "textarea" and name.startswith("cf_"):
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def test_every_kind_round_trips_through_the_fields_form(client_for, john, karen, lab):
    values = {
        "serial": "SN-1",
        "notes": "Two\nlines & <more>",
        "quantity": "3.5",
        "colour": "Green",
        "urgent": True,
        "needed_by": "2026-04-01",
        "contact": "lab@example.com",
        "budget_code": "BC-9",
    }
    ticket = actions.open_ticket(
        john, requester=karen, subject="Microscope", body="B", help_topic=lab, fields=values
    )
    client = client_for(john)
    page = client.get(page_url(ticket)).content.decode()
    parser = _FormValues()
    parser.feed(fields_card(page) + "</form>")
    sent = parser.values
    assert sent == {
        "cf_serial": "SN-1",
        "cf_notes": "\nTwo\nlines & <more>",  # Leading newline: browsers drop it, so does the form.
        "cf_quantity": "3.5",
        "cf_colour": "Green",
        "cf_urgent": "on",
        "cf_needed_by": "2026-04-01",
        "cf_contact": "lab@example.com",
        "cf_budget_code": "BC-9",
    }
    # Sending the form back unchanged changes nothing and records nothing.
    response = client.post(fields_url(ticket), {"version": ticket.version, **sent})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.custom_fields == values
    assert not ticket.events.filter(kind=EventKind.FIELDS).exists()
