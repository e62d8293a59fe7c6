"""The client portal at / (and the attachment download shared with the agent panel)."""

from django.urls import path

from helpline.tickets.views import attachments, portal, portal_account, portal_guest

app_name = "portal"
urlpatterns = [
    path("", portal.home, name="home"),
    path("tickets/", portal.my_tickets, name="my_tickets"),
    path("tickets/new/", portal.new_ticket, name="new_ticket"),
    path("tickets/new/fields/", portal.new_ticket_fields, name="new_ticket_fields"),
    path("tickets/new/done/", portal.ticket_opened, name="ticket_opened"),
    path("tickets/<str:number>/", portal.ticket_detail, name="ticket"),
    path("status/", portal_guest.check_status, name="check_status"),
    path("status/sent/", portal_guest.status_sent, name="status_sent"),
    path("t/<str:token>/", portal_guest.guest_link, name="guest_link"),
    path("login/", portal_account.PortalLoginView.as_view(), name="login"),
    path("logout/", portal_account.PortalLogoutView.as_view(), name="logout"),
    path("register/", portal_account.register, name="register"),
    path(
        "password-reset/",
        portal_account.PortalPasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        portal_account.PortalPasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        portal_account.PortalPasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        portal_account.PortalPasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    # Shared with the agent panel: /attachments/<id>/ checks access itself.
    path("attachments/<int:attachment_id>/", attachments.download, name="attachment"),
]
