"""Reply extraction: the new part of an answer, without the quoted history and the signature.

The whole message is kept elsewhere (the agent can always expand it); this only decides what the
thread shows. When in doubt it keeps text: a line too many is better than a lost sentence.
"""

import re

from helpline.tickets.text import sanitize_html

# Our own marker, at the top of every mail we send to requesters.
REPLY_MARKER = "##- Please type your reply above this line -##"
_MARKER = re.compile(r"(?i)#*-?\s*(please\s+)?type\s+your\s+reply\s+above\s+this\s+line")

# "On Tue, 3 Mar 2026 at 10:02, Karen <karen@example.com> wrote:" and its translations.
_WROTE = re.compile(
    r"(?is)^\s*(on|am|le|el|il|op|em|w\s+dniu|den|på|dne|el\s+día|в|il\s+giorno)\b.{4,300}?"
    r"(wrote|schrieb|a\s+écrit|escribió|ha\s+scritto|schreef|escreveu|napisał|skrev|"
    r"napsal|написал|написала|kirjoitti)\s*:\s*$"
)
_WROTE_SHORT = re.compile(r"(?i)^.{1,200}\b(wrote|schrieb|a écrit|escribió|schreef):\s*$")

# Outlook / Exchange put a header block above the quoted message.
_HEADER_FROM = re.compile(r"(?i)^\s*\*?(from|von|de|da|van|od|från|fra)\s*:\*?\s*\S")
_HEADER_OTHER = re.compile(
    r"(?i)^\s*\*?(sent|date|gesendet|datum|envoyé|enviado|fecha|inviato|verzonden|"
    r"to|an|à|para|a|aan|subject|betreff|objet|asunto|oggetto|onderwerp|cc)\s*:"
)
_SEPARATORS = re.compile(
    r"(?i)^\s*(-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|"
    r"mensaje original|messaggio originale|oorspronkelijk bericht)\s*-{2,}|_{20,})\s*$"
)
_FORWARD = re.compile(
    r"(?i)^\s*(-{3,}\s*(forwarded message|weitergeleitete nachricht|message transféré|"
    r"mensaje reenviado)\s*-{3,}|begin forwarded message:|anfang der weitergeleiteten nachricht:)"
)
_SIGNATURE = re.compile(r"^--\s?$")
_MOBILE = re.compile(
    r"(?i)^\s*(sent from my \w+|sent from (outlook|mail|yahoo mail|gmail)\b.*|"
    r"get outlook for (ios|android)|sent via .{1,60}|sent from samsung .*|"
    r"von meinem \w+ gesendet|gesendet von meinem \w+.*|envoyé de mon \w+|"
    r"enviado desde mi \w+|inviato da(l mio)? \w+|verzonden vanaf mijn \w+)\s*$"
)


def _cut_index(lines: list[str]) -> int | None:
    """Index of the first line of quoted history, or None."""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _MARKER.search(stripped):
            return _back_over_attribution(lines, i)
        if _SEPARATORS.match(stripped) or _FORWARD.match(stripped):
            return i
        if _WROTE.match(stripped) or _WROTE_SHORT.match(stripped):
            return i
        # "On ... <karen@example.com>" wrapped over two or three lines by the client.
        if re.match(r"(?i)^\s*(on|am|le|el|il|op)\b", stripped):
            for end in (2, 3):
                candidate = " ".join(x.strip() for x in lines[i : i + end])
                if _WROTE.match(candidate) and len(candidate) < 320:
                    return i
        if _HEADER_FROM.match(stripped) and _header_block(lines, i):
            return i
    return None


def _header_block(lines: list[str], start: int) -> bool:
    """A From: line followed by at least two more header lines: a quoted Outlook header."""
    following = [x for x in lines[start + 1 : start + 6] if x.strip()]
    return sum(1 for x in following if _HEADER_OTHER.match(x)) >= 2


def _back_over_attribution(lines: list[str], index: int) -> int:
    """Step back over "On … wrote:" and blank lines just above our marker."""
    i = index
    while i > 0 and (not lines[i - 1].strip() or lines[i - 1].lstrip().startswith(">")):
        i -= 1
    if i > 0 and (_WROTE.match(lines[i - 1].strip()) or _WROTE_SHORT.match(lines[i - 1].strip())):
        i -= 1
    return i


def _drop_trailing_quote(lines: list[str]) -> list[str]:
    """Remove the ">" block at the end; interleaved quotes stay (they give answers context)."""
    end = len(lines)
    while end > 0 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith(">")):
        end -= 1
    return lines[:end]


def _drop_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if _SIGNATURE.match(line) and i > 0:
            return lines[:i]
    # A mobile signature is only a signature at the end of the new part.
    tail = [i for i, line in enumerate(lines) if line.strip()]
    if tail and _MOBILE.match(lines[tail[-1]]):
        return lines[: tail[-1]]
    return lines


def extract_reply(text: str) -> str:
    """The new part of a plain-text message. Returns the whole text if nothing new remains."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    cut = _cut_index(lines)
    if cut is not None:
        lines = lines[:cut]
    lines = _drop_trailing_quote(lines)
    lines = _drop_signature(lines)
    reply = "\n".join(line.rstrip() for line in lines).strip()
    return reply if reply else (text or "").strip()


# Where mail clients start the quoted part of an HTML message.
_HTML_QUOTE_STARTS = [
    re.compile(p, re.I)
    for p in (
        r"<div[^>]*class=\"?[^\">]*gmail_quote",
        r"<blockquote[^>]*type=\"?cite",
        r"<div[^>]*id=\"?divRplyFwdMsg",
        r"<div[^>]*id=\"?appendonsend",
        r"<hr[^>]*id=\"?stopSpelling",
        r"<div[^>]*class=\"?[^\">]*moz-cite-prefix",
        r"<div[^>]*class=\"?[^\">]*yahoo_quoted",
        r"<div[^>]*style=\"?[^\">]*border-top:\s*solid\s*#[eE]1[eE]1[eE]1",
        r"-{2,}\s*Original Message\s*-{2,}",
        r"#*-?\s*(please\s+)?type\s+your\s+reply\s+above\s+this\s+line",
    )
]


def cut_html(html: str) -> tuple[str, bool]:
    """(HTML before the first quoted-history marker, whether a marker was found)."""
    if not html:
        return "", False
    positions = [m.start() for p in _HTML_QUOTE_STARTS if (m := p.search(html))]
    if not positions:
        return html, False
    return html[: min(positions)], True


def extract(text: str, html: str) -> tuple[str, str]:
    """(new text, new sanitised HTML) of a message, given its text and its unsanitised HTML.

    The HTML must be the original: sanitising first would strip the class names that mark where
    quoted history starts. The HTML is dropped when its quote cannot be located.
    """
    reply = extract_reply(text)
    trimmed = reply != (text or "").strip()
    new_html, found = cut_html(html)
    if html and trimmed and not found:
        new_html = ""  # The text lost its quote but the HTML would still show it.
    if found and not re.sub(r"<[^>]+>|&nbsp;|\s", "", new_html):
        new_html = ""  # Nothing but markup above the quote: the text says it better.
    return reply, sanitize_html(new_html)
