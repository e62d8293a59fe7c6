"""The hostile-input corpus: strings that try to run script wherever text is shown.

Every payload calls a marker unique to it, `__xss('p17')`, so that a failure names the payload:
the browser tests define `window.__xss` to record calls, and the HTML checks look for the marker
in places where a browser would run it. `fragments` are the raw substrings that must never reach
a page unescaped: each holds the payload's marker and a `<` (which both Django's escaping and
the HTML sanitiser always escape in text), so only markup made from the payload can contain one.
Payloads that are dangerous only inside an attribute (`" onfocus="…`) have no fragment: the
structural check (scan.py) finds the attribute they would create.

ADDRESS_PAYLOADS are email addresses that Django's validator accepts (a quoted local part may
hold `<`, `>`, quotes and parentheses): the email-address field of the portal and of mail.
"""

import base64
import re
from dataclasses import dataclass, field

MARKER = re.compile(r"__xss\(\s*[\"'`]?([pe]\d\d)")


def call(pid: str, quote: str = "'") -> str:
    """The marker call of a payload: __xss('p17')."""
    return f"__xss({quote}{pid}{quote})"


@dataclass(frozen=True)
class Payload:
    pid: str
    name: str
    family: str
    text: str
    fragments: tuple[str, ...]
    # Raw bytes for a mail body part when the text cannot say it (overlong UTF-8).
    mail_bytes: bytes | None = None
    # Used as a Subject header as is (an RFC 2047 encoded-word), not re-encoded.
    raw_header: bool = False
    tags: frozenset[str] = field(default_factory=frozenset)

    def __str__(self) -> str:
        return f"{self.pid} ({self.name})"

    @property
    def short(self) -> bool:
        """Fits an 80-character field (a saved search's name)."""
        return len(self.text) <= 80


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _p(pid, name, family, text, *fragments, **extra) -> Payload:
    return Payload(pid, name, family, text, tuple(fragments), **extra)


