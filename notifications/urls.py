from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path(
        "notifications/gateway/receipts/",
        views.gateway_receipts,
        name="gateway-receipts",
    ),
    path(
        "notifications/gateway/inbound/", views.gateway_inbound, name="gateway-inbound"
    ),
    path("notifications/email/bounces/", views.email_bounces, name="email-bounces"),
    path("notifications/preferences/", views.preferences, name="preferences"),
    path("notifications/push/subscribe/", views.push_subscribe, name="push-subscribe"),
    # At the site root, so that the service worker's scope is the whole site.
    path("sw.js", views.service_worker, name="service-worker"),
]
