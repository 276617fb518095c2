"""The citizen's pages. Every query starts from the logged-in citizen, so
another citizen's objects answer 404. Changes of state go through the
services; views only read forms and choose the next page."""

import base64
import json
import time
from functools import wraps

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.http import FileResponse, Http404, HttpResponse
from django.middleware.csrf import rotate_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from consents import services as consent_services
from consents.models import Consent
from events.models import REGISTRY_NAMES, LifeEvent
from notifications import services as notification_services
from notifications.models import Notification
from offers import services as offer_services
from offers import pension, signing
from offers.models import (
    Application,
    ApplicationSignature,
    Document,
    Offer,
    ResultDocument,
    Service,
)
from offers.prefill import rows_for

from . import dashboard as dashboard_body
from . import audit, identity, services
from .display import display_rows, display_value, service_title
from .forms import (
    ConsentForm,
    DocumentForm,
    EmailChangeForm,
    ErrorReportForm,
    LoginForm,
    PaymentForm,
    PhoneForm,
    ReauthForm,
    RegistrationForm,
    TokenForm,
)
from .middleware import REAUTH_AT
from .models import Citizen, SMSDevice

def load_citizen(request, annotate=None):
    """The logged-in citizen, with what the page header needs (unread
    count, consent) and what the page's ``annotate`` callable gives
    (name -> (sql, params), the sql may name the ``cabinet_citizen`` row);
    None for accounts without one. Usually the request's identity
    statement has loaded it (``cabinet.identity``); otherwise one
    hand-written statement."""
    if not request.user.is_authenticated:
        return None
    if not hasattr(request, "_cabinet_citizen"):
        citizen = identity.loaded_citizen(request, annotate)
        if citizen is identity.NOT_LOADED:
            select, params, extra = identity.citizen_select(
                annotate() if annotate else None
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {select} FROM cabinet_citizen"
                    " WHERE cabinet_citizen.user_id = %s",
                    [*params, request.user.pk],
                )
                row = cursor.fetchone()
            citizen = identity.build_citizen(row, extra) if row else None
        request._cabinet_citizen = citizen
    return request._cabinet_citizen


def citizen_required(view=None, *, annotate=None):
    """Logged in with both factors, and the account belongs to a citizen
    (staff accounts of officials have no cabinet). ``annotate``: a callable
    giving extra annotations for the citizen query, so a page loads what it
    needs of the citizen in that one query."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            citizen = load_citizen(request, annotate)
            if citizen is None:
                raise Http404("no citizen profile for this account")
            return view(request, citizen, *args, **kwargs)

        # The identity statement reads it to load the page's annotations.
        wrapper.citizen_annotate = annotate
        return wrapper

    return decorate(view) if view is not None else decorate


def fresh_login_required(view):
    """Changing phone, email or the second factor needs a login of the last
    few minutes: a forgotten open session is not enough."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not _fresh_login(request):
            return _to_fresh_login(request)
        return view(request, *args, **kwargs)

    return wrapper


def _fresh_login(request) -> bool:
    reauth_at = request.session.get(REAUTH_AT, 0)
    return time.time() - reauth_at <= settings.CABINET_REAUTH_MAX_AGE


def _to_fresh_login(request):
    """To ``/reauth/``, and back to this page after it."""
    return redirect_to_login(request.get_full_path(), reverse("cabinet:reauth"))


def _second_factor_set_up_refused(request):
    """Where a person who already has a second factor goes instead of
    setting up another: the sign-in code prompt while this session has not
    passed it, the fresh login (password and code) when it has but not in
    the last few minutes; None when they may set up. Officials' devices are
    the administrator's (in admin): no set-up here for a staff account."""
    user = request.user
    if user.is_staff:
        raise Http404
    if not user_has_device(user):
        return None
    if not user.is_verified():
        return redirect("cabinet:otp-verify")
    return None if _fresh_login(request) else _to_fresh_login(request)


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _base_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


# Login, registration, second factor ----------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "cabinet/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = False


