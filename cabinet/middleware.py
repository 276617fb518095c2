import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.dispatch import receiver
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.http import http_date
from django.utils.translation import gettext as _

LOGIN_AT = "cabinet_login_at"
SEEN_AT = "cabinet_seen_at"
REAUTH_AT = "cabinet_reauth_at"
# The idle clock is written at most this often, so most page views leave
# the session untouched.
SEEN_RESOLUTION = 60


@receiver(user_logged_in)
def _stamp_login(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    now = time.time()
    request.session[LOGIN_AT] = now
    request.session[SEEN_AT] = now
    request.session[REAUTH_AT] = now


class SessionTimeoutMiddleware:
    """Idle and absolute timeouts. An expired session is ended on the
    server (flushed), not just forgotten by the browser. It runs once the
    view is known, after ``cabinet.identity.IdentityMiddleware`` has read
    the session with the account, so it costs no read of its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        session = request.session
        if session.get(LOGIN_AT) is not None or session.get("_auth_user_id"):
            now = time.time()
            login_at = session.setdefault(LOGIN_AT, now)
            seen_at = session.get(SEEN_AT, now)
            if (
                now - seen_at > settings.CABINET_IDLE_TIMEOUT
                or now - login_at > settings.CABINET_ABSOLUTE_TIMEOUT
            ):
                logout(request)
                messages.info(request, _("Сеанс завершён по времени. Войдите снова."))
                return redirect(settings.LOGIN_URL)
            if now - seen_at > SEEN_RESOLUTION or SEEN_AT not in session:
                session[SEEN_AT] = now
        return None


# Pages a person who passed the password but not yet the second factor may
# open. Everything else of the site sends them to set up or enter a code.
_OPEN_BEFORE_SECOND_FACTOR = {
    "cabinet:login",
    "cabinet:logout",
    "cabinet:register",
    "cabinet:register-done",
    "cabinet:register-confirm",
    "cabinet:otp-verify",
    "cabinet:otp-setup",
    "cabinet:otp-setup-sms",
    "set_language",
    # Open to anyone, signed in or not: checking a document by its code.
    "offers:verify",
}


class SecondFactorRequiredMiddleware:
    """A logged-in person without a verified second factor reaches only the
    login and 2FA pages. The admin checks it itself (OTPAdminSite)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or match.view_name in _OPEN_BEFORE_SECOND_FACTOR:
            return None
        if match.namespace == "admin":
            return None
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        from django_otp import user_has_device

        if not user_has_device(user):
            return redirect("cabinet:otp-setup")
        # The page asked for opens once the code is entered.
        asked_for = request.get_full_path()
        if request.method != "GET" or asked_for == resolve_url(
            settings.LOGIN_REDIRECT_URL
        ):
            return redirect("cabinet:otp-verify")
        return redirect_to_login(asked_for, reverse("cabinet:otp-verify"))


class NoStoreForPersonalPagesMiddleware:
    """Pages shown to a logged-in person must not be kept by any cache."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            # What django.utils.cache.add_never_cache_headers writes, set
            # at once rather than merged into headers the view never sets.
            response["Expires"] = http_date(time.time() - 1)
            response["Cache-Control"] = "no-store, no-cache, must-revalidate, private"
        return response
