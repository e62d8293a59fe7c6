"""Checks of a sent email as the mail server receives it: the header block and the parts.

Header injection shows in the bytes on the wire, not in decoded header values (a decoded
RFC 2047 subject may legitimately contain a line break that travels safely encoded), so the
header block is read raw: one `Name: value` line per header (continuation lines folded), no
header a payload names (Bcc, X-Injected), From/To/Subject/Message-ID still in it, nothing
before the first MIME part, and the text part exactly the body that was written.
"""

import re
from email import message_from_bytes, policy

INJECTED_NAMES = {b"bcc", b"x-injected"}
REQUIRED = (b"from", b"to", b"subject", b"message-id")
_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")


def html_parts(message) -> list[str]:
    """The text/html alternatives of a Django email."""
    return [body for body, kind in getattr(message, "alternatives", []) if kind == "text/html"]


def _header_lines(raw: bytes) -> list[bytes]:
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    lines: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and lines:
            lines[-1] += line  # a folded continuation
        else:
            lines.append(line)
    return lines


def header_problems(message) -> list[str]:
    """What went wrong in one Django email's headers and structure, if anything."""
    where = f"email {message.subject[:70]!r} to {message.to}"
    raw = message.message().as_bytes()
    found = []
    names = []
    for line in _header_lines(raw):
        if not _HEADER_LINE.match(line):
            found.append(f"{where}: a line in the header block is no header: {line[:80]!r}")
            continue
        name = line.split(b":", 1)[0].lower()
        names.append(name)
        if name in INJECTED_NAMES:
            found.append(f"{where}: injected header {line[:80]!r}")
    for name in REQUIRED:
        if names.count(name) != 1:
            found.append(f"{where}: {name.decode()} appears {names.count(name)} times in the head")
    if any("victim" in address for address in message.recipients()):
        found.append(f"{where}: injected recipient {message.recipients()}")
    parsed = message_from_bytes(raw, policy=policy.default)
    if (parsed.preamble or "").strip():
        found.append(f"{where}: text before the first part: {parsed.preamble[:80]!r}")
    # The text part is exactly the body we wrote: nothing from a header spilled into it.
    intended = message.body.replace("\r\n", "\n").strip()
    texts = [p.get_content() for p in parsed.walk() if p.get_content_type() == "text/plain"]
    if not any(t.replace("\r\n", "\n").strip() == intended for t in texts):
        found.append(f"{where}: the text part is not the body that was written")
    return found