def register(request):
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        citizen = services.find_registrable_citizen(
            data["snils"],
            data["passport_series"],
            data["passport_number"],
            data["birth_date"],
        )
        if citizen is None or getattr(form, "email_taken", False):
            form.add_error(
                None,
                _(
                    "Не удалось зарегистрироваться с этими данными. Проверьте "
                    "СНИЛС, паспорт и дату рождения. Если Вы уже "
                    "зарегистрированы, войдите или восстановите доступ."
                ),
            )
        else:
            try:
                services.register(
                    citizen, data["email"], data["password1"], _base_url(request)
                )
            except services.CabinetError as error:
                form.add_error(None, str(error))
            else:
                return redirect("cabinet:register-done")
    return render(request, "cabinet/register.html", {"form": form})


def register_done(request):
    return render(request, "cabinet/register_done.html")


def register_confirm(request, token):
    try:
        services.confirm_registration_email(token)
    except services.CabinetError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, _("Адрес подтверждён. Войдите и настройте второй фактор.")
        )
    return redirect("cabinet:login")


@login_required
def otp_setup(request):
    user = request.user
    refused = _second_factor_set_up_refused(request)
    if refused is not None:
        return refused

    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=user, name=_("Приложение-аутентификатор"), confirmed=False
        )
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"].strip()):
            codes = _confirm_new_totp(user, device)
            _second_factor_passed(request, device)
            request.session[REAUTH_AT] = time.time()
            return render(request, "cabinet/otp_backup_codes.html", {"codes": codes})
        form.add_error("token", _("Код не подошёл. Проверьте время на телефоне."))

    secret = base64.b32encode(device.bin_key).decode()
    qr = segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)
    return render(
        request,
        "cabinet/otp_setup.html",
        {"form": form, "secret": secret, "qr": qr},
    )


def _new_session_key(request) -> None:
    """A new session key and CSRF secret, as Django's login gives at the
    password, each time a factor is proven: a key someone held before this
    step (one who knows only the password can plant theirs in the victim's
    browser) is worth nothing after it."""
    request.session.cycle_key()
    rotate_token(request)


def _second_factor_passed(request, device) -> None:
    _new_session_key(request)
    otp_login(request, device)


def _confirm_new_totp(user, device) -> list[str]:
    """Keep only the new app and a fresh set of ten backup codes."""
    return services.set_up_second_factor(user, device)


def _masked(phone: str) -> str:
    """The end of a number, enough for a person to recognise it."""
    return f"•••{phone[-4:-2]}-{phone[-2:]}"


def otp_setup_sms(request):
    """The second factor by SMS: a code to the citizen's mobile number,
    entered here, confirms the device (and proves the number)."""
    user = request.user
    if not user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    refused = _second_factor_set_up_refused(request)
    if refused is not None:
        return refused
    citizen = Citizen.objects.filter(user=user).first()
    phone = services.mobile_for_second_factor(citizen) if citizen else None
    if phone is None:
        messages.error(
            request, _("Для кодов по SMS нужен подтверждённый мобильный телефон.")
        )
        return redirect("cabinet:otp-setup")

    device = SMSDevice.objects.filter(user=user, confirmed=False, phone=phone).first()
    form = TokenForm(request.POST if "token" in request.POST else None)
    sent = False
    if request.method == "POST" and "send" in request.POST:
        if device is None:
            device = SMSDevice.objects.create(
                user=user, name=_("Код по SMS"), phone=phone, confirmed=False
            )
        sent = _send_sms_code(request, device)
    elif request.method == "POST" and device is not None and form.is_valid():
        device.session_key = request.session.session_key
        if device.verify_token(form.cleaned_data["token"].strip()):
            codes = services.set_up_second_factor(user, device)
            _second_factor_passed(request, device)
            request.session[REAUTH_AT] = time.time()
            return render(request, "cabinet/otp_backup_codes.html", {"codes": codes})
        form.add_error("token", _throttle_message(device) or _wrong_code())
    return render(
        request,
        "cabinet/otp_setup_sms.html",
        {"form": form, "phone": _masked(phone), "sent": sent or device is not None},
    )


