"""Endpoints of the outside parties (SMS gateways, the email provider) and
the citizen's notification settings. Thin: the work is in services."""

from __future__ import annotations

import hmac
import json
import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from cabinet.views import citizen_required

from . import inbound, services
from .backends.sms import gateway_for_token
from .models import Notification, Topic

logger = logging.getLogger(__name__)


def _bearer(request) -> str:
    header = request.headers.get("Authorization", "")
    return header[7:] if header.startswith("Bearer ") else ""


def _json_body(request) -> dict | None:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


# The gateway's endpoints ---------------------------------------------------


@csrf_exempt
@require_POST
def gateway_receipts(request):
    gateway = gateway_for_token(_bearer(request))
    if gateway is None:
        return JsonResponse({"error": "unknown gateway token"}, status=401)
    data = _json_body(request)
    if data is None or not isinstance(data.get("receipts"), list):
        return JsonResponse({"error": 'body must be {"receipts": [...]}'}, status=400)
    try:
        counts = services.apply_receipts(gateway.name, data["receipts"])
    except services.ReceiptError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse(counts)


@csrf_exempt
@require_POST
def gateway_inbound(request):
    gateway = gateway_for_token(_bearer(request))
    if gateway is None:
        return JsonResponse({"error": "unknown gateway token"}, status=401)
    data = _json_body(request)
    if data is None or not data.get("from") or "text" not in data:
        return JsonResponse({"error": "body must have from and text"}, status=400)
    reply = inbound.handle_reply(str(data["from"]), str(data["text"]))
    logger.info("sms reply handled gateway=%s message=%s", gateway.name, data.get("id"))
    return JsonResponse({"reply": reply})


@csrf_exempt
@require_POST
def email_bounces(request):
    token = settings.EMAIL_BOUNCE_TOKEN
    if not token or not hmac.compare_digest(_bearer(request), token):
        return JsonResponse({"error": "bad token"}, status=401)
    data = _json_body(request)
    if data is None or not isinstance(data.get("bounces"), list):
        return JsonResponse({"error": 'body must be {"bounces": [...]}'}, status=400)
    try:
        counts = services.apply_bounces(data["bounces"])
    except services.ReceiptError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse(counts)


# The citizen's settings ----------------------------------------------------

CHANNELS = [
    (Notification.Channel.SMS, gettext_lazy("SMS")),
    (Notification.Channel.EMAIL, gettext_lazy("Электронная почта")),
    (Notification.Channel.PUSH, gettext_lazy("Push-уведомления в браузере")),
]


class PreferencesForm(forms.Form):
    quiet_hours = forms.BooleanField(
        label=gettext_lazy("Не беспокоить ночью (SMS и push придут утром)"),
        required=False,
    )
    quiet_start = forms.TimeField(label=gettext_lazy("Тихие часы с"))
    quiet_end = forms.TimeField(label=gettext_lazy("до"))
    daily_cap = forms.IntegerField(
        label=gettext_lazy("Не больше уведомлений в день (срочные приходят всегда)"),
        min_value=1,
        max_value=50,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for topic, _label in Topic.choices:
            for channel, channel_label in CHANNELS:
                self.fields[f"{topic}__{channel}"] = forms.BooleanField(
                    label=channel_label, required=False
                )

    def topics(self):
        for topic, label in Topic.choices:
            yield label, [self[f"{topic}__{channel}"] for channel, _l in CHANNELS]

    def disabled(self) -> dict[str, list[str]]:
        return {
            topic: [
                channel
                for channel, _l in CHANNELS
                if not self.cleaned_data[f"{topic}__{channel}"]
            ]
            for topic, _label in Topic.choices
        }


@citizen_required
def preferences(request, citizen):
    profile = services.profile_of(citizen)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            services.save_preferences(
                citizen,
                disabled=form.disabled(),
                quiet_hours=form.cleaned_data["quiet_hours"],
                quiet_start=form.cleaned_data["quiet_start"],
                quiet_end=form.cleaned_data["quiet_end"],
                daily_cap=form.cleaned_data["daily_cap"],
            )
            messages.success(request, _("Настройки уведомлений сохранены."))
            return redirect("notifications:preferences")
    else:
        initial = {
            "quiet_hours": profile.quiet_hours,
            "quiet_start": profile.quiet_start,
            "quiet_end": profile.quiet_end,
            "daily_cap": profile.daily_cap,
        }
        for topic, _label in Topic.choices:
            off = (profile.disabled or {}).get(topic, [])
            for channel, _l in CHANNELS:
                initial[f"{topic}__{channel}"] = channel not in off
        form = PreferencesForm(initial=initial)

    from .backends import push

    return render(
        request,
        "notifications/preferences.html",
        {
            "form": form,
            "citizen": citizen,
            "profile": profile,
            "vapid_public_key": push.public_key(),
            "push_count": citizen.push_subscriptions.count(),
        },
    )


@require_POST
@citizen_required
def push_subscribe(request, citizen):
    data = _json_body(request) or {}
    keys = data.get("keys") or {}
    endpoint = str(data.get("endpoint", ""))
    if not endpoint.startswith(("https://", "http://")) or not keys.get("p256dh"):
        return JsonResponse({"error": _("Подписка не распознана.")}, status=400)
    services.subscribe_push(citizen, endpoint, keys["p256dh"], keys.get("auth", ""))
    return JsonResponse({"ok": True})


SERVICE_WORKER = """
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) {}
  event.waitUntil(self.registration.showNotification(
    data.title || "Проактивный портал", {body: data.body || "", data: data}));
});
self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(clients.openWindow(url));
});
"""


@require_GET
def service_worker(request):
    response = HttpResponse(SERVICE_WORKER, content_type="application/javascript")
    response["Service-Worker-Allowed"] = "/"
    return response
