"""Admin building blocks shared by the apps, and the portal's admin site."""

from django.contrib import admin
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from cabinet import audit
from cabinet.forms import LoginNameLengthMixin


class AdminLoginForm(LoginNameLengthMixin, OTPAdminAuthenticationForm):
    """The admin's sign-in: login name, password, device and code."""


class PortalAdminSite(OTPAdminSite):
    """Officials sign in with a password and a one-time code (django-otp),
    and every view of personal data writes the access log: Django builds
    each admin view, its model admins' included, with ``admin_view``."""

    login_form = AdminLoginForm

    def admin_view(self, view, cacheable=False):
        return super().admin_view(audit.audited(view), cacheable)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows officials may see but nobody adds, edits or deletes in admin:
    evidence citizens sent, approved rule versions, computed pages."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