def _send_sms_code(request, device) -> bool:
    if not request.session.session_key:
        request.session.cycle_key()
    device.session_key = request.session.session_key
    try:
        device.generate_challenge()
    except services.CabinetError as error:
        messages.error(request, str(error))
        return False
    messages.info(
        request,
        _("Код отправлен на номер %(phone)s. Он действует 10 минут.")
        % {"phone": _masked(device.phone)},
    )
    return True


def _wrong_code():
    return _("Код не подошёл. Проверьте его и введите снова.")


def _throttle_message(device) -> str | None:
    """A clear "wait" when django-otp's throttle holds the device after a
    wrong code, instead of a refusal that looks like a wrong code."""
    allowed, data = device.verify_is_allowed()
    if allowed or not data:
        return None
    locked_until = data.get("locked_until")
    seconds = 1
    if locked_until is not None:
        seconds = max(1, int((locked_until - timezone.now()).total_seconds() + 0.999))
    return _(
        "Слишком частые попытки. Подождите %(seconds)s с и введите код снова."
    ) % {"seconds": seconds}


def _match_second_factor(user, token: str, session_key: str | None = None):
    """The device the token belongs to (or None) and, when a throttle holds
    the devices, a message saying how long to wait. A six-digit code is tried
    only on the app, anything else only on backup codes: each has its own
    throttle, so guessing one does not lock the person out of the other."""
    token = token.strip().replace(" ", "")
    if token.isdigit() and len(token) == 6:
        devices = [
            *TOTPDevice.objects.filter(user=user, confirmed=True),
            *SMSDevice.objects.filter(user=user, confirmed=True),
        ]
    else:
        devices = list(StaticDevice.objects.filter(user=user, confirmed=True))
    # A throttle that held a device before this try means the code was not
    # checked at all: say to wait. One that this wrong code started is not
    # news: the code was wrong.
    waits = [m for m in map(_throttle_message, devices) if m]
    for device in devices:
        device.session_key = session_key
        if device.verify_token(token):
            return device, None
    return None, (waits[0] if waits else None)


@login_required
def otp_verify(request):
    if not user_has_device(request.user):
        return redirect("cabinet:otp-setup")
    sms = SMSDevice.objects.filter(user=request.user, confirmed=True).first()
    form = TokenForm(request.POST if "token" in request.POST else None)
    if request.method == "POST" and "send_sms" in request.POST and sms:
        _send_sms_code(request, sms)
    elif request.method == "POST" and form.is_valid():
        device, wait = _match_second_factor(
            request.user, form.cleaned_data["token"], request.session.session_key
        )
        if device is not None:
            _second_factor_passed(request, device)
            return redirect(_safe_next(request, reverse("cabinet:dashboard")))
        form.add_error(
            "token",
            wait
            or _("Код не подошёл. После нескольких ошибок проверка замедляется."),
        )
    return render(
        request,
        "cabinet/otp_verify.html",
        {"form": form, "sms_phone": _masked(sms.phone) if sms else None},
    )


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@login_required
def reauth(request):
    sms = SMSDevice.objects.filter(user=request.user, confirmed=True).first()
    form = ReauthForm(request.POST if "token" in request.POST else None)
    if request.method == "POST" and "send_sms" in request.POST and sms:
        _send_sms_code(request, sms)
    elif request.method == "POST" and form.is_valid():
        user = authenticate(
            request,
            username=request.user.get_username(),
            password=form.cleaned_data["password"],
        )
        if user is not None and user.pk == request.user.pk:
            device, _wait = _match_second_factor(
                user, form.cleaned_data["token"], request.session.session_key
            )
            if device is not None:
                _new_session_key(request)
                request.session[REAUTH_AT] = time.time()
                return redirect(_safe_next(request, reverse("cabinet:settings")))
        form.add_error(None, _("Пароль или код не подошли."))
    return render(
        request,
        "cabinet/reauth.html",
        {
            "form": form,
            "next": _safe_next(request, ""),
            "sms_phone": _masked(sms.phone) if sms else None,
        },
    )


