"""The knowledge base: categories and articles written in Markdown, public or internal."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

# Paths of the help center itself, which an article's address must not shadow.
RESERVED_SLUGS = {"suggestions", "search", "new", "pick"}


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public (client portal and agents)"
    INTERNAL = "internal", "Internal (agents only)"


class KBCategory(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name = "knowledge base category"
        verbose_name_plural = "knowledge base categories"

    def __str__(self) -> str:
        return self.name


class KBArticle(models.Model):
    category = models.ForeignKey(KBCategory, on_delete=models.PROTECT, related_name="articles")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    body = models.TextField(help_text="Markdown. HTML is cleaned: no scripts, styles or frames.")
    # Rendered from `body` on save: Markdown → HTML → sanitised (tickets.text.sanitize_html).
    body_html = models.TextField(blank=True, editable=False)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    published = models.BooleanField(default=True, help_text="Drafts are shown to agents only.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["category__order", "title"]
        verbose_name = "knowledge base article"
        permissions = [("edit_kb", "Can write and edit knowledge base articles")]
        indexes = [
            models.Index(fields=["visibility", "published", "title"], name="kb_visible_title"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        from helpline.automation.knowledge import render_markdown

        self.body_html = render_markdown(self.body)
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return f"/kb/{self.slug}/" if self.is_public else f"/staff/kb/{self.slug}/"

    def clean(self):
        if self.slug in RESERVED_SLUGS:
            raise ValidationError(
                {"slug": f"“{self.slug}” is used by the help center itself; choose another."}
            )

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC and self.published
