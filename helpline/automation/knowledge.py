"""Knowledge base: Markdown rendering, visibility and search.

Search is a simple case-insensitive `icontains` over title and body, title matches first: fine for
a knowledge base of hundreds or a few thousand articles (it is a table scan). A larger one wants
the database's full-text index, like ticket search.
"""

import markdown
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from helpline.automation.models import KBArticle, Visibility
from helpline.tickets import access
from helpline.tickets.text import sanitize_html

MAX_QUERY = 100
_STOP_WORDS = {
    "the", "a", "an", "and", "or", "is", "are", "to", "of", "in", "on", "my", "i", "it", "not",
    "for", "with", "can", "cannot", "can't", "does", "do", "be", "at", "me", "no", "your",
}  # fmt: skip


def render_markdown(text: str) -> str:
    """Markdown → HTML → sanitised HTML (raw HTML in the source is cleaned too)."""
    html = markdown.markdown(text or "", extensions=["fenced_code", "tables", "sane_lists"])
    return sanitize_html(html)


def visible_articles(user) -> QuerySet:
    """What `user` may read: agents everything (drafts included), everyone else public,
    published articles only."""
    articles = KBArticle.objects.select_related("category")
    if access.is_agent(user):
        return articles
    return articles.filter(visibility=Visibility.PUBLIC, published=True)


def public_articles() -> QuerySet:
    return KBArticle.objects.select_related("category").filter(
        visibility=Visibility.PUBLIC, published=True
    )


def clean_query(query: str) -> str:
    return " ".join((query or "").replace("\x00", " ").split())[:MAX_QUERY]


def search(articles: QuerySet, query: str, limit: int = 20) -> list[KBArticle]:
    """Articles containing every word of `query` in the title or body, title matches first."""
    words = [w for w in clean_query(query).split(" ") if w][:6]
    if not words:
        return []
    for word in words:
        articles = articles.filter(Q(title__icontains=word) | Q(body__icontains=word))
    title_hits = Q()
    for word in words:
        title_hits &= Q(title__icontains=word)
    ranked = articles.annotate(
        in_title=Case(
            When(title_hits, then=Value(1)), default=Value(0), output_field=IntegerField()
        )
    )
    return list(ranked.order_by("-in_title", "title")[:limit])


def suggest(subject: str, limit: int = 5) -> list[KBArticle]:
    """Public articles that may answer a request, from the words of its subject (any word of
    three letters or more that is not a stop word, title matches first)."""
    words = [w.strip(".,:;!?()[]\"'").lower() for w in clean_query(subject).split(" ")]
    words = [w for w in words if len(w) >= 3 and w not in _STOP_WORDS][:6]
    if not words:
        return []
    title_any, body_any = Q(), Q()
    for word in words:
        title_any |= Q(title__icontains=word)
        body_any |= Q(body__icontains=word)
    ranked = (
        public_articles()
        .filter(title_any | body_any)
        .annotate(
            in_title=Case(
                When(title_any, then=Value(1)), default=Value(0), output_field=IntegerField()
            )
        )
    )
    return list(ranked.order_by("-in_title", "title")[:limit])