# Dashboard, offers, applications, notifications ----------------------------


@citizen_required(annotate=dashboard_body.fingerprint_annotation)
def dashboard(request, citizen):
    return dashboard_body.cached_page(
        request,
        citizen,
        lambda: render(
            request,
            "cabinet/dashboard.html",
            {"citizen": citizen, "body": dashboard_body.render_body(citizen)},
        ),
    )


def _offer_context(citizen, offer, document_form=None, corrections=None, errors=None):
    """The offer page's context; after a refused confirmation, ``corrections``
    are the values the citizen typed (shown again as typed) and ``errors``
    the message of each refused field, shown at that field."""
    correctable = set(offer.service.correctable_fields)
    fields = display_rows(rows_for(offer.prefill, offer.service.prefill_fields))
    corrections, errors = corrections or {}, errors or {}
    for row in fields:
        row["correctable"] = row["key"] in correctable
        if row["correctable"] and row["key"] in corrections:
            row["value"] = corrections[row["key"]]
        row["error"] = errors.get(row["key"], "")
    # Without JavaScript too, the page opens at the first field to put right.
    first = next((row for row in fields if row["error"]), None)
    if first is not None:
        first["autofocus"] = True
    return {
        "citizen": citizen,
        "offer": offer,
        "fields": fields,
        "errors": errors,
        "application": Application.objects.filter(offer=offer).first(),
        "documents": offer.documents.all(),
        "document_form": document_form or DocumentForm(),
        # A signed service asks how to pay before the code (signing_views).
        "payment_form": (
            PaymentForm(address=citizen.address)
            if offer.service.signature_required
            else None
        ),
    }


@citizen_required
def offer_detail(request, citizen, pk):
    offer = get_object_or_404(
        citizen.offers.select_related("service", "rule", "event"), pk=pk
    )
    offer_services.mark_offer_opened(citizen, offer.pk)
    read = notification_services.mark_offer_notices_read(citizen, offer.pk)
    citizen.unread = max(0, citizen.unread - read)  # the header's count
    return render(request, "cabinet/offer_detail.html", _offer_context(citizen, offer))


@require_POST
@citizen_required
def offer_confirm(request, citizen, pk):
    offer = get_object_or_404(
        citizen.offers.select_related("service", "rule", "event"), pk=pk
    )
    # Only the inputs the form sent: a field it does not carry corrects
    # nothing, an input sent empty is refused (offers.services).
    corrections = {
        key: request.POST[f"correct_{key}"]
        for key in offer.service.correctable_fields
        if f"correct_{key}" in request.POST
    }
    try:
        application = offer_services.accept_offer(citizen, pk, corrections)
    except offer_services.CorrectionError as error:
        # The page again, with what was typed and each error at its field.
        context = _offer_context(
            citizen, offer, corrections=corrections, errors=error.errors
        )
        return render(request, "cabinet/offer_detail.html", context, status=400)
    except offer_services.OfferError:
        messages.error(request, _("Это предложение уже нельзя подтвердить."))
        return redirect("cabinet:offer-detail", pk=pk)
    notification_services.mark_offer_notices_read(citizen, pk)
    messages.success(
        request,
        _("Заявление № %(number)s подано. Мы сообщим о его рассмотрении.")
        % {"number": application.number},
    )
    return redirect("cabinet:application-detail", pk=application.pk)


@require_POST
@citizen_required
def offer_decline(request, citizen, pk):
    get_object_or_404(citizen.offers, pk=pk)
    try:
        offer_services.decline_offer(citizen, pk)
    except offer_services.OfferError:
        messages.error(request, _("Это предложение уже нельзя отклонить."))
        return redirect("cabinet:offer-detail", pk=pk)
    messages.info(request, _("Вы отказались от предложения."))
    return redirect("cabinet:dashboard")


