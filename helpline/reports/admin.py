from django.contrib import admin

from helpline.reports.models import CsatSurvey, SatisfactionSettings, TicketMetrics


@admin.register(SatisfactionSettings)
class SatisfactionSettingsAdmin(admin.ModelAdmin):
    list_display = ("department", "send_survey", "notify_manager")
    list_editable = ("send_survey", "notify_manager")


@admin.register(CsatSurvey)
class CsatSurveyAdmin(admin.ModelAdmin):
    """Answers are the requester's: the admin panel shows them but does not edit them."""

    list_display = ("ticket", "email", "created_at", "sent_at", "rating", "responded_at")
    list_filter = ("rating", "ticket__department")
    search_fields = ("ticket__number", "email", "comment")
    date_hierarchy = "created_at"
    list_select_related = ("ticket",)
    raw_id_fields = ("ticket",)
    readonly_fields = (
        "ticket", "email", "created_at", "sent_at", "rating", "comment", "responded_at",
        "updated_at", "manager_notified_at",
    )  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(TicketMetrics)
class TicketMetricsAdmin(admin.ModelAdmin):
    list_display = (
        "ticket", "first_response_business_seconds", "resolution_business_seconds", "updated_at",
    )  # fmt: skip
    search_fields = ("ticket__number",)
    raw_id_fields = ("ticket",)
    readonly_fields = (
        "ticket", "first_response_business_seconds", "resolution_business_seconds", "updated_at",
    )  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False
