"""URLs of the agent panel, mounted at /staff/ (namespace "staff")."""

from django.urls import path

from helpline.accounts import security_views
from helpline.tickets.views import staff, staff_account, staff_bulk, staff_workspace
from helpline.tickets.views.staff_ticket import ticket_urlpatterns

app_name = "staff"
urlpatterns: list = [
    path("", staff.dashboard, name="dashboard"),
    path("login/", staff_account.login, name="login"),
    path("logout/", staff_account.logout, name="logout"),
    path("login/verify/", security_views.verify, name="verify"),
    path("profile/", staff_account.profile, name="profile"),
    path("security/", security_views.security, name="security"),
    path("security/setup/", security_views.setup_start, name="security_setup"),
    path("security/setup/confirm/", security_views.setup_confirm, name="security_confirm"),
    path("security/setup/cancel/", security_views.setup_cancel, name="security_cancel"),
    path("security/off/", security_views.turn_off, name="security_turn_off"),
    path(
        "security/recovery-codes/",
        security_views.recovery_codes,
        name="security_recovery_codes",
    ),
    path(
        "security/sign-out-everywhere/",
        security_views.sign_out_everywhere,
        name="security_sign_out_everywhere",
    ),
    path("password/", staff_account.password_change, name="password_change"),
    path("password/done/", staff_account.password_change_done, name="password_change_done"),
    path("queues/<slug:slug>/", staff.queue, name="queue"),
    path("searches/save/", staff_bulk.save_search, name="save_search"),
    path("searches/<int:pk>/", staff.saved_search, name="saved_search"),
    path("searches/<int:pk>/delete/", staff_bulk.delete_search, name="delete_search"),
    path("search/", staff.search, name="search"),
    path("bulk/", staff_bulk.bulk, name="bulk"),
    path("pulse/", staff_workspace.pulse_view, name="pulse"),
    path("live/sidebar/", staff_workspace.sidebar, name="live_sidebar"),
    path("notifications/", staff_workspace.notification_list, name="notifications"),
]

# The ticket page (staff:ticket, staff:new_ticket …) lives in its own module.
urlpatterns += ticket_urlpatterns
