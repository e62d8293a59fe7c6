"""Posting admin pages as a browser would: the URL of a model's page and a form's data."""

from django import forms
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.urls import reverse


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def field_data(form) -> dict:
    """What a browser would post for `form` as rendered (its initial values)."""
    data = {}
    for bound in form:
        if bound.field.disabled:
            continue
        widget = bound.field.widget
        if isinstance(widget, RelatedFieldWidgetWrapper):
            widget = widget.widget
        value = bound.value()
        if isinstance(widget, forms.MultiWidget):
            for index, part in enumerate(widget.decompress(value)):
                data[f"{bound.html_name}_{index}"] = "" if part is None else str(part)
        elif isinstance(widget, forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(getattr(v, "pk", v)) for v in value]
        else:
            data[bound.html_name] = "" if value is None else str(getattr(value, "pk", value))
    return data


def form_data(response) -> dict:
    """The POST data of an admin add or change page: the main form plus every inline formset."""
    data = field_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(field_data(formset.management_form))
        for form in formset.forms:
            data.update(field_data(form))
    return data
