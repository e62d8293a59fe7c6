"""Admin panel: API keys (the key is shown once, on creation), webhooks and their delivery log."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from helpline.api.models import (
    KEY_PREFIX,
    ApiKey,
    DeliveryState,
    Scope,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    default_webhook_events,
)


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[Scope.TICKETS_READ, Scope.TICKETS_WRITE],
        required=False,
    )

    class Meta:
        model = ApiKey
        fields = ["user", "name", "scopes", "allowed_ips", "expires_at", "rate_limit"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "user", "key_prefix", "scope_list", "expires_at", "last_used_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username", "user__email"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at", "revoked_at"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    @admin.display(description="key")
    def key_prefix(self, obj: ApiKey) -> str:
        return f"{KEY_PREFIX}_{obj.prefix}…" if obj.prefix else "—"

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes or []) or "none"

    def save_model(self, request, obj: ApiKey, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        row, key = ApiKey.issue(
            obj.user,
            name=obj.name,
            scopes=list(obj.scopes or []),
            allowed_ips=obj.allowed_ips,
            expires_at=obj.expires_at,
            rate_limit=obj.rate_limit,
        )
        obj.pk, obj.prefix, obj.key_hash = row.pk, row.prefix, row.key_hash
        obj._state.adding = False
        messages.warning(request, f"The new key is shown only this once; copy it now: {key}")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        # Row by row (not a bulk update) so that each revocation reaches the audit log.
        now, count = timezone.now(), 0
        for key in queryset.filter(revoked_at__isnull=True):
            key.revoked_at = now
            key.save(update_fields=["revoked_at"])
            count += 1
        self.message_user(request, f"{count} key(s) revoked.")


class WebhookForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=default_webhook_events,
    )

    class Meta:
        model = Webhook
        fields = ["name", "owner", "url", "secret", "events", "is_active"]


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ["name", "url", "is_active", "failure_streak", "disabled_at"]
    list_filter = ["is_active"]
    readonly_fields = ["failure_streak", "disabled_at", "disabled_reason", "created_at"]
    autocomplete_fields = ["owner"]
    actions = ["reactivate"]

    @admin.action(description="Activate again (reset the failure count)")
    def reactivate(self, request, queryset):
        count = 0
        for hook in queryset:  # Row by row: each one reaches the audit log.
            hook.is_active, hook.failure_streak = True, 0
            hook.disabled_at, hook.disabled_reason = None, ""
            hook.save(
                update_fields=["is_active", "failure_streak", "disabled_at", "disabled_reason"]
            )
            count += 1
        self.message_user(request, f"{count} webhook(s) active again.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "webhook",
        "event",
        "ticket_number",
        "state",
        "attempts",
        "response_code",
        "error",
    ]
    list_filter = ["state", "event", "webhook"]
    search_fields = ["ticket_number", "id"]
    date_hierarchy = "created_at"
    actions = ["redeliver"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Deliver again")
    def redeliver(self, request, queryset):
        from helpline.api.webhooks import schedule

        count = 0
        for delivery in queryset:
            delivery.state = DeliveryState.PENDING
            delivery.attempts = 0
            delivery.next_attempt_at = None
            delivery.save(update_fields=["state", "attempts", "next_attempt_at"])
            schedule(delivery)
            count += 1
        self.message_user(request, f"{count} delivery(ies) queued again.")
