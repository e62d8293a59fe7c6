"""System checks: every admin page of Helpline's apps is either audited or said not to be."""

from django.apps import apps
from django.contrib import admin
from django.core import checks

from helpline.audit import registry

# Optional apps: their models are audited when installed, and their absence is no mistake.
OPTIONAL_APPS = frozenset({"otp_totp", "otp_static"})


def admin_models(site: admin.AdminSite | None = None) -> set[type]:
    """Models with a page in the admin panel, their inlines included."""
    site = site or admin.site
    found = set()
    for model, model_admin in site._registry.items():
        found.add(model)
        for inline in model_admin.inlines:
            found.add(inline.model)
    return found


def unclassified_admin_models(site: admin.AdminSite | None = None) -> list[str]:
    """Labels ("app.Model") of Helpline's admin models in neither AUDITED nor NOT_AUDITED."""
    audited = registry.audited_labels()
    not_audited = {label.lower() for label in registry.NOT_AUDITED}
    missing = []
    for model in admin_models(site):
        if not model._meta.app_config.name.startswith("helpline"):
            continue
        label = model._meta.label
        if label.lower() not in audited | not_audited:
            missing.append(label)
    return sorted(missing)


def unknown_registry_labels() -> list[str]:
    """Registry entries naming no installed model (typos, or a model that was removed)."""
    unknown = []
    for spec in registry.AUDITED:
        app_label = spec.model.partition(".")[0]
        try:
            apps.get_model(spec.model)
        except LookupError:
            if app_label not in OPTIONAL_APPS:
                unknown.append(spec.model)
    return unknown


@checks.register(checks.Tags.models)
def check_audit_registry(app_configs, **kwargs):
    """A Warning, not an Error: a missing line must not stop a deployment from starting; the
    test suite fails on it instead."""
    messages = []
    for label in unclassified_admin_models():
        messages.append(
            checks.Warning(
                f"{label} has an admin page but is neither audited nor listed as operational "
                "data, so its changes are not in the audit log.",
                hint="Add it to AUDITED or NOT_AUDITED in helpline/audit/registry.py.",
                obj=label,
                id="audit.W001",
            )
        )
    for label in unknown_registry_labels():
        messages.append(
            checks.Warning(
                f"The audit registry names {label}, which is no installed model.",
                hint="Fix or remove the line in helpline/audit/registry.py.",
                obj=label,
                id="audit.W002",
            )
        )
    return messages
