"""`helpline mail check FILE`: what intake would do with a message, and why, storing nothing.

For administrators debugging a mailbox. The message goes through the real intake (`ingest`)
inside a transaction that is rolled back, with attachments written to memory, so the answer is
exactly what intake would do now, and nothing stays behind: no ticket, no received-mail row, no
notification (those are sent only after a commit).
"""

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.test.utils import override_settings

from helpline.mail.ingest import ingest
from helpline.mail.models import HeldMail, Mailbox
from helpline.mail.parse import parse_message

_IN_MEMORY = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@dataclass
class Verdict:
    """What intake would do with one message: label → value lines, then the text shown."""

    outcome: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    shown: str = ""

    def render(self) -> str:
        width = max(len(label) for label, _ in self.lines) if self.lines else 0
        out = [f"{label.ljust(width)}  {value}" for label, value in self.lines]
        if self.shown:
            out += ["", "Text the thread would show:", *("  " + x for x in self.shown.splitlines())]
        return "\n".join(out)


class _Rollback(Exception):
    pass


def check(raw: bytes, mailbox: Mailbox | None = None) -> Verdict:
    parsed = parse_message(raw)
    lines = [
        ("From", f"{parsed.sender_name} <{parsed.sender}>" if parsed.sender else "(unreadable)"),
        ("Subject", parsed.subject or "(none)"),
        ("Message-ID", parsed.message_id or "(none)"),
        ("Answers", " ".join(parsed.thread_ids[:5]) or "(nothing)"),
        ("Automatic", parsed.automated_reason() or "no: a person wrote it"),
        ("Spam verdict", parsed.spam or "none"),
        ("Bounce", parsed.bounce.reason if parsed.bounce else "no"),
        ("Attachments", ", ".join(a.filename for a in parsed.attachments) or "none"),
    ]
    if parsed.defects:
        lines.append(("Defects", ", ".join(dict.fromkeys(parsed.defects))[:300]))
    verdict = Verdict("")
    intake_log = logging.getLogger("helpline.mail.ingest")
    level, intake_log.level = intake_log.level, logging.ERROR  # its "kept as failed mail" is moot
    try:
        with override_settings(STORAGES=_IN_MEMORY), transaction.atomic():
            result = ingest(raw, mailbox)
            verdict.outcome = result.outcome
            lines.append(("Outcome", result.outcome.replace("_", " ")))
            if result.reason:
                lines.append(("Why", result.reason))
            _describe(result, lines, verdict)
            raise _Rollback
    except _Rollback:
        pass
    finally:
        intake_log.setLevel(level)
    verdict.lines = lines
    return verdict


def _describe(result, lines: list[tuple[str, str]], verdict: Verdict) -> None:
    """The rows intake made, read before they are rolled back."""
    ticket, entry = result.ticket, result.entry
    if ticket is not None:
        lines.append(("Ticket", f"#{ticket.number} {ticket.subject}"[:200]))
    if entry is not None:
        lines.append(("Entry", f"{entry.get_kind_display()} by {entry.author_name or '?'}"))
        if entry.threaded_by:
            lines.append(("Threaded by", entry.threaded_by))
        if entry.verification:
            lines.append(("Sender check", entry.get_verification_display()))
        verdict.shown = entry.body_text
    held = HeldMail.objects.order_by("-id").first() if result.outcome in ("held", "spam") else None
    if held is not None:
        lines.append(("Held as", f"{held.get_folder_display()}: {held.get_sender_kind_display()}"))
        if held.verification:
            lines.append(("Sender check", held.verification))
        verdict.shown = held.preview
    if result.failed_mail is not None:
        lines.append(("Failed mail", "would be kept raw for an administrator to re-process"))
