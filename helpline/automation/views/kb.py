"""Knowledge base pages: the portal's public help center and the agents' full view/editor."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from helpline.automation import knowledge
from helpline.automation.forms import KBArticleForm
from helpline.automation.models import KBArticle, KBCategory
from helpline.tickets import access
from helpline.tickets.views.portal_common import page
from helpline.tickets.views.staff import agent_required

EDIT_PERMISSION = "automation.edit_kb"


def can_edit(user) -> bool:
    """Administrators, and agents given the "Can write and edit knowledge base articles"
    permission (in the admin panel, on the user or a group)."""
    return access.is_admin(user) or (access.is_agent(user) and user.has_perm(EDIT_PERMISSION))


# ---------------------------------------------------------------------------------------------
# Portal (public articles only, for everyone: agents see the portal as requesters do)


def portal_index(request: HttpRequest) -> HttpResponse:
    """/kb/: categories with their public articles, or search results for ?q=."""
    query = knowledge.clean_query(request.GET.get("q", ""))
    results = knowledge.search(knowledge.public_articles(), query) if query else None
    categories = []
    if results is None:
        articles = list(knowledge.public_articles().order_by("category__order", "title")[:500])
        by_category: dict[int, list] = {}
        for article in articles:
            by_category.setdefault(article.category_id, []).append(article)
        categories = [
            (c, by_category[c.pk]) for c in KBCategory.objects.filter(pk__in=list(by_category))
        ]
    return page(
        request,
        "portal/kb/index.html",
        {"query": query, "results": results, "categories": categories},
    )


def portal_article(request: HttpRequest, slug: str) -> HttpResponse:
    article = knowledge.public_articles().filter(slug=slug).first()
    if article is None:
        raise Http404("No such article.")
    return page(request, "portal/kb/article.html", {"article": article})


def portal_suggestions(request: HttpRequest) -> HttpResponse:
    """htmx: public articles that may answer the subject being typed on the new ticket form."""
    subject = request.GET.get("subject", "")
    return render(
        request,
        "portal/kb/_suggestions.html",
        {"articles": knowledge.suggest(subject)},
    )


# ---------------------------------------------------------------------------------------------
# Agent panel (internal articles and drafts too)


@agent_required
def staff_index(request: HttpRequest) -> HttpResponse:
    query = knowledge.clean_query(request.GET.get("q", ""))
    articles = KBArticle.objects.select_related("category")
    if query:
        found = knowledge.search(articles, query, limit=100)
    else:
        found = list(articles.order_by("category__order", "category__name", "title")[:300])
    return render(
        request,
        "staff/kb/index.html",
        {"query": query, "articles": found, "can_edit": can_edit(request.user)},
    )


@agent_required
def staff_article(request: HttpRequest, slug: str) -> HttpResponse:
    article = get_object_or_404(KBArticle.objects.select_related("category"), slug=slug)
    return render(
        request,
        "staff/kb/article.html",
        {"article": article, "can_edit": can_edit(request.user)},
    )


@agent_required
def staff_edit(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    """Write a new article or edit one (agents with the knowledge base permission)."""
    if not can_edit(request.user):
        return render(
            request,
            "staff/ticket_denied.html",
            {"message": "You may read the knowledge base but not edit it."},
            status=403,
        )
    article = get_object_or_404(KBArticle, slug=slug) if slug else None
    form = KBArticleForm(request.POST or None, instance=article)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        if saved.created_by_id is None:
            saved.created_by = request.user
        saved.save()
        messages.success(request, f"Saved “{saved.title}”.")
        return redirect("automation:staff_kb_article", slug=saved.slug)
    return render(request, "staff/kb/edit.html", {"form": form, "article": article})


@agent_required
def staff_pick(request: HttpRequest) -> HttpResponse:
    """htmx: public articles matching ?q=, each with a button inserting its link in the reply
    (internal articles are left out: the requester could not open them)."""
    query = request.GET.get("q", "")
    results = knowledge.search(knowledge.public_articles(), query, limit=10)
    return render(
        request,
        "staff/kb/pick_results.html",
        {
            "articles": results,
            "query": query,
            "site_url": settings.SITE_URL,
            "target": "note_body" if request.GET.get("target") == "note_body" else "reply_body",
        },
    )
