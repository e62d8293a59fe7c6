"""Forms of the automation pages: the dry run and the agents' knowledge base editor."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from helpline.automation.models import KBArticle
from helpline.automation.models.knowledge import RESERVED_SLUGS
from helpline.tickets.models import HelpTopic, Priority, Source

RAW_EMAIL_MAX = 200_000


def parse_headers(text: str) -> dict[str, str]:
    """ "Name: value" lines → {name: value}; folded lines continue the previous header."""
    headers: dict[str, str] = {}
    last = None
    for line in (text or "").splitlines():
        if line[:1] in (" ", "\t") and last:
            headers[last] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if colon and name.strip() and " " not in name.strip():
            last = name.strip().lower()
            headers[last] = value.strip()
    return headers


class DryRunForm(forms.Form):
    raw_email = forms.CharField(
        label="Raw email (optional)",
        required=False,
        max_length=RAW_EMAIL_MAX,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text="Paste a whole message with its headers (as “Show original” gives it). When "
        "given, the fields below are ignored.",
    )
    sender = forms.EmailField(label="Sender address", required=False)
    recipient = forms.EmailField(label="Recipient (mailbox) address", required=False)
    subject = forms.CharField(max_length=255, required=False)
    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    source = forms.ChoiceField(choices=Source.choices, initial=Source.EMAIL)
    help_topic = forms.ModelChoiceField(
        HelpTopic.objects.filter(active=True), required=False, empty_label="— none —"
    )
    priority = forms.ModelChoiceField(
        Priority.objects.all(), required=False, empty_label="— as the help topic says —"
    )
    headers = forms.CharField(
        label="Email headers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="One per line, e.g. “X-Priority: 1”.",
    )

    def clean(self):
        data = super().clean()
        raw = (data.get("raw_email") or "").strip()
        if not raw and not data.get("sender"):
            raise ValidationError("Give a sender address (or paste a raw email).")
        if not raw and not (data.get("subject") or "").strip():
            self.add_error("subject", "Give a subject (or paste a raw email).")
        data["header_dict"] = parse_headers(data.get("headers") or "")
        return data


class KBArticleForm(forms.ModelForm):
    class Meta:
        model = KBArticle
        fields = ("title", "slug", "category", "visibility", "published", "body")
        widgets = {"body": forms.Textarea(attrs={"rows": 18})}
        help_texts = {"slug": "The address: /kb/<slug>/. Empty: made from the title."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug") or slugify(self.data.get("title", ""))[:200]
        if not slug:
            raise ValidationError("Give the article an address (letters, digits, hyphens).")
        if slug in RESERVED_SLUGS:
            raise ValidationError(f"“{slug}” is used by the help center itself; choose another.")
        clash = KBArticle.objects.filter(slug=slug).exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError("Another article has this address.")
        return slug
