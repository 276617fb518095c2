from django.urls import path

from . import views

app_name = "offers"

urlpatterns = [
    path("verify/", views.verify, name="verify"),
]
