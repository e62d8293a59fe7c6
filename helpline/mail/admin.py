"""Admin panel: mailboxes, failed mail (re-process), ban list, received mail, email templates."""

from django import forms
from django.contrib import admin, messages

from helpline.mail.models import (
    BannedAddress,
    EmailTemplate,
    FailedMail,
    HeldMail,
    Mailbox,
    ReceivedMail,
)


class MailboxForm(forms.ModelForm):
    # Shown empty; left empty, the stored password is kept.
    password = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), strip=False
    )

    class Meta:
        model = Mailbox
        fields = [
            "name",
            "address",
            "active",
            "department",
            "help_topic",
            "host",
            "port",
            "security",
            "username",
            "password",
            "folder",
            "after_fetch",
            "move_to",
            "subaddress_separator",
            "trusted_authserv_ids",
            "verify_dkim",
            "trusted_arc_sealers",
            "cc_collaborators",
        ]

    def clean_password(self):
        password = self.cleaned_data.get("password")
        if not password and self.instance.pk:
            return self.instance.password
        return password


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    form = MailboxForm
    list_display = ["name", "address", "host", "folder", "after_fetch", "department", "active"]
    list_filter = ["active", "after_fetch", "department"]
    readonly_fields = ["last_fetched_at", "last_error"]
    actions = ["fetch_now"]
    fieldsets = [
        (None, {"fields": ["name", "address", "active", "department", "help_topic"]}),
        ("IMAP", {"fields": ["host", "port", "security", "username", "password", "folder"]}),
        ("After fetching", {"fields": ["after_fetch", "move_to"]}),
        (
            "Trusting senders",
            {
                "fields": [
                    "subaddress_separator",
                    "trusted_authserv_ids",
                    "verify_dkim",
                    "trusted_arc_sealers",
                    "cc_collaborators",
                ]
            },
        ),
        ("Status", {"fields": ["last_fetched_at", "last_error"]}),
    ]

    @admin.action(description="Fetch now")
    def fetch_now(self, request, queryset):
        from helpline.mail.fetch import fetch_mailbox

        for mailbox in queryset.exclude(host=""):
            report = fetch_mailbox(mailbox)
            level = messages.ERROR if report.error else messages.SUCCESS
            self.message_user(request, report.summary(), level)


@admin.register(FailedMail)
class FailedMailAdmin(admin.ModelAdmin):
    list_display = ["received_at", "sender", "subject", "mailbox", "short_error", "reprocessed_at"]
    list_filter = ["mailbox", "reprocessed_at"]
    search_fields = ["sender", "subject", "error"]
    readonly_fields = [
        "mailbox",
        "sender",
        "subject",
        "error",
        "received_at",
        "reprocessed_at",
        "outcome",
        "raw_preview",
    ]
    exclude = ["raw"]
    actions = ["reprocess"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="error")
    def short_error(self, obj):
        return obj.error[:120]

    @admin.display(description="message (first 20,000 characters)")
    def raw_preview(self, obj):
        return bytes(obj.raw[:20000]).decode("utf-8", errors="replace")

    @admin.action(description="Re-process the selected messages")
    def reprocess(self, request, queryset):
        from helpline.mail.ingest import reprocess

        for failed in queryset:
            result = reprocess(failed)
            level = messages.WARNING if result.outcome == "failed" else messages.SUCCESS
            self.message_user(request, f"{failed}: {failed.outcome}", level)


@admin.register(BannedAddress)
class BannedAddressAdmin(admin.ModelAdmin):
    list_display = ["pattern", "reason", "created_at"]
    search_fields = ["pattern", "reason"]
    fields = ["pattern", "reason", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(ReceivedMail)
class ReceivedMailAdmin(admin.ModelAdmin):
    list_display = ["received_at", "sender", "subject", "outcome", "ticket", "reason"]
    list_filter = ["outcome", "mailbox"]
    search_fields = ["sender", "subject", "message_id"]
    list_select_related = ["ticket"]
    raw_id_fields = ["ticket", "entry"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(HeldMail)
class HeldMailAdmin(admin.ModelAdmin):
    """Read-only record of the review list; agents decide in the panel (/staff/mail/review/)."""

    list_display = ["received_at", "sender", "subject", "ticket", "sender_kind", "review", "reason"]
    list_filter = ["review", "sender_kind", "mailbox"]
    search_fields = ["sender", "subject"]
    list_select_related = ["ticket"]
    raw_id_fields = ["ticket", "entry", "decided_by"]
    exclude = ["raw"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EmailTemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = ["kind", "department", "enabled", "subject", "body_text", "body_html"]
        help_texts = {
            "body_text": (
                "Django template syntax. Available: ticket.number, ticket.subject, ticket.status, "
                "ticket.priority, ticket.department, ticket.help_topic, ticket.assignee, "
                "ticket.team, ticket.due_at, ticket.url, ticket.staff_url, requester.name, "
                "requester.email, recipient.name, entry.body, entry.author, helpdesk, site_url."
            )
        }


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    form = EmailTemplateForm
    list_display = ["kind", "department", "enabled", "subject", "updated_at"]
    list_filter = ["kind", "department", "enabled"]
    readonly_fields = ["updated_at"]

    def get_changeform_initial_data(self, request):
        """A new template starts from the shipped default of its kind (?kind=reply)."""
        from helpline.mail.outbound import default_sources

        initial = super().get_changeform_initial_data(request)
        kind = initial.get("kind") or "new_ticket_ack"
        try:
            subject, body, _ = default_sources(kind)
        except Exception:  # noqa: BLE001 - unknown kind in the URL: start empty
            return initial
        initial.update(kind=kind, subject=subject, body_text=body.strip() + "\n")
        return initial

    def save_model(self, request, obj, form, change):
        from django.utils import timezone

        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)
