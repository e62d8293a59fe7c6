"""Automation and knowledge pages, mounted at the site root (namespace "automation")."""

from django.urls import path

from helpline.automation.views import canned, dry_run, kb

app_name = "automation"
urlpatterns = [
    # Client portal: the public help center.
    path("kb/", kb.portal_index, name="kb"),
    path("kb/suggestions/", kb.portal_suggestions, name="kb_suggestions"),
    path("kb/<slug:slug>/", kb.portal_article, name="kb_article"),
    # Agent panel.
    path("staff/kb/", kb.staff_index, name="staff_kb"),
    path("staff/kb/new/", kb.staff_edit, name="staff_kb_new"),
    path("staff/kb/pick/", kb.staff_pick, name="staff_kb_pick"),
    path("staff/kb/<slug:slug>/", kb.staff_article, name="staff_kb_article"),
    path("staff/kb/<slug:slug>/edit/", kb.staff_edit, name="staff_kb_edit"),
    path("staff/canned/", canned.index, name="canned"),
    path("staff/canned/pick/", canned.pick, name="canned_pick"),
    path("staff/canned/<int:pk>/text/", canned.rendered, name="canned_text"),
    path("staff/rules/dry-run/", dry_run.dry_run, name="dry_run"),
]
