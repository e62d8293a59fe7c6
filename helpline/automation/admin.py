"""Admin panel: routing rules (with a dry-run link), auto-assignment, scheduler settings and
runs, canned responses and the knowledge base."""

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from helpline.accounts.forms import agent_users
from helpline.automation.models import (
    AssignmentPolicy,
    AutomationSettings,
    CannedAttachment,
    CannedResponse,
    JobRun,
    KBArticle,
    KBCategory,
    Rule,
    RuleAction,
    RuleCondition,
)
from helpline.tickets.models import Event, EventKind

RECENT_TICKETS = 10


class RuleConditionInline(admin.TabularInline):
    model = RuleCondition
    extra = 1
    fields = ("field", "header", "operator", "value")


class RuleActionForm(forms.ModelForm):
    class Meta:
        model = RuleAction
        fields = (
            "kind", "department", "help_topic", "priority", "sla_plan", "status", "agent",
            "team", "collaborator_email", "canned_response", "reason",
        )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = agent_users()


class RuleActionInline(admin.StackedInline):
    model = RuleAction
    form = RuleActionForm
    extra = 1
    fieldsets = (
        (None, {"fields": ("kind",)}),
        (
            "Fill in the one field the action needs",
            {
                "fields": (
                    ("department", "help_topic"),
                    ("priority", "sla_plan", "status"),
                    ("agent", "team"),
                    ("collaborator_email", "canned_response"),
                    "reason",
                )
            },
        ),
    )


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = (
        "name", "order", "active", "match", "stop_processing", "condition_count", "action_count",
        "fired",
    )  # fmt: skip
    list_display_links = ("name",)
    list_editable = ("order", "active")
    list_filter = ("active",)
    search_fields = ("name", "conditions__value")
    inlines = [RuleConditionInline, RuleActionInline]
    fields = ("name", "order", "active", "match", "stop_processing", "notes", "recent_tickets")
    readonly_fields = ("recent_tickets",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_conditions=Count("conditions", distinct=True),
                n_actions=Count("actions", distinct=True),
            )
        )

    @admin.display(description="conditions", ordering="n_conditions")
    def condition_count(self, rule: Rule) -> int:
        return rule.n_conditions

    @admin.display(description="actions", ordering="n_actions")
    def action_count(self, rule: Rule) -> int:
        return rule.n_actions

    @admin.display(description="history")
    def fired(self, rule: Rule) -> str:
        # A link, not a count: counting events per rule on every list view would scan them.
        url = reverse("admin:tickets_event_changelist") + "?kind=rule"
        return format_html('<a href="{}">Rule events</a>', url)

    @admin.display(description="recently routed tickets")
    def recent_tickets(self, rule: Rule) -> str:
        if rule.pk is None:
            return "—"
        events = (
            Event.objects.filter(kind=EventKind.RULE, after__rule=rule.name)
            .select_related("ticket")
            .order_by("-created_at")[:RECENT_TICKETS]
        )
        rows = format_html_join(
            "",
            '<li><a href="/staff/tickets/{}/">#{}</a> {} — {}</li>',
            (
                (
                    e.ticket.number,
                    e.ticket.number,
                    e.created_at.strftime("%Y-%m-%d %H:%M"),
                    e.reason,
                )
                for e in events
            ),
        )
        return format_html("<ul>{}</ul>", rows) if rows else "None yet."

    def save_model(self, request, obj, form, change):
        from django.utils import timezone

        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)


class AssignmentPolicyForm(forms.ModelForm):
    class Meta:
        model = AssignmentPolicy
        fields = ("department", "help_topic", "method", "team")


@admin.register(AssignmentPolicy)
class AssignmentPolicyAdmin(admin.ModelAdmin):
    form = AssignmentPolicyForm
    list_display = ("__str__", "method", "team", "last_assigned")
    list_select_related = ("department", "help_topic", "team", "last_assigned")
    readonly_fields = ("last_assigned",)


@admin.register(AutomationSettings)
class AutomationSettingsAdmin(admin.ModelAdmin):
    fieldsets = (
        ("Closing", {"fields": (("close_pending_enabled", "pending_close_days"),
                                ("close_resolved_enabled", "resolved_close_days"))}),
        ("Reminders", {"fields": ("remind_before_due_minutes",)}),
        ("Housekeeping", {"fields": ("guest_link_days", "failed_mail_days", "job_runs_days")}),
    )  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and not AutomationSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        # One row: go straight to it.
        from django.shortcuts import redirect

        row = AutomationSettings.load()
        return redirect(reverse("admin:automation_automationsettings_change", args=[row.pk]))


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("job", "period_start", "claimed_by", "finished_at", "result", "short_error")
    list_filter = ("job",)
    date_hierarchy = "period_start"

    @admin.display(description="error")
    def short_error(self, run: JobRun) -> str:
        return run.error[:80]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class CannedAttachmentInline(admin.TabularInline):
    model = CannedAttachment
    extra = 0
    fields = ("file", "filename")


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ("title", "department", "active", "updated_at")
    list_filter = ("active", "department")
    search_fields = ("title", "body")
    inlines = [CannedAttachmentInline]
    fields = ("title", "department", "active", "body")

    def save_model(self, request, obj, form, change):
        from django.utils import timezone

        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(KBCategory)
class KBCategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "order", "slug")
    list_editable = ("order",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(KBArticle)
class KBArticleAdmin(admin.ModelAdmin):
    list_display = ("title", "category", "visibility", "published", "updated_at")
    list_filter = ("visibility", "published", "category")
    search_fields = ("title", "body")
    prepopulated_fields = {"slug": ("title",)}
    fields = ("title", "slug", "category", "visibility", "published", "body")
    list_select_related = ("category",)

    def save_model(self, request, obj, form, change):
        if obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