@require_POST
@citizen_required
def document_upload(request, citizen, pk):
    offer = get_object_or_404(
        citizen.offers.select_related("service", "rule", "event"), pk=pk
    )
    form = DocumentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.attach_document(
                citizen, offer.pk, form.cleaned_data["title"], form.cleaned_data["file"]
            )
        except services.CabinetError as error:
            form.add_error("file", str(error))
        else:
            messages.success(request, _("Документ приложен."))
            return redirect("cabinet:offer-detail", pk=offer.pk)
    return render(
        request,
        "cabinet/offer_detail.html",
        _offer_context(citizen, offer, form),
        status=400,
    )


@login_required
def document_download(request, pk):
    """The owner, or an official with the permission and a second factor
    (whose download is written to the access log, as admin's pages are)."""
    user = request.user
    official = (
        user.is_staff and user.is_verified() and user.has_perm("offers.view_document")
    )
    if official:
        document = get_object_or_404(Document, pk=pk)
    else:
        citizen = load_citizen(request)
        if citizen is None:
            raise Http404
        document = get_object_or_404(Document, pk=pk, citizen=citizen)
    response = FileResponse(
        document.file.open("rb"),
        content_type=document.content_type,
        as_attachment=True,
        filename=f"document-{document.pk}.{document.get_content_type_display().lower()}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    if official:
        audit.record(
            user, audit.Action.DOWNLOAD, Document, {str(pk): document.citizen_id}
        )
    return response


@citizen_required
def application_list(request, citizen):
    applications = citizen.applications.select_related("service")
    return render(
        request,
        "cabinet/application_list.html",
        {"citizen": citizen, "applications": applications},
    )


@citizen_required
def application_detail(request, citizen, pk):
    application = get_object_or_404(
        citizen.applications.select_related("service"), pk=pk
    )
    signature = ApplicationSignature.objects.filter(application=application).first()
    return render(
        request,
        "cabinet/application_detail.html",
        {
            "citizen": citizen,
            "application": application,
            "history": application.history.all(),
            "documents": application.result_documents.all(),
            "fields": display_rows(
                rows_for(application.data, application.service.prefill_fields)
            ),
            "statuses": Application.Status,
            "payment_rows": pension.payment_rows(application.data),
            "signature": signature,
            "signature_valid": signature is not None and signing.check(signature),
        },
    )


@citizen_required
def result_document(request, citizen, pk):
    """The citizen's own result PDF; anyone else's id answers 404."""
    document = get_object_or_404(
        ResultDocument.objects.filter(application__citizen=citizen), pk=pk
    )
    return FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=f"{document.kind}-{document.verification_code}.pdf",
        content_type="application/pdf",
    )


@citizen_required
def notification_list(request, citizen):
    notifications = citizen.notifications.select_related(
        "offer__service", "application__service"
    ).order_by("-created_at", "-id")[:100]
    return render(
        request,
        "cabinet/notification_list.html",
        {"citizen": citizen, "notifications": notifications},
    )


@require_POST
@citizen_required
def notification_read(request, citizen, pk):
    notification = get_object_or_404(
        citizen.notifications.filter(channel=Notification.Channel.CABINET), pk=pk
    )
    notification_services.mark_read(citizen, notification.pk)
    return redirect("cabinet:notifications")


# Consent -------------------------------------------------------------------


