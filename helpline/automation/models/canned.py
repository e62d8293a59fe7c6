"""Canned responses: ready answers with variables, global or per department."""

import secrets
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class CannedResponse(models.Model):
    title = models.CharField(max_length=150)
    department = models.ForeignKey(
        "accounts.Department",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_responses",
        help_text="Empty: offered in every department.",
    )
    body = models.TextField(
        help_text="Plain text. Variables: {{ ticket.number }}, {{ ticket.subject }}, "
        "{{ ticket.status }}, {{ ticket.url }}, {{ requester.name }}, {{ requester.email }}, "
        "{{ agent.name }}, {{ agent.signature }}, {{ department.name }}, {{ helpdesk }}."
    )
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["department", "title"], name="canned_dept_title")]
        constraints = [
            models.UniqueConstraint(fields=["title", "department"], name="one_canned_title_dept"),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self):
        from helpline.automation.canned import TemplateProblem, check_body

        try:
            check_body(self.body)
        except TemplateProblem as problem:
            raise ValidationError({"body": str(problem)})


def canned_attachment_path(instance: "CannedAttachment", filename: str) -> str:
    return f"canned/{secrets.token_hex(16)}/{PurePath(filename).name}"


class CannedAttachment(models.Model):
    response = models.ForeignKey(
        CannedResponse, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to=canned_attachment_path, max_length=255)
    filename = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=127, default="application/octet-stream")

    def __str__(self) -> str:
        return self.filename or PurePath(self.file.name).name

    def save(self, *args, **kwargs):
        if not self.filename and self.file:
            self.filename = PurePath(self.file.name).name[:255]
        upload = getattr(self.file, "file", None)
        content_type = getattr(upload, "content_type", None)
        if content_type:
            self.content_type = content_type[:127]
        super().save(*args, **kwargs)
