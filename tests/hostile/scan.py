"""HTML-level checks, no browser: would this page run any of the corpus's script?

Two nets over the same response:
- `raw_fragments`: a payload's dangerous fragment (`<script>__xss('p01')`, `<img src=x
  onerror=…`) appears verbatim, i.e. unescaped, anywhere in the page;
- `structural`: the page parsed as a browser would (html.parser) holds a place where script runs
  or a document loads: an `on*`/`hx-on` attribute or a script/style body carrying a marker, a
  `javascript:`/`vbscript:`/`data:` URL in a URL attribute, `srcdoc`, CSS `expression()`,
  `<iframe>`, `<object>`, `<embed>`, `<base>`, `<meta http-equiv=refresh>`.

The help desk's own pages contain none of these, so any finding comes from a payload; each
finding names the markers it carries.
"""

import re
from html.parser import HTMLParser

from tests.hostile.corpus import ADDRESS_PAYLOADS, PAYLOADS, Payload, markers_in

URL_ATTRIBUTES = frozenset(
    {
        "href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
        "cite", "ping", "lowsrc", "dynsrc", "codebase", "manifest", "icon", "srcset", "to",
        "from", "values", "by",
    }
)  # fmt: skip
EMBEDDING_TAGS = frozenset({"iframe", "frame", "frameset", "object", "embed", "applet", "base"})
_SCHEME = re.compile(r"^(javascript|vbscript|livescript|data):", re.IGNORECASE)
_SAFE_IMAGE = re.compile(r"^data:image/(png|gif|jpe?g|webp)[;,]", re.IGNORECASE)
_CSS_DANGER = re.compile(r"expression\s*\(|javascript:|vbscript:|behavior\s*:|-moz-binding")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})\s?")
_SCRIPT_SRC_OK = re.compile(r"^/(?!/)[\w./@-]*$")  # same origin
_HTMX_EVAL = re.compile(r"^(data-)?hx-(on|vals|vars)")


def _url(value: str) -> str:
    """A URL as a browser reads its scheme: no leading C0/space, no tabs or newlines."""
    value = re.sub(r"[\t\n\r]", "", value)
    return value.lstrip("".join(chr(c) for c in range(0x21))).lower()


def _css(value: str) -> str:
    value = _CSS_COMMENT.sub("", value)
    value = _CSS_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    return re.sub(r"\s+", "", value.replace("\\", "")).lower()


def _snippet(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Scanner(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.findings: list[str] = []
        self._raw_tag = ""

    def _found(self, what: str, where: str) -> None:
        ids = ",".join(sorted(markers_in(where))) or "no marker"
        self.findings.append(f"[{ids}] {what}: {_snippet(where)}")

    def handle_starttag(self, tag, attrs):
        self._check(tag, attrs, self.get_starttag_text() or tag)
        if tag in ("script", "style"):
            self._raw_tag = tag

    def handle_startendtag(self, tag, attrs):
        self._check(tag, attrs, self.get_starttag_text() or tag)

    def handle_endtag(self, tag):
        if tag == self._raw_tag:
            self._raw_tag = ""

    def handle_data(self, data):
        if self._raw_tag == "script" and ("__xss" in data or markers_in(data)):
            self._found("script body carries a marker", data)
        elif self._raw_tag == "style" and (_CSS_DANGER.search(_css(data)) or "__xss" in data):
            self._found("style element runs script", data)

    def _check(self, tag: str, attrs, source: str) -> None:
        if markers_in(tag):
            self._found("marker in a tag name", source)
        if tag in EMBEDDING_TAGS:
            self._found(f"<{tag}> element", source)
        attributes = {}
        for name, value in attrs:
            name, value = name.lower(), value or ""
            attributes[name] = value
            carries = "__xss" in value or bool(markers_in(value))
            if "__xss" in name or markers_in(name):
                self._found("marker in an attribute name", source)
            elif name.startswith("on") and carries:
                self._found(f"event handler {name}", source)
            elif _HTMX_EVAL.match(name) and carries:
                self._found(f"htmx evaluates {name}", source)
            elif name == "srcdoc":
                self._found("srcdoc document", source)
            elif name in URL_ATTRIBUTES and _SCHEME.match(_url(value)):
                safe_image = tag == "img" and name == "src" and _SAFE_IMAGE.match(_url(value))
                if not safe_image:
                    self._found(f"script URL in {name}", source)
            elif name == "style" and (_CSS_DANGER.search(_css(value)) or carries):
                self._found("style attribute runs script", source)
        if tag == "script" and not _SCRIPT_SRC_OK.match(attributes.get("src", "/")):
            self._found("script from an unexpected source", source)
        if tag == "meta" and attributes.get("http-equiv", "").lower() == "refresh":
            self._found("meta refresh", source)


def structural(html: str) -> list[str]:
    """Places in the parsed page where script would run (see the module docstring)."""
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner.findings


ALL_PAYLOADS: list[Payload] = [*PAYLOADS, *ADDRESS_PAYLOADS]


def raw_fragments(html: str, payloads: list[Payload] = ALL_PAYLOADS) -> list[str]:
    """Dangerous fragments of the corpus found verbatim (unescaped) in the page."""
    found = []
    for payload in payloads:
        for fragment in payload.fragments:
            at = html.find(fragment)
            if at >= 0:
                context = html[max(0, at - 40) : at + len(fragment) + 40]
                found.append(f"[{payload.pid}] unescaped {fragment!r}: {_snippet(context)}")
    return found


def findings(html: str) -> list[str]:
    """Both nets over one page."""
    return raw_fragments(html) + structural(html)


class Problems:
    """Findings across many pages, each naming the surface (and channel) it was seen on."""

    def __init__(self):
        self.found: list[str] = []
        self.pages = 0

    def page(self, surface: str, response, *, expect_html: bool = True, shows: str = "") -> str:
        """Check one response; returns its text (for following links). `shows`: text the page
        must contain (a ticket number), so a login page or a 404 cannot pass as clean."""
        self.pages += 1
        status = response.status_code
        if status >= 500:
            self.found.append(f"{surface}: server error {status}")
            return ""
        content_type = response.get("Content-Type", "")
        if getattr(response, "streaming", False):
            # Read to the end: the test client then closes the response without closing the
            # database connection (response.close() alone would, on PostgreSQL).
            body = b"".join(response.streaming_content)
        else:
            body = response.content
        text = body.decode("utf-8", errors="replace")
        if "html" in content_type:
            self.found += [f"{surface}: {finding}" for finding in findings(text)]
        elif expect_html and status == 200:
            self.found.append(f"{surface}: answered {content_type!r}, not a page")
        if shows and (status != 200 or shows not in text):
            self.found.append(f"{surface}: answered {status} without {shows!r}")
        return text

    def html(self, surface: str, html: str) -> None:
        """Check HTML that did not come from a response (an email's HTML part)."""
        self.pages += 1
        self.found += [f"{surface}: {finding}" for finding in findings(html)]

    def add(self, problem: str) -> None:
        self.found.append(problem)

    def report(self) -> str:
        shown = self.found[:80]
        more = len(self.found) - len(shown)
        lines = [f"{len(self.found)} problems on {self.pages} pages:", *shown]
        if more:
            lines.append(f"… and {more} more")
        return "\n".join(lines)

    def assert_clean(self) -> None:
        assert not self.found, self.report()