# fmt: off
PAYLOADS: list[Payload] = [
    # --- script elements -----------------------------------------------------------------
    _p("p01", "script tag", "script",
       f"<script>{call('p01')}</script>", f"<script>{call('p01')}"),
    _p("p02", "script src data URL", "script",
       f"<script src=\"data:text/javascript,{call('p02')}\"></script>",
       f"<script src=\"data:text/javascript,{call('p02')}"),
    _p("p03", "nested script (filter evasion)", "script",
       f"<scr<script>ipt>{call('p03')}</scr</script>ipt>", f"<script>ipt>{call('p03')}"),
    _p("p04", "textarea breakout", "script",
       f"</textarea><script>{call('p04')}</script>", f"</textarea><script>{call('p04')}"),
    _p("p05", "title breakout", "script",
       f"</title><script>{call('p05')}</script>", f"</title><script>{call('p05')}"),
    _p("p06", "script-context breakout", "script",
       f"</script><script>{call('p06')}</script>", f"</script><script>{call('p06')}"),
    # --- event handlers ------------------------------------------------------------------
    _p("p07", "img onerror", "handler",
       f"<img src=x onerror={call('p07')}>", f"<img src=x onerror={call('p07')}"),
    _p("p08", "svg onload", "handler",
       f"<svg onload={call('p08')}>", f"<svg onload={call('p08')}"),
    _p("p09", "body onload", "handler",
       f"<body onload={call('p09')}>", f"<body onload={call('p09')}"),
    _p("p10", "details ontoggle", "handler",
       f"<details open ontoggle={call('p10')}>x</details>",
       f"<details open ontoggle={call('p10')}"),
    _p("p11", "autofocus onfocus", "handler",
       f"<input autofocus onfocus={call('p11')}>", f"<input autofocus onfocus={call('p11')}"),
    _p("p12", "iframe srcdoc", "handler",
       f"<iframe srcdoc=\"<script>parent.{call('p12')}</script>\"></iframe>",
       f"<iframe srcdoc=\"<script>parent.{call('p12')}"),
    _p("p13", "video source onerror", "handler",
       f"<video><source onerror={call('p13')}></video>", f"<source onerror={call('p13')}"),
    _p("p14", "marquee onstart", "handler",
       f"<marquee onstart={call('p14')}>x</marquee>", f"<marquee onstart={call('p14')}"),
    _p("p15", "div onmouseover (needs a pointer)", "handler",
       f"<div style=\"position:fixed;inset:0\" onmouseover={call('p15')}>x</div>",
       f"<div style=\"position:fixed;inset:0\" onmouseover={call('p15')}"),
    _p("p16", "slash-separated attributes", "handler",
       f"<img/src/onerror={call('p16')}>", f"<img/src/onerror={call('p16')}"),
    # --- dangerous URLs ------------------------------------------------------------------
    _p("p17", "javascript: href", "url",
       f"<a href=\"javascript:{call('p17')}\">click</a>", f"<a href=\"javascript:{call('p17')}"),
    _p("p18", "javascript: with tab and case", "url",
       f"<a href=\" \tJaVa\tScRiPt:{call('p18')}\">click</a>",
       f"<a href=\" \tJaVa\tScRiPt:{call('p18')}"),
    _p("p19", "vbscript: href", "url",
       f"<a href=\"vbscript:{call('p19')}\">click</a>", f"<a href=\"vbscript:{call('p19')}"),
    _p("p20", "data:text/html base64 href", "url",
       f"<a href=\"data:text/html;base64,{_b64('<script>' + call('p20') + '</script>')}\">x</a>",
       f"<a href=\"data:text/html;base64,{_b64('<script>' + call('p20') + '</script>')}"),
    _p("p21", "button formaction", "url",
       f"<form><button formaction=\"javascript:{call('p21')}\">go</button></form>",
       f"<button formaction=\"javascript:{call('p21')}"),
    _p("p22", "iframe javascript: src", "url",
       f"<iframe src=\"javascript:{call('p22')}\"></iframe>",
       f"<iframe src=\"javascript:{call('p22')}"),
    _p("p23", "object data", "url",
       f"<object data=\"javascript:{call('p23')}\"></object>",
       f"<object data=\"javascript:{call('p23')}"),
    _p("p24", "MathML xlink:href", "url",
       f"<math><a xlink:href=\"javascript:{call('p24')}\">x</a></math>",
       f"<math><a xlink:href=\"javascript:{call('p24')}"),
    _p("p25", "bare javascript: URL", "url",
       f"javascript:{call('p25')}//'\"", f"href=\"javascript:{call('p25')}"),
    # --- SVG -----------------------------------------------------------------------------
    _p("p26", "svg script", "svg",
       f"<svg><script>{call('p26')}</script></svg>", f"<svg><script>{call('p26')}"),
    _p("p27", "svg foreignObject", "svg",
       f"<svg><foreignObject><img src=x onerror={call('p27')}></foreignObject></svg>",
       f"<svg><foreignObject><img src=x onerror={call('p27')}"),
    _p("p28", "svg a xlink:href", "svg",
       f"<svg><a xlink:href=\"javascript:{call('p28')}\"><text y=20>x</text></a></svg>",
       f"<svg><a xlink:href=\"javascript:{call('p28')}"),
    _p("p29", "svg animate onbegin", "svg",
       f"<svg><animate onbegin={call('p29')} attributeName=x dur=1s>",
       f"<svg><animate onbegin={call('p29')}"),
    # --- CSS -----------------------------------------------------------------------------
    _p("p30", "style url(javascript:)", "css",
       f"<div style=\"background:url(javascript:{call('p30')})\">x</div>",
       f"<div style=\"background:url(javascript:{call('p30')}"),
    _p("p31", "CSS expression()", "css",
       f"<div style=\"width:expression({call('p31')})\">x</div>",
       f"<div style=\"width:expression({call('p31')}"),
    _p("p32", "style @import", "css",
       f"<style>@import 'javascript:{call('p32', chr(34))}';</style>",
       f"<style>@import 'javascript:{call('p32', chr(34))}"),
    _p("p33", "style-attribute injection", "css",
       f"x\" style=\"animation:spin 1s\" onanimationstart=\"{call('p33')}",
),
    # --- encodings -----------------------------------------------------------------------
    _p("p34", "hex entity j (&#x6a;avascript:)", "encoding",
       f"<a href=\"&#x6a;avascript:{call('p34')}\">x</a>",
       f"<a href=\"&#x6a;avascript:{call('p34')}"),
    _p("p35", "decimal entities", "encoding",
       "<a href=\"" + "".join(f"&#{ord(c)};" for c in "javascript:") + call("p35") + "\">x</a>",
       "<a href=\"" + "".join(f"&#{ord(c)};" for c in "javascript:") + call("p35")),
    _p("p36", "pre-escaped script", "encoding",
       f"&lt;script&gt;{call('p36')}&lt;/script&gt;", f"<script>{call('p36')}"),
    _p("p37", "UTF-7", "encoding",
       f"+ADw-script+AD4-{call('p37')}+ADw-/script+AD4-", f"<script>{call('p37')}"),
    _p("p38", "fullwidth brackets", "encoding",
       f"\uff1cscript\uff1e{call('p38')}\uff1c/script\uff1e", f"<script>{call('p38')}"),
    _p("p39", "overlong UTF-8", "encoding",
       f"\u00c0\u00bcscript\u00c0\u00be{call('p39')}\u00c0\u00bc/script\u00c0\u00be",
       f"<script>{call('p39')}",
       mail_bytes=b"\xc0\xbcscript\xc0\xbe" + call("p39").encode() + b"\xc0\xbc/script\xc0\xbe"),
    _p("p40", "null bytes", "encoding",
       f"<scr\x00ipt>{call('p40')}</scr\x00ipt><img src=x one\x00rror={call('p40')}>",
       f"<script>{call('p40')}", f"<img src=x onerror={call('p40')}"),
    _p("p41", "RTL override", "encoding",
       f"\u202egpj.exe <img src=x onerror={call('p41')}>\u202c",
       f"<img src=x onerror={call('p41')}"),
    # --- attribute breakouts -------------------------------------------------------------
    _p("p42", "double-quote breakout", "breakout",
       f"\"'><script>{call('p42')}</script>", f"\"'><script>{call('p42')}"),
    _p("p43", "single-quote breakout", "breakout",
       f"'><img src=x onerror={call('p43')}>", f"'><img src=x onerror={call('p43')}"),
    _p("p44", "attribute injection", "breakout",
       f"\" autofocus onfocus=\"{call('p44')}"),
    _p("p45", "single-quoted attribute injection", "breakout",
       f"' onmouseover='{call('p45', chr(34))}"),
    # --- template injection --------------------------------------------------------------
    _p("p46", "Django |safe", "template",
       "{{ '<script>" + call("p46", '"') + "</script>'|safe }}", "<script>" + call("p46", '"')),
    _p("p47", "Django autoescape off", "template",
       "{% autoescape off %}<script>" + call("p47") + "</script>{% endautoescape %}",
       "<script>" + call("p47")),
    _p("p48", "${} and AngularJS", "template",
       "${" + call("p48") + "}{{constructor.constructor('" + call("p48", '"') + "')()}}",
),
    _p("p49", "Django evaluated", "template",
       "{{ \"xss-tpl-p49\"|upper }}{% now \"Y\" %}", "XSS-TPL-P49"),
    # --- markdown ------------------------------------------------------------------------
    _p("p50", "markdown javascript link", "markdown",
       f"[click](javascript:{call('p50')})", f"href=\"javascript:{call('p50')}"),
    _p("p51", "markdown image onerror", "markdown",
       f"![x](x\" onerror=\"{call('p51')})"),
    _p("p52", "markdown autolink", "markdown",
       f"<javascript:{call('p52')}>", f"href=\"javascript:{call('p52')}"),
    # --- header injection (CR/LF) --------------------------------------------------------
    _p("p53", "CR/LF Bcc injection", "header",
       "Printer jam\r\nBcc: victim-p53@hostile.example\r\nX-Injected: p53",
       tags=frozenset({"crlf"})),
    _p("p54", "CR/LF body injection", "header",
       f"Hello\r\n\r\n<script>{call('p54')}</script>", f"<script>{call('p54')}",
       tags=frozenset({"crlf"})),
    # --- mail-specific -------------------------------------------------------------------
    _p("p55", "encoded-word to script", "mail",
       f"=?utf-8?b?{_b64('<script>' + call('p55') + '</script>')}?=", f"<script>{call('p55')}",
       raw_header=True),
    _p("p56", "encoded-word to CR/LF", "mail",
       "=?utf-8?q?Hi=0D=0ABcc:_victim-p56@hostile.example=0D=0A=0D=0A=3Cscript=3E"
       "__xss('p56')=3C/script=3E?=",
       "<script>__xss('p56')", raw_header=True),
    # --- elements that navigate or re-base -----------------------------------------------
    _p("p57", "meta refresh", "navigation",
       f"<meta http-equiv=\"refresh\" content=\"0;url=javascript:{call('p57')}\">",
       f"<meta http-equiv=\"refresh\" content=\"0;url=javascript:{call('p57')}"),
    _p("p58", "base href", "navigation",
       f"<base href=\"javascript:{call('p58')}//\">", f"<base href=\"javascript:{call('p58')}"),
    _p("p59", "link stylesheet", "navigation",
       f"<link rel=stylesheet href=\"javascript:{call('p59')}\">",
       f"<link rel=stylesheet href=\"javascript:{call('p59')}"),
    # --- mutation XSS (sanitiser parser differentials) -----------------------------------
    _p("p60", "noscript mXSS", "mxss",
       f"<noscript><p title=\"</noscript><img src=x onerror={call('p60')}>\">",
       f"<img src=x onerror={call('p60')}"),
    _p("p61", "math/style mXSS", "mxss",
       f"<math><mtext><table><mglyph><style><img src=x onerror={call('p61')}>",
       f"<img src=x onerror={call('p61')}"),
    # --- htmx attributes (htmx runs on every page, eval allowed) -------------------------
    _p("p62", "hx-on attribute", "htmx",
       f"<div hx-on:htmx:load=\"{call('p62')}\" hx-get=\"/\" hx-trigger=\"load\">x</div>",
       f"<div hx-on:htmx:load=\"{call('p62')}"),
    _p("p63", "hx-vals js: expression", "htmx",
       f"<a hx-get=\"/\" hx-trigger=\"load\" hx-vals='js:{{a:{call('p63', chr(34))}}}'>x</a>",
       f"<a hx-get=\"/\" hx-trigger=\"load\" hx-vals='js:{{a:{call('p63', chr(34))}"),
]
# fmt: on

