from django.contrib.auth import views as auth_views
from django.urls import path

from . import payments, signing_views, views

app_name = "cabinet"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("register/", views.register, name="register"),
    path("register/sent/", views.register_done, name="register-done"),
    path(
        "register/confirm/<str:token>/",
        views.register_confirm,
        name="register-confirm",
    ),
    path("2fa/setup/", views.otp_setup, name="otp-setup"),
    path("2fa/setup/sms/", views.otp_setup_sms, name="otp-setup-sms"),
    path("2fa/", views.otp_verify, name="otp-verify"),
    path("reauth/", views.reauth, name="reauth"),
    path("offers/<int:pk>/", views.offer_detail, name="offer-detail"),
    path("offers/<int:pk>/confirm/", views.offer_confirm, name="offer-confirm"),
    path("offers/<int:pk>/decline/", views.offer_decline, name="offer-decline"),
    path("offers/<int:pk>/sign/", signing_views.offer_sign, name="offer-sign"),
    path("offers/<int:pk>/documents/", views.document_upload, name="document-upload"),
    path("documents/<int:pk>/", views.document_download, name="document-download"),
    path("applications/", views.application_list, name="applications"),
    path("applications/<int:pk>/", views.application_detail, name="application-detail"),
    path("results/<int:pk>/", views.result_document, name="result-document"),
    path("payments/", payments.payment_list, name="payments"),
    path("payments/<int:pk>/", payments.payment_detail, name="payment-detail"),
    path(
        "payments/<int:pk>/confirm/", payments.payment_confirm, name="payment-confirm"
    ),
    path(
        "payments/<int:pk>/bank-details/",
        payments.payment_bank_details,
        name="payment-bank-details",
    ),
    path("payments/statements/", payments.statement_request, name="statement-request"),
    path(
        "payments/statements/<int:pk>/",
        payments.statement_download,
        name="statement-download",
    ),
    path("notifications/", views.notification_list, name="notifications"),
    path(
        "notifications/<int:pk>/read/",
        views.notification_read,
        name="notification-read",
    ),
    path("consent/", views.consent, name="consent"),
    path("consent/revoked/", views.consent_revoked, name="consent-revoked"),
    path("consent/<int:pk>/", views.consent_detail, name="consent-detail"),
    path("consent/<int:pk>/revoke/", views.consent_revoke, name="consent-revoke"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/phone/", views.settings_phone, name="settings-phone"),
    path("settings/email/", views.settings_email, name="settings-email"),
    path(
        "settings/email/confirm/<str:key>/",
        views.settings_email_confirm,
        name="settings-email-confirm",
    ),
    path("settings/2fa/", views.settings_2fa_reset, name="settings-2fa"),
    path("profile/", views.profile, name="profile"),
    path("activity/", views.activity, name="activity"),
    path("export/", views.export, name="export"),
]
