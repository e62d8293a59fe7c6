"""uploads.attachments_from_request: the one gate for uploaded files (portal and agent panel)."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from helpline.tickets.uploads import attachments_from_request, limits_text


def test_files_become_new_attachments_with_a_type_from_the_name(settings):
    files = [
        SimpleUploadedFile("report.pdf", b"%PDF-1.7", content_type="application/x-whatever"),
        SimpleUploadedFile("notes", b"plain", content_type="text/plain; charset=utf-8"),
        SimpleUploadedFile("weird", b"?", content_type="not a type"),
    ]
    pdf, notes, weird = attachments_from_request(files)
    assert (pdf.filename, pdf.content, pdf.content_type) == (
        "report.pdf",
        b"%PDF-1.7",
        "application/pdf",
    )
    assert notes.content_type == "text/plain"
    assert weird.content_type == "application/octet-stream"


def test_no_files_is_fine():
    assert attachments_from_request([]) == []


def test_every_oversized_file_is_named(settings):
    settings.HELPLINE_MAX_ATTACHMENT_BYTES = 4
    files = [
        SimpleUploadedFile("a.bin", b"12345"),
        SimpleUploadedFile("b.bin", b"1234"),
        SimpleUploadedFile("c.bin", b"123456"),
    ]
    with pytest.raises(ValidationError) as caught:
        attachments_from_request(files)
    assert caught.value.messages == [
        "“a.bin” is 5\xa0bytes; the limit is 4\xa0bytes per file.",
        "“c.bin” is 6\xa0bytes; the limit is 4\xa0bytes per file.",
    ]


def test_too_many_files(settings):
    settings.HELPLINE_MAX_ATTACHMENTS = 1
    with pytest.raises(ValidationError, match="at most 1 file to one message; you chose 2"):
        attachments_from_request([SimpleUploadedFile(n, b"x") for n in ("a", "b")])


def test_limits_text(settings):
    settings.HELPLINE_MAX_ATTACHMENTS = 1
    settings.HELPLINE_MAX_ATTACHMENT_BYTES = 512 * 1024
    assert limits_text() == "Up to 1 file, 512.0\xa0KB each."
