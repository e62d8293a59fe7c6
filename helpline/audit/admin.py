"""The audit log in the admin panel: read-only for everyone, superusers included."""

from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import capfirst

from helpline.accounts.models import User
from helpline.audit.models import SECRET_CHANGED, AuditEntry
from helpline.audit.registry import AUDITED
from helpline.tickets.access import parse_id

# The actor filter lists administrators; anyone else is found with the search box.
ACTOR_CHOICES_LIMIT = 100


class ActorFilter(admin.SimpleListFilter):
    title = "actor"
    parameter_name = "actor"

    def lookups(self, request, model_admin):
        staff = (
            User.objects.filter(Q(is_staff=True) | Q(is_superuser=True))
            .order_by("username")
            .values_list("pk", "username")[:ACTOR_CHOICES_LIMIT]
        )
        return [("none", "No user (system, commands)"), *((str(pk), name) for pk, name in staff)]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(actor__isnull=True)
        if parse_id(value) is not None:
            return queryset.filter(actor_id=parse_id(value))
        return queryset


class ObjectTypeFilter(admin.SimpleListFilter):
    """The audited models, from the registry: no query over the log to list them."""

    title = "object type"
    parameter_name = "object_type"

    def lookups(self, request, model_admin):
        choices = []
        for spec in AUDITED:
            model = _model(spec.model)
            if model is not None:
                choices.append((spec.model.lower(), capfirst(model._meta.verbose_name)))
        return sorted(choices, key=lambda choice: choice[1])

    def queryset(self, request, queryset):
        value = self.value()
        model = _model(value) if value else None
        if model is None:
            return queryset
        return queryset.filter(content_type=ContentType.objects.get_for_model(model))


def _model(label: str):
    from django.apps import apps

    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "actor_label",
        "channel",
        "action",
        "object_type",
        "object_repr",
        "changed_fields",
    )
    list_filter = (ActorFilter, "channel", ObjectTypeFilter, "action")
    date_hierarchy = "created_at"
    search_fields = ("object_repr", "actor_label", "=object_id", "=ip_address")
    list_select_related = ("content_type",)
    show_full_result_count = False
    # Counts per filter choice would scan the whole log on every page.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    ordering = ("-created_at", "-id")
    fields = (
        "created_at",
        "actor_link",
        "channel",
        "ip_address",
        "action",
        "object_type",
        "object_link",
        "changes_table",
    )
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="object type", ordering="content_type")
    def object_type(self, entry: AuditEntry) -> str:
        return capfirst(entry.object_type_label)

    @admin.display(description="actor")
    def actor_link(self, entry: AuditEntry) -> str:
        """The recorded name, linked to the account while it exists."""
        if entry.actor_id is None:
            return entry.actor_label
        url = reverse("admin:accounts_user_change", args=[entry.actor_id])
        return format_html('<a href="{}">{}</a>', url, entry.actor_label)

    @admin.display(description="changed")
    def changed_fields(self, entry: AuditEntry) -> str:
        names = ", ".join(entry.changes or {})
        return names if len(names) <= 80 else names[:79] + "…"

    @admin.display(description="object")
    def object_link(self, entry: AuditEntry) -> str:
        """The object's admin page (if it still exists there) and its whole history."""
        ct = entry.content_type
        history = (
            reverse("admin:audit_auditentry_changelist")
            + f"?object_type={ct.app_label}.{ct.model}&object_id={entry.object_id}"
        )
        page = None
        if entry.action != "deleted":
            try:
                page = reverse(f"admin:{ct.app_label}_{ct.model}_change", args=[entry.object_id])
            except NoReverseMatch:
                page = None
        if page:
            return format_html(
                '<a href="{}">{}</a> · <a href="{}">all changes to it</a>',
                page,
                entry.object_repr,
                history,
            )
        return format_html('{} · <a href="{}">all changes to it</a>', entry.object_repr, history)

    @admin.display(description="changes")
    def changes_table(self, entry: AuditEntry) -> str:
        rows = []
        for name, pair in (entry.changes or {}).items():
            before, after = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
            rows.append(
                {
                    "field": name.replace("_", " "),
                    "before": _shown(before),
                    "after": _shown(after),
                    "secret": after == SECRET_CHANGED,
                }
            )
        return render_to_string("admin/audit/changes_table.html", {"rows": rows})


def _shown(value) -> list[str]:
    """A value as lines of the diff table: a list one item a line, nothing as a dash."""
    if value is None or value == "" or value == []:
        return ["—"]
    if isinstance(value, bool):
        return ["yes" if value else "no"]
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, dict):
        return [f"{key}: {item}" for key, item in value.items()]
    return [str(value)]
