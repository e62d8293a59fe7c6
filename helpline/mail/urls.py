"""Mail pages of the agent panel, mounted at /staff/mail/ (namespace "mail")."""

from django.urls import path

from helpline.mail import views

app_name = "mail"
urlpatterns = [
    path("review/", views.review_list, name="review"),
    path("review/<int:pk>/", views.decide, name="review_decide"),
]