@citizen_required
def consent(request, citizen):
    form = ConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        consent_services.give_consent(
            citizen,
            validity_days=form.cleaned_data["validity_days"],
            ip_address=_client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        messages.success(request, _("Согласие дано. Спасибо!"))
        return redirect("cabinet:consent")
    history = citizen.consents.order_by("-given_at", "-id")
    version = consent_services.CURRENT_TEXT_VERSION
    return render(
        request,
        "cabinet/consent.html",
        {
            "citizen": citizen,
            "form": form,
            "history": history,
            "text_version": version,
            "consent_text": f"cabinet/consent_text/{version}.html",
        },
    )


@citizen_required
def consent_detail(request, citizen, pk):
    item = get_object_or_404(citizen.consents, pk=pk)
    return render(
        request,
        "cabinet/consent_detail.html",
        {
            "citizen": citizen,
            "consent": item,
            "consent_text": f"cabinet/consent_text/{item.text_version}.html",
        },
    )


@require_POST
@citizen_required
def consent_revoke(request, citizen, pk):
    item = get_object_or_404(citizen.consents, pk=pk)
    try:
        withdrawn = services.revoke_proactive_consent(citizen, item.pk)
    except consent_services.ConsentError:
        messages.error(request, _("Это согласие уже отозвано."))
        return redirect("cabinet:consent")
    request.session["cabinet_revoked"] = {"consent": item.pk, "withdrawn": withdrawn}
    return redirect("cabinet:consent-revoked")


@citizen_required
def consent_revoked(request, citizen):
    """What the revocation did, said exactly (after the redirect, so a
    reload or a language switch repeats nothing)."""
    result = request.session.get("cabinet_revoked")
    if not result:
        return redirect("cabinet:consent")
    return render(
        request,
        "cabinet/consent_revoked.html",
        {
            "citizen": citizen,
            "withdrawn": result["withdrawn"],
            "in_progress": citizen.applications.filter(
                status__in=[Application.Status.SUBMITTED, Application.Status.IN_REVIEW]
            ).count(),
        },
    )


# Settings ------------------------------------------------------------------


@citizen_required
def settings_page(request, citizen):
    services_all = Service.objects.filter(is_active=True)
    opted_out = set(citizen.service_opt_outs.values_list("service_id", flat=True))
    if request.method == "POST":
        chosen = {
            int(value) for value in request.POST.getlist("opt_out") if value.isdigit()
        }
        services.set_preferences(
            citizen,
            proactive_mode=request.POST.get("proactive_mode") == "on",
            opted_out_service_ids=chosen,
        )
        messages.success(request, _("Настройки сохранены."))
        return redirect("cabinet:settings")
    return render(
        request,
        "cabinet/settings.html",
        {"citizen": citizen, "services": services_all, "opted_out": opted_out},
    )


@citizen_required
@fresh_login_required
def settings_phone(request, citizen):
    phone_form = PhoneForm(request.POST if "send" in request.POST else None)
    code_form = TokenForm(request.POST if "confirm" in request.POST else None)
    session_key = request.session.session_key or ""
    if "send" in request.POST and phone_form.is_valid():
        try:
            services.request_phone_code(
                citizen, phone_form.cleaned_data["phone"], session_key
            )
        except services.CabinetError as error:
            phone_form.add_error("phone", str(error))
        else:
            messages.info(request, _("Мы отправили код по SMS. Он действует 10 минут."))
            return redirect("cabinet:settings-phone")
    if "confirm" in request.POST and code_form.is_valid():
        try:
            services.confirm_phone_code(
                citizen, code_form.cleaned_data["token"], session_key
            )
        except services.CabinetError as error:
            code_form.add_error("token", str(error))
        else:
            messages.success(request, _("Телефон подтверждён."))
            return redirect("cabinet:settings")
    return render(
        request,
        "cabinet/settings_phone.html",
        {"citizen": citizen, "phone_form": phone_form, "code_form": code_form},
    )


@citizen_required
@fresh_login_required
def settings_email(request, citizen):
    form = EmailChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.request_email_change(
            request.user, form.cleaned_data["email"], _base_url(request)
        )
        messages.info(request, _("Мы отправили ссылку на новый адрес."))
        return redirect("cabinet:settings")
    return render(request, "cabinet/settings_email.html", {"form": form})


@citizen_required
def settings_email_confirm(request, citizen, key):
    try:
        services.confirm_email_change(request.user, key)
    except services.CabinetError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Адрес электронной почты изменён."))
    return redirect("cabinet:settings")


@require_POST
@citizen_required
@fresh_login_required
def settings_2fa_reset(request, citizen):
    # The current session stays verified; the old app stops working only
    # when the new one is confirmed (see _confirm_new_totp).
    TOTPDevice.objects.filter(user=request.user, confirmed=False).delete()
    return redirect("cabinet:otp-setup")


# Profile, activity, export -------------------------------------------------

# Lazy, as they are built once: a page reads them in its own language.
PROFILE_FIELDS = [
    ("last_name", gettext_lazy("Фамилия")),
    ("first_name", gettext_lazy("Имя")),
    ("middle_name", gettext_lazy("Отчество")),
    ("birth_date", gettext_lazy("Дата рождения")),
    ("snils", gettext_lazy("СНИЛС")),
    ("inn", gettext_lazy("ИНН")),
    ("passport_series", gettext_lazy("Серия паспорта")),
    ("passport_number", gettext_lazy("Номер паспорта")),
    ("address", gettext_lazy("Адрес регистрации")),
    ("phone", gettext_lazy("Телефон")),
    ("email", gettext_lazy("Электронная почта")),
]
SOURCE_NAMES = REGISTRY_NAMES


def profile_field_label(key: str) -> str:
    """A profile field as the profile page names it: its row's label, or
    the model's name of a field the page has no row for (sex, region)."""
    for field, label in PROFILE_FIELDS:
        if field == key:
            return label
    try:
        return capfirst(Citizen._meta.get_field(key).verbose_name)
    except FieldDoesNotExist:
        return key


@citizen_required
def profile(request, citizen):
    changes = list(citizen.profile_changes.all()[:200])
    latest = {}
    for change in changes:
        latest.setdefault(change.field, change)
    rows = []
    for key, label in PROFILE_FIELDS:
        change = latest.get(key)
        if key == "phone" and citizen.phone_verified_at:
            source = _("Подтверждён Вами по SMS")
        elif key == "email" and request.user.email == citizen.email and citizen.email:
            source = _("Указан и подтверждён Вами")
        elif change is not None:
            source = SOURCE_NAMES.get(change.source, change.source)
        else:
            source = SOURCE_NAMES["population"]
        rows.append(
            {
                "key": key,
                "label": label,
                "value": getattr(citizen, key) or "",
                "source": source,
                "changed_at": change.changed_at if change else None,
            }
        )
    form = ErrorReportForm(request.POST or None, fields=PROFILE_FIELDS)
    if request.method == "POST" and form.is_valid():
        services.report_profile_error(
            citizen, form.cleaned_data["field"], form.cleaned_data["comment"]
        )
        messages.success(
            request, _("Сообщение принято. Мы передадим его в ведомство-источник.")
        )
        return redirect("cabinet:profile")
    return render(
        request,
        "cabinet/profile.html",
        {
            "citizen": citizen,
            "rows": rows,
            "changes": [
                {
                    "changed_at": change.changed_at,
                    "label": profile_field_label(change.field),
                    "old_value": display_value(change.field, change.old_value),
                    "new_value": display_value(change.field, change.new_value),
                    "source": SOURCE_NAMES.get(change.source, change.source),
                }
                for change in changes
            ],
            "form": form,
            "reports": [
                {
                    "created_at": report.created_at,
                    "label": profile_field_label(report.field),
                    "status": report.get_status_display(),
                }
                for report in citizen.error_reports.all()
            ],
        },
    )


def activity_entries(citizen) -> list[dict]:
    """Every automatic action taken for the citizen, newest first."""
    entries = []
    for offer in citizen.offers.select_related("service"):
        entries.append(
            {
                "at": offer.created_at,
                "what": _("Подготовлено предложение «%(service)s»")
                % {"service": service_title(offer.service)},
                "url": reverse("cabinet:offer-detail", args=[offer.pk]),
            }
        )
        if offer.reminded_at:
            entries.append(
                {
                    "at": offer.reminded_at,
                    "what": _("Напоминание о предложении «%(service)s»")
                    % {"service": service_title(offer.service)},
                    "url": reverse("cabinet:offer-detail", args=[offer.pk]),
                }
            )
        if offer.status in (Offer.Status.WITHDRAWN, Offer.Status.EXPIRED):
            entries.append(
                {
                    "at": offer.decided_at or offer.expires_at,
                    "what": _("Предложение «%(service)s»: %(status)s. %(reason)s")
                    % {
                        "service": service_title(offer.service),
                        "status": offer.get_status_display(),
                        "reason": offer.status_reason,
                    },
                    "url": reverse("cabinet:offer-detail", args=[offer.pk]),
                }
            )
    # Every notice the portal made, on every channel (the cabinet's own
    # inbox too), with what became of it; only those still queued or
    # deliberately not sent are left out.
    waiting = (
        Notification.Status.PENDING,
        Notification.Status.SENDING,
        Notification.Status.SKIPPED,
    )
    for note in citizen.notifications.exclude(status__in=waiting):
        entries.append(
            {
                "at": note.sent_at or note.created_at,
                "what": _("Уведомление «%(kind)s» — %(channel)s: %(status)s")
                % {
                    "kind": note.get_kind_display(),
                    "channel": note.get_channel_display(),
                    "status": note.get_status_display(),
                },
                "url": "",
            }
        )
    for item in citizen.consents.all():
        entries.append(
            {
                "at": item.given_at,
                "what": _("Дано согласие до %(date)s")
                % {"date": timezone.localtime(item.valid_until).strftime("%d.%m.%Y")},
                "url": reverse("cabinet:consent-detail", args=[item.pk]),
            }
        )
        if item.revoked_at:
            entries.append(
                {
                    "at": item.revoked_at,
                    "what": _("Согласие отозвано"),
                    "url": reverse("cabinet:consent-detail", args=[item.pk]),
                }
            )
    entries.sort(key=lambda entry: entry["at"], reverse=True)
    return entries


@citizen_required
def activity(request, citizen):
    return render(
        request,
        "cabinet/activity.html",
        {"citizen": citizen, "entries": activity_entries(citizen)[:500]},
    )


def _rows(queryset, *fields):
    return list(queryset.values(*fields))


@citizen_required
def export(request, citizen):
    """All the citizen's data as one JSON file."""
    profile_fields = [key for key, _label in PROFILE_FIELDS] + [
        "sex",
        "region_code",
        "phone_verified_at",
        "proactive_mode",
        "death_date",
        "created_at",
    ]
    data = {
        "exported_at": timezone.now(),
        "profile": {key: getattr(citizen, key) for key in profile_fields},
        "account": {
            "email": request.user.email,
            "date_joined": request.user.date_joined,
        },
        "profile_changes": _rows(
            citizen.profile_changes.all(),
            "field",
            "old_value",
            "new_value",
            "source",
            "record_id",
            "changed_at",
        ),
        "consents": _rows(
            citizen.consents.all(),
            "id",
            "purpose",
            "text_version",
            "given_at",
            "valid_until",
            "revoked_at",
            "ip_address",
            "user_agent",
        ),
        "offers": _rows(
            citizen.offers.all(),
            "id",
            "service__code",
            "service__title",
            "status",
            "status_reason",
            "prefill",
            "created_at",
            "expires_at",
            "decided_at",
        ),
        "applications": [
            {
                **row,
                "history": _rows(
                    Application.objects.get(pk=row["id"]).history.all(),
                    "status",
                    "note",
                    "changed_at",
                ),
            }
            for row in _rows(
                citizen.applications.all(),
                "id",
                "number",
                "service__code",
                "status",
                "data",
                "submitted_at",
                "updated_at",
            )
        ],
        "documents": _rows(
            citizen.documents.all(),
            "id",
            "offer_id",
            "title",
            "content_type",
            "size",
            "uploaded_at",
        ),
        "notifications": _rows(
            citizen.notifications.all(),
            "id",
            "kind",
            "channel",
            "status",
            "subject",
            "body",
            "created_at",
            "sent_at",
            "read_at",
        ),
        "life_events": _rows(
            LifeEvent.objects.filter(citizen=citizen),
            "id",
            "source",
            "event_type",
            "role",
            "occurred_on",
            "data",
        ),
        "service_opt_outs": _rows(
            citizen.service_opt_outs.all(), "service__code", "created_at"
        ),
        "error_reports": _rows(
            citizen.error_reports.all(), "field", "comment", "status", "created_at"
        ),
    }
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response
