"""Bodies from outside: HTML is sanitised, text is derived, plain text stays plain."""

import html
import re

import nh3

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}


def sanitize_html(raw: str) -> str:
    """HTML safe to show inside our pages: no scripts, styles, event handlers or odd URLs."""
    if not raw:
        return ""
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer nofollow",
    )


_BLOCK_END = re.compile(r"(?i)</(p|div|li|tr|h[1-6]|blockquote|pre|table)>|<br\s*/?>")
_TAG = re.compile(r"<[^>]+>")


def html_to_text(raw: str) -> str:
    """A readable plain-text rendering of (already sanitised) HTML."""
    text = _BLOCK_END.sub("\n", nh3.clean(raw or "", tags=ALLOWED_TAGS))
    text = html.unescape(_TAG.sub("", text))
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def header_text(value: str) -> str:
    """Text for a mail header: one line, and no RFC 2047 encoded-word a mail parser would decode.

    A subject typed as "=?utf-8?q?Hi=0D=0ABcc:…?=" would otherwise be decoded when the message is
    built and its line breaks written raw (CVE-2024-6923 on older Pythons): a word joiner between
    "=" and "?" keeps it literal text, and looks the same.
    """
    return " ".join(value.split()).replace("=?", "=\u2060?")
