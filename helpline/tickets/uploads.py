"""Uploaded files → `actions.NewAttachment`, within the help desk's size and count limits.

Shared by the client portal and the agent panel: call
`attachments_from_request(request.FILES.getlist("attachments"))` and show the ValidationError's
messages on the form. The actions check the limits again; this module checks them first so that
nothing is read into memory beyond the limit and the messages name the file and its size.
"""

import mimetypes
import re
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from helpline.tickets.actions import NewAttachment

_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


def max_bytes() -> int:
    """The largest file accepted (settings.HELPLINE_MAX_ATTACHMENT_BYTES)."""
    return int(settings.HELPLINE_MAX_ATTACHMENT_BYTES)


def max_count() -> int:
    """The most files accepted with one message (settings.HELPLINE_MAX_ATTACHMENTS)."""
    return int(settings.HELPLINE_MAX_ATTACHMENTS)


def limits_text() -> str:
    """The limits in words, for a form's help text: "Up to 5 files, 10.0 MB each."."""
    return f"Up to {_files(max_count())}, {filesizeformat(max_bytes())} each."


def _files(count: int) -> str:
    return "1 file" if count == 1 else f"{count} files"


def _content_type(upload: UploadedFile) -> str:
    # The file name decides first (browsers guess from it anyway); the download view never
    # trusts this value for anything but an allow-list of images.
    guessed, _encoding = mimetypes.guess_type(upload.name or "")
    claimed = (upload.content_type or "").split(";")[0].strip().lower()
    for candidate in (guessed, claimed):
        if candidate and _CONTENT_TYPE.match(candidate) and len(candidate) <= 127:
            return candidate
    return "application/octet-stream"


def attachments_from_request(files: Iterable[UploadedFile]) -> list[NewAttachment]:
    """Read uploaded files into NewAttachments; ValidationError (all problems listed) if any
    file is empty or too large, or if there are too many files."""
    uploads = [f for f in files if f is not None]
    if len(uploads) > max_count():
        raise ValidationError(
            f"You can attach at most {_files(max_count())} to one message; you chose "
            f"{len(uploads)}.",
            code="too_many_files",
        )
    problems = []
    for upload in uploads:
        name = upload.name or "attachment"
        if upload.size is not None and upload.size > max_bytes():
            problems.append(
                ValidationError(
                    f"“{name}” is {filesizeformat(upload.size)}; the limit is "
                    f"{filesizeformat(max_bytes())} per file.",
                    code="file_too_large",
                )
            )
        elif not upload.size:
            problems.append(ValidationError(f"“{name}” is empty.", code="empty_file"))
    if problems:
        raise ValidationError(problems)
    attachments = []
    for upload in uploads:
        upload.seek(0)
        content = upload.read(max_bytes() + 1)
        if len(content) > max_bytes():  # The declared size lied.
            raise ValidationError(
                f"“{upload.name}” is larger than the limit of {filesizeformat(max_bytes())}.",
                code="file_too_large",
            )
        attachments.append(
            NewAttachment(
                filename=upload.name or "attachment",
                content=content,
                content_type=_content_type(upload),
            )
        )
    return attachments