BY_ID = {p.pid: p for p in PAYLOADS}

# Email addresses the validator accepts (quoted local parts) that carry script.
# fmt: off
ADDRESS_PAYLOADS: list[Payload] = [
    _p("e01", "quoted local part: script", "address",
       f"\"<script>{call('e01')}</script>\"@hostile.example", f"<script>{call('e01')}"),
    _p("e02", "quoted local part: img onerror", "address",
       f"\"<img/src/onerror={call('e02')}>\"@hostile.example", f"<img/src/onerror={call('e02')}"),
    _p("e03", "single-quote attribute breakout", "address",
       "x'onmouseover=__xss`e03`'@hostile.example"),
    _p("e04", "escaped quote breakout", "address",
       f"\"\\\"><svg/onload={call('e04')}>\"@hostile.example", f"<svg/onload={call('e04')}"),
    _p("e05", "javascript: local part", "address",
       f"\"javascript:{call('e05')}\"@hostile.example", f"href=\"javascript:{call('e05')}"),
]
# fmt: on

# Run in Chromium: one or more of every family, the rest is covered by the HTML checks.
BROWSER_IDS = (
    "p01", "p07", "p08", "p10", "p11", "p12", "p17", "p21", "p27", "p33", "p34", "p42", "p44",
    "p46", "p54", "p61", "p62",
)  # fmt: skip
BROWSER_PAYLOADS = [BY_ID[pid] for pid in BROWSER_IDS]


def markers_in(text: str) -> set[str]:
    """Payload ids whose marker call appears in `text`."""
    return set(MARKER.findall(text or ""))
