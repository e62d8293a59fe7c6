"""URLs of the agent panel, mounted at /staff/ (namespace "staff")."""

from django.urls import path

from helpline.tickets.views import staff, staff_account, staff_bulk

app_name = "staff"
urlpatterns: list = [
    path("", staff.dashboard, name="dashboard"),
    path("login/", staff_account.login, name="login"),
    path("logout/", staff_account.logout, name="logout"),
    path("profile/", staff_account.profile, name="profile"),
    path("password/", staff_account.password_change, name="password_change"),
    path("password/done/", staff_account.password_change_done, name="password_change_done"),
    path("queues/<slug:slug>/", staff.queue, name="queue"),
    path("searches/save/", staff_bulk.save_search, name="save_search"),
    path("searches/<int:pk>/", staff.saved_search, name="saved_search"),
    path("searches/<int:pk>/delete/", staff_bulk.delete_search, name="delete_search"),
    path("search/", staff.search, name="search"),
    path("bulk/", staff_bulk.bulk, name="bulk"),
]

# The ticket page (staff:ticket, staff:new_ticket) lives in its own module.
try:
    from helpline.tickets.views.staff_ticket import ticket_urlpatterns
except ImportError:
    ticket_urlpatterns = []

urlpatterns += ticket_urlpatterns
