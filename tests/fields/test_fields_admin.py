"""The admin panel is where administrators define a help topic's custom fields."""

from django.urls import reverse


def test_the_help_topic_page_lists_its_fields(client, admin_user, hardware):
    client.force_login(admin_user)
    response = client.get(reverse("admin:tickets_helptopic_change", args=[hardware.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="asset_tag"' in page and 'value="Replacement approved"' in page


def test_an_administrator_adds_a_field_in_the_inline(client, admin_user, hardware):
    client.force_login(admin_user)
    url = reverse("admin:tickets_helptopic_change", args=[hardware.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data = {k: v for k, v in data.items() if v is not False}
    data["active"] = "on"
    data["public"] = "on"
    existing = list(hardware.fields.order_by("order", "pk"))
    prefix = "fields"
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": str(len(existing) + 1),
            f"{prefix}-INITIAL_FORMS": str(len(existing)),
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    )
    for i, f in enumerate(existing):
        data.update(
            {
                f"{prefix}-{i}-id": str(f.pk),
                f"{prefix}-{i}-help_topic": str(hardware.pk),
                f"{prefix}-{i}-order": str(f.order),
                f"{prefix}-{i}-name": f.name,
                f"{prefix}-{i}-label": f.label,
                f"{prefix}-{i}-kind": f.kind,
                f"{prefix}-{i}-choices": f.choices,
                f"{prefix}-{i}-help_text": f.help_text,
            }
        )
        if f.requester_can_see:
            data[f"{prefix}-{i}-requester_can_see"] = "on"
    n = len(existing)
    data.update(
        {
            f"{prefix}-{n}-help_topic": str(hardware.pk),
            f"{prefix}-{n}-order": "9",
            f"{prefix}-{n}-name": "room",
            f"{prefix}-{n}-label": "Room",
            f"{prefix}-{n}-kind": "text",
            f"{prefix}-{n}-required": "on",
            f"{prefix}-{n}-requester_can_see": "on",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    room = hardware.fields.get(name="room")
    assert room.required and room.label == "Room"
