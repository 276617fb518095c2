"""The pages of signing an application: choose how to receive the money,
get a code, type it. Two steps, both POST to one address; the second one
posts the payment choice again (hidden), and the code only fits the content
it was sent for, so a changed field needs a new code."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from offers import pension
from offers import services as offer_services
from offers import signing as offer_signing
from offers.prefill import rows_for

from . import services, signing
from .display import display_rows
from .forms import CodeForm, PaymentForm
from .views import _client_ip, _offer_context, citizen_required


def payment_form(citizen, data=None) -> PaymentForm:
    return PaymentForm(data, address=citizen.address)


@require_POST
@citizen_required
def offer_sign(request, citizen, pk):
    offer = get_object_or_404(
        citizen.offers.select_related("service", "rule", "event"), pk=pk
    )
    if not offer.service.signature_required or not offer.is_open:
        return redirect("cabinet:offer-detail", pk=pk)
    form = payment_form(citizen, request.POST)
    if not form.is_valid():
        context = _offer_context(citizen, offer)
        context["payment_form"] = form
        return render(request, "cabinet/offer_detail.html", context, status=400)

    session_key = request.session.session_key or ""
    code_form = CodeForm(request.POST if "sign" in request.POST else None)
    if "sign" in request.POST and code_form.is_valid():
        try:
            application = signing.sign_offer(
                citizen,
                offer.pk,
                form.payment,
                code_form.cleaned_data["code"],
                session_key=session_key,
                ip_address=_client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        except services.CabinetError as error:
            code_form.add_error("code", str(error))
        except offer_services.OfferError:
            messages.error(request, _("Это предложение уже нельзя подтвердить."))
            return redirect("cabinet:offer-detail", pk=pk)
        else:
            messages.success(
                request,
                _("Заявление № %(number)s подписано и подано.")
                % {"number": application.number},
            )
            return redirect("cabinet:application-detail", pk=application.pk)

    method = signing.signing_method(citizen)
    if "sign" not in request.POST:
        try:
            method = signing.request_signature_code(
                citizen, offer.pk, form.payment, session_key
            )
        except services.CabinetError as error:
            messages.error(request, str(error))
            return redirect("cabinet:offer-detail", pk=pk)
    content = signing.content_to_sign(citizen, offer.pk, form.payment)
    return render(
        request,
        "cabinet/offer_sign.html",
        {
            "citizen": citizen,
            "offer": offer,
            "fields": display_rows(
                rows_for(offer.prefill, offer.service.prefill_fields)
            ),
            "payment_rows": pension.payment_rows(form.payment),
            "payment_form": form,
            "code_form": code_form,
            "method": method,
            "phone_tail": citizen.phone[-4:],
            "sha256": offer_signing.content_hash(content),
        },
        status=400 if code_form.errors else 200,
    )
