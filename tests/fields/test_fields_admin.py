"""The admin panel is where administrators define a help topic's custom fields."""

from django.urls import reverse

from helpline.tickets.models import HelpTopicField
from tests.admin_forms import form_data


def test_the_help_topic_page_lists_its_fields(client, admin_user, hardware):
    client.force_login(admin_user)
    response = client.get(reverse("admin:tickets_helptopic_change", args=[hardware.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="asset_tag"' in page and 'value="Replacement approved"' in page


def test_an_administrator_adds_a_field_in_the_inline(client, admin_user, hardware):
    client.force_login(admin_user)
    url = reverse("admin:tickets_helptopic_change", args=[hardware.pk])
    data = form_data(client.get(url))
    n = int(data["fields-TOTAL_FORMS"])
    data["fields-TOTAL_FORMS"] = str(n + 1)
    new = {"order": "9", "name": "room", "label": "Room", "kind": "text", "required": "on"}
    data.update({f"fields-{n}-{key}": value for key, value in new.items()})
    data[f"fields-{n}-requester_can_see"] = "on"
    response = client.post(url, data)
    assert response.status_code == 302
    room = hardware.fields.get(name="room")
    assert room.required and room.label == "Room"
    assert HelpTopicField.objects.filter(help_topic=hardware).count() == n + 1
