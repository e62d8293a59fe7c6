"""The corpus and the HTML checks themselves: every payload is live, every check can fail.

For each payload some naive rendering (raw, inside an unescaped attribute, as markdown,
decoded once more, evaluated as a template …) is caught by scan.py and named by its marker, so
a clean page means the help desk rendered it safely, not that the check is blind. And escaped
or sanitised output is never flagged, so a finding is never noise.
"""

import base64
import codecs
import contextlib
import html
import re
import unicodedata
from email.header import decode_header, make_header

import markdown
import pytest
from django.template import Context, Template
from django.utils.html import escape

from helpline.tickets.text import sanitize_html
from tests.hostile.corpus import (
    ADDRESS_PAYLOADS,
    BROWSER_PAYLOADS,
    PAYLOADS,
    Payload,
    markers_in,
)
from tests.hostile.scan import findings

ALL = [*PAYLOADS, *ADDRESS_PAYLOADS]
FAMILIES = {
    "script", "handler", "url", "svg", "css", "encoding", "breakout", "template", "markdown",
    "header", "mail", "navigation", "mxss", "htmx",
}  # fmt: skip


def test_the_corpus_is_wide_and_each_payload_names_itself():
    assert len(PAYLOADS) >= 40
    assert len({p.pid for p in ALL}) == len(ALL)
    assert {p.family for p in PAYLOADS} == FAMILIES
    for payload in ALL:
        shown = markers_in(payload.text) | markers_in(_decoded(payload))
        # Header injections and the evaluated template carry their id without a call.
        assert shown == {payload.pid} or payload.pid in payload.text.lower(), payload
        assert shown <= {payload.pid}, payload
        for fragment in payload.fragments:
            assert payload.pid in fragment.lower() or payload.pid == "p20", (payload, fragment)
    assert 12 <= len(BROWSER_PAYLOADS) <= 20
    assert {p.family for p in BROWSER_PAYLOADS} >= {"script", "handler", "url", "svg", "css"}


def _decoded(payload: Payload) -> str:
    """The payload's RFC 2047 encoded-words or base64 data URL, decoded."""
    found = re.search(r"base64,([A-Za-z0-9+/=]+)", payload.text)
    if found:
        return base64.b64decode(found.group(1)).decode()
    try:
        return str(make_header(decode_header(payload.text)))
    except Exception:  # noqa: BLE001 - not an encoded-word
        return ""


def naive_renderings(payload: Payload) -> list[str]:
    """How a careless help desk could put the payload into a page."""
    text = payload.text
    renderings = [
        text,
        f'<input value="{text}">',
        f"<input value='{text}'>",
        f'<a href="{text}">x</a>',
        markdown.markdown(text),
        html.unescape(text),
        unicodedata.normalize("NFKC", text),
        text.replace("\x00", ""),
        _decoded(payload),
        # Overlong UTF-8 (C0 BC, C0 BE) read by a lenient decoder as < and >.
        text.replace("\u00c0\u00bc", "<").replace("\u00c0\u00be", ">"),
        f"<script>const note = `{text}`;</script>",
    ]
    with contextlib.suppress(UnicodeDecodeError):
        renderings.append(codecs.decode(text.encode(), "utf-7"))
    with contextlib.suppress(Exception):  # not a valid template
        renderings.append(Template(text).render(Context()))
    return renderings


@pytest.mark.parametrize("payload", [p for p in ALL if p.family != "header" or "<" in p.text])
def test_the_checks_catch_every_payload_rendered_naively(payload):
    caught = [f for r in naive_renderings(payload) for f in findings(r)]
    assert any(payload.pid in f or payload.pid.upper() in f for f in caught), caught


@pytest.mark.parametrize("payload", ALL)
def test_escaped_and_sanitised_output_is_never_flagged(payload):
    """Django's escaping (text and attribute) and the thread's HTML sanitiser (nh3, as
    actions._add_entry stores body_html) leave nothing the checks flag."""
    escaped = escape(payload.text)
    for rendering in (escaped, f'<input value="{escaped}">', f"<p title='{escaped}'>x</p>"):
        assert findings(rendering) == [], rendering
    assert findings(sanitize_html(payload.text)) == []
    assert findings(sanitize_html(f"<div><p>{payload.text}</p></div>")) == []
