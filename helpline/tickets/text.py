"""Bodies from outside: HTML is sanitised, text is derived, plain text stays plain."""

import re
from html import unescape

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


# What html_to_text does with each element. Content of these is never shown:
_HIDDEN = frozenset({"head", "title", "style", "script", "noscript", "template", "xml"})
_VOID = frozenset(
    {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"}
)
# A blank line before and after (a paragraph), or just a line break (a line of its own).
_PARAGRAPH = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "hr", "ul", "ol", "dl"}
)
_LINE = frozenset(
    {
        *("div", "li", "tr", "dt", "dd", "section", "article", "header", "footer", "main", "nav"),
        *("aside", "center", "form", "fieldset", "caption", "figure", "figcaption", "address"),
        *("details", "summary", "body", "html", "tbody", "thead", "tfoot", "legend", "option"),
    }
)
_SPACES = re.compile(r"[^\S\n]*\n[^\S\n]*|\s+")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\xad"))
_URL_PREFIX = re.compile(r"(?i)^(https?://|ftp://|mailto:)?(www\.)?")


# One token of HTML: a comment, a declaration (<!doctype>, <![if …]>, <?xml?>), an end tag or a
# start tag (attribute values quoted or not). Possessive quantifiers: no backtracking, ever; a
# "<" that starts no token (an unclosed quote, no ">") is text, as in browsers.
_TOKEN = re.compile(
    r"""<(?:
      !--.*?(?:-->|\Z)
    | ![^>]*+>?
    | \?[^>]*+>?
    | /(?P<end>[a-zA-Z][^\s/>]*+)[^>]*+>?
    | (?P<start>[a-zA-Z][^\s/>]*+)(?P<attrs>(?:[^>"']++|"[^"]*+"|'[^']*+')*+)>
    )""",
    re.S | re.X,
)
_ATTRIBUTE = re.compile(r"""([^\s=/>"']++)(?:\s*+=\s*+(?:"([^"]*+)"|'([^']*+)'|([^\s>]++)))?""")
# The elements whose attributes the renderer or reply extraction reads (links, list numbers,
# Word paragraphs, quote containers and separators).
_ATTRIBUTES_READ = frozenset({"a", "ol", "p", "div", "blockquote", "hr"})
_RAW_TEXT = {tag: re.compile(f"</{tag}", re.I) for tag in ("script", "style")}


