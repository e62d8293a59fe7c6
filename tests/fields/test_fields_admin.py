"""The admin panel is where administrators define a help topic's custom fields."""

import pytest
from django.urls import reverse


@pytest.mark.xfail(
    strict=True,
    reason="BUG: HelpTopicField has no admin (no inline on the help topic page): administrators "
    "cannot add, change or order custom fields",
)
def test_the_help_topic_page_lists_its_fields(client, admin_user, hardware):
    client.force_login(admin_user)
    response = client.get(reverse("admin:tickets_helptopic_change", args=[hardware.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="asset_tag"' in page and 'value="Replacement approved"' in page
