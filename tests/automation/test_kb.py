"""Knowledge base: Markdown sanitised, internal articles never in the portal, search,
suggestions while typing a subject, agents' editing permission and link insertion."""

import pytest
from django.contrib.auth.models import Permission

from helpline.automation.models import KBArticle, KBCategory


@pytest.fixture
def category(db):
    return KBCategory.objects.create(name="Online banking", slug="online-banking")


@pytest.fixture
def articles(category):
    public = KBArticle.objects.create(
        category=category,
        title="Reset your online banking password",
        slug="reset-password",
        body="# Steps\n\n1. Open *Settings*\n2. Choose **Password**",
    )
    internal = KBArticle.objects.create(
        category=category,
        title="Password reset back-office procedure",
        slug="reset-backoffice",
        body="Use the admin console.",
        visibility="internal",
    )
    draft = KBArticle.objects.create(
        category=category,
        title="Password draft",
        slug="password-draft",
        body="Not yet.",
        published=False,
    )
    return public, internal, draft


def test_markdown_is_rendered_and_sanitised(category):
    article = KBArticle.objects.create(
        category=category,
        title="x",
        slug="x",
        body='**bold** <script>alert(1)</script> <a href="javascript:alert(1)">l</a> '
        "<img src=x onerror=alert(1)>",
    )
    assert "<strong>bold</strong>" in article.body_html
    assert "<script" not in article.body_html
    assert "javascript:" not in article.body_html
    assert "onerror" not in article.body_html


def test_portal_shows_public_articles_only(client, articles):
    public, internal, draft = articles
    index = client.get("/kb/").content.decode()
    assert public.title in index
    assert internal.title not in index and draft.title not in index
    assert client.get("/kb/reset-password/").status_code == 200
    assert client.get("/kb/reset-backoffice/").status_code == 404
    assert client.get("/kb/password-draft/").status_code == 404
    found = client.get("/kb/", {"q": "password"}).content.decode()
    assert public.title in found and internal.title not in found and draft.title not in found


def test_agents_in_the_portal_see_only_public_articles_too(client, john, articles):
    client.force_login(john)
    assert client.get("/kb/reset-backoffice/").status_code == 404


def test_suggestions_while_typing_a_subject(client, articles):
    public, internal, _ = articles
    response = client.get("/kb/suggestions/", {"subject": "Can't reset my PASSWORD!"})
    page = response.content.decode()
    assert public.title in page and internal.title not in page
    assert client.get("/kb/suggestions/", {"subject": "the and or"}).content.strip() == b""


def test_the_new_ticket_form_asks_for_suggestions(client, demo):
    page = client.get("/tickets/new/").content.decode()
    assert "/kb/suggestions/" in page


def test_portal_home_has_a_kb_search(client, demo):
    assert 'action="/kb/"' in client.get("/").content.decode()


@pytest.mark.parametrize("query", ["", " ", "\x00", "%", "_", "a" * 5000, "' OR 1=1 --"])
def test_odd_searches_do_not_fail(client, articles, query):
    assert client.get("/kb/", {"q": query}).status_code == 200
    assert client.get("/kb/suggestions/", {"subject": query}).status_code == 200


def test_agents_see_internal_articles_and_drafts(client, john, articles):
    client.force_login(john)
    page = client.get("/staff/kb/", {"q": "password"}).content.decode()
    assert all(a.title in page for a in articles)
    assert client.get("/staff/kb/reset-backoffice/").status_code == 200


def test_requesters_cannot_use_the_staff_kb(client, karen, articles):
    client.force_login(karen)
    assert client.get("/staff/kb/reset-backoffice/").status_code == 302


def test_editing_needs_the_kb_permission(client, john, category):
    client.force_login(john)
    data = {"title": "VPN setup", "slug": "", "category": category.pk, "visibility": "public",
            "published": "on", "body": "Install the client."}  # fmt: skip
    assert client.post("/staff/kb/new/", data).status_code == 403
    john.user_permissions.add(Permission.objects.get(codename="edit_kb"))
    client.force_login(john)
    response = client.post("/staff/kb/new/", data)
    assert response.status_code == 302
    article = KBArticle.objects.get(slug="vpn-setup")
    assert article.created_by == john and "<p>Install the client.</p>" in article.body_html
    edit = client.post("/staff/kb/vpn-setup/edit/", {**data, "slug": "vpn-setup", "title": "VPN"})
    assert edit.status_code == 302
    assert KBArticle.objects.get(slug="vpn-setup").title == "VPN"


def test_reserved_and_duplicate_addresses_are_refused(client, admin_user, articles, category):
    client.force_login(admin_user)
    data = {"title": "x", "category": category.pk, "visibility": "public", "body": "x"}
    for slug in ("suggestions", "reset-password"):
        response = client.post("/staff/kb/new/", {**data, "slug": slug})
        assert response.status_code == 200 and "slug" in response.context["form"].errors


def test_link_picker_offers_public_articles(client, john, articles):
    client.force_login(john)
    page = client.get("/staff/kb/pick/", {"q": "password"}).content.decode()
    assert "/kb/reset-password/" in page
    assert "reset-backoffice" not in page and "password-draft" not in page