class HtmlRenderer:
    """HTML as the lines a reader sees (see html_to_text).

    A tolerant tokenizer (any bytes are some HTML) and a renderer: unknown tags are inline,
    unclosed ones are closed by the end. Subclasses can watch elements (`element`) and see
    where each line starts in the source (`pos` in the callbacks, `line_started`), which mail
    reply extraction uses to cut quoted history out of the HTML.
    """

    def __init__(self):
        self.pos = 0  # where the token being handled starts in the source
        self.lines: list[str] = []
        self._cur: list[str] = []
        self._pending = 0  # line breaks wanted before the next text: 1 a new line, 2 a blank line
        self._hidden = 0
        self._pre = 0
        self._lists: list[list] = []  # [ordered, next number]
        self._prefix = ""
        self._link: list | None = None  # [href, label parts]
        self._paragraphs: list[int] = []  # the open <p>s: the line breaks around each

    # -- output ---------------------------------------------------------------------------
    def _end_line(self) -> None:
        self.lines.append("".join(self._cur).rstrip())
        self._cur = []

    def _want(self, breaks: int) -> None:
        self._pending = max(self._pending, breaks)

    def _flush(self) -> None:
        if not self._pending:
            return
        if self._cur:
            self._end_line()
        if self._pending == 2 and self.lines and self.lines[-1]:
            self.lines.append("")
        self._pending = 0

    def _write(self, text: str) -> None:
        if self._pending:
            self._flush()
        if not self._cur:
            self.line_started()
            if self._prefix:
                self._cur.append(self._prefix)
                self._prefix = ""
        self._cur.append(text)
        if self._link is not None:
            self._link[1].append(text)

    def line_started(self) -> None:
        """Called when text starts a new line (self.lines holds the lines before it)."""

    def element(self, tag: str, attrs: list, start: bool) -> None:
        """Called for every start tag (start=True) and end tag a subclass may care about."""

    # -- tokenizer -------------------------------------------------------------------------
    def feed(self, source: str) -> None:
        """Tokenize the whole of `source` (call once) and render it."""
        pos = 0
        search = _TOKEN.search
        while True:
            m = search(source, pos)
            if m is None:
                break
            if m.start() > pos:
                self.pos = pos
                text = source[pos : m.start()]
                self.handle_data(unescape(text) if "&" in text else text)
            self.pos = m.start()
            pos = m.end()
            if m.group("end"):
                self.handle_endtag(m.group("end").lower())
                continue
            tag = m.group("start")
            if not tag:
                continue  # a comment or a declaration
            tag = tag.lower()
            raw = m.group("attrs")
            if tag not in _ATTRIBUTES_READ and not (tag == "span" and "olk" in raw.lower()):
                raw = raw[-1:] if raw.endswith("/") else ""  # nobody reads them: not parsed
            attrs = (
                [
                    (a.group(1).lower(), unescape(a.group(2) or a.group(3) or a.group(4) or ""))
                    for a in _ATTRIBUTE.finditer(raw)
                ]
                if raw.strip(" \t\r\n/")
                else []
            )
            if raw.endswith("/"):
                self.handle_startendtag(tag, attrs)
            else:
                self.handle_starttag(tag, attrs)
            if tag in _RAW_TEXT:  # its text is not markup: skip to its end tag
                end = _RAW_TEXT[tag].search(source, pos)
                pos = len(source) if end is None else end.start()
        if pos < len(source):
            self.pos = pos
            text = source[pos:]
            self.handle_data(unescape(text) if "&" in text else text)

    # -- callbacks --------------------------------------------------------------------------
    def handle_starttag(self, tag, attrs):
        if tag in _HIDDEN:
            if tag == "head" or not self._hidden:
                self._hidden += 1
            return
        if tag == "body":
            self._hidden = 0
        if self._hidden:
            return
        if tag == "br":
            self._flush()
            self._end_line()
            self.element(tag, attrs, True)
            return
        if tag == "a":
            self._close_link()
            href = next((v for k, v in attrs if k == "href"), None)
            self._link = [(href or "").strip(), []]
        elif tag in ("ul", "ol"):
            self._want(1 if self._lists else 2)
            start = next((v for k, v in attrs if k == "start"), "1")
            self._lists.append([tag == "ol", int(start) if start and start.isdigit() else 1])
        elif tag == "li":
            self._want(1)
            self._prefix = self._bullet()
        elif tag == "pre":
            self._pre += 1
        elif tag in ("td", "th") and self._cur and not self._pending:
            self._write(" ")
        if tag == "p":
            # Word's paragraphs (class MsoNormal…) have no margin: a line each, no blank line.
            mso = "mso" in next((v for k, v in attrs if k == "class"), "").lower()
            if self._paragraphs and self._paragraphs[-1]:
                self._paragraphs.pop()  # a <p> closes the open one
            self._paragraphs.append(1 if mso else 2)
            self._want(self._paragraphs[-1])
        elif tag in _PARAGRAPH:
            self._want(1 if tag in ("ul", "ol") and len(self._lists) > 1 else 2)
        elif tag in _LINE:
            self._want(1)
        self.element(tag, attrs, True)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in _HIDDEN:
            if self._hidden:
                self._hidden -= 1
            return
        if self._hidden:
            return
        if tag == "a":
            self._close_link()
        elif tag in ("ul", "ol") and self._lists:
            self._lists.pop()
        elif tag == "li":
            self._prefix = ""
        elif tag == "pre" and self._pre:
            self._pre -= 1
        if tag == "p":
            self._want(self._paragraphs.pop() if self._paragraphs else 2)
        elif tag in _PARAGRAPH:
            self._want(1 if tag in ("ul", "ol") and self._lists else 2)
        elif tag in _LINE:
            self._want(1)
        self.element(tag, (), False)

    def handle_data(self, data):
        if self._hidden or not data:
            return
        data = data.translate(_INVISIBLE)
        if self._pre:
            first, *rest = data.split("\n")
            if first:
                self._write(first)
            for part in rest:
                self._flush()
                self._end_line()
                if part:
                    self._write(part)
            return
        text = _SPACES.sub(" ", data.replace("\xa0", " "))
        if not self._cur or self._pending or self._cur[-1].endswith(" "):
            text = text.lstrip(" ")
        if text:
            self._write(text)

    def close(self):
        self._close_link()
        if self._cur:
            self._end_line()

    # -- helpers ---------------------------------------------------------------------------
    def _bullet(self) -> str:
        indent = "  " * (len(self._lists) - 1) if self._lists else ""
        if self._lists and self._lists[-1][0]:
            number = self._lists[-1][1]
            self._lists[-1][1] += 1
            return f"{indent}{number}. "
        return f"{indent}- "

    def _close_link(self) -> None:
        if self._link is None:
            return
        href, parts = self._link
        self._link = None
        label = "".join(parts).strip()
        if not label or not href.lower().startswith(("http://", "https://", "ftp://")):
            return
        if (
            _URL_PREFIX.sub("", label).rstrip("/").lower()
            == _URL_PREFIX.sub("", href).rstrip("/").lower()
        ):
            return
        self._cur.append(f" ({href})")

    def text(self) -> str:
        lines = [line.rstrip() for line in self.lines]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def html_to_text(raw: str) -> str:
    """What a person reads in this HTML, as plain text.

    No <head>, <title>, <style> or <script> text, no indentation from the source; paragraphs,
    <br>, list items and table rows on lines of their own (`- ` before an item of a <ul>, `1. `
    of an <ol>), a blank line between paragraphs; links as "label (https://…)" (the label
    alone when it is the URL or the link is a mailto:), images as nothing. Works on sanitised
    and unsanitised HTML alike.
    """
    if not raw:
        return ""
    renderer = HtmlRenderer()
    renderer.feed(raw)
    renderer.close()
    return renderer.text().strip()


def header_text(value: str) -> str:
    """Text for a mail header: one line, and no RFC 2047 encoded-word a mail parser would decode.

    A subject typed as "=?utf-8?q?Hi=0D=0ABcc:…?=" would otherwise be decoded when the message is
    built and its line breaks written raw (CVE-2024-6923 on older Pythons): a word joiner between
    "=" and "?" keeps it literal text, and looks the same.
    """
    return " ".join(value.split()).replace("=?", "=\u2060?")
