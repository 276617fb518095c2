"""The citizen's payments pages: the list with statuses and tax notices,
one payment with its history, confirming receipt, correcting bank details,
and statements of payments as PDF. Every query starts from the logged-in
citizen, so another citizen's payment or statement answers 404."""

import datetime
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from events.models import LifeEvent
from offers import payments as payment_services
from offers.prefill import TAX_TYPE_NAMES

from .forms import CabinetForm
from .views import citizen_required


class BankDetailsForm(CabinetForm):
    bik = forms.CharField(
        label=gettext_lazy("БИК банка"),
        max_length=20,
        help_text=gettext_lazy("9 цифр, начинается с 04. Он есть в договоре с банком."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    account = forms.CharField(
        label=gettext_lazy("Номер счёта"),
        max_length=32,
        help_text=gettext_lazy(
            "20 цифр, для счёта физического лица начинается с 40817."
        ),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


class StatementForm(CabinetForm):
    date_from = forms.DateField(
        label=gettext_lazy("С"),
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=gettext_lazy("По"),
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


def _tax_notices(citizen) -> list[dict]:
    events = LifeEvent.objects.filter(
        citizen=citizen, event_type=LifeEvent.Type.TAX_NOTICE
    ).order_by("-occurred_on", "-id")[:50]
    return [
        {
            "name": TAX_TYPE_NAMES.get(e.data.get("tax_type"), e.data.get("tax_type")),
            "year": e.data.get("period_year"),
            "amount": e.data.get("amount") or "0",
            "due_on": e.occurred_on,
            "nothing_due": Decimal(e.data.get("amount") or "0") == 0,
        }
        for e in events
    ]


def _list_context(citizen, statement_form=None) -> dict:
    today = timezone.localdate()
    return {
        "citizen": citizen,
        "payments": payment_services.payments_of(
            citizen, payment_services.payment_events(citizen)[:200]
        ),
        "taxes": _tax_notices(citizen),
        "statements": citizen.payment_statements.select_related("document")[:20],
        "statement_form": statement_form
        or StatementForm(
            initial={"date_from": datetime.date(today.year, 1, 1), "date_to": today}
        ),
        "today": today,
    }


@citizen_required
def payment_list(request, citizen):
    return render(request, "cabinet/payments.html", _list_context(citizen))


def _detail_context(citizen, event, bank_form=None) -> dict:
    record = event.registry_record
    history = [
        {
            "received_at": version.batch.started_at,
            "status": payment_services.STATUS_LABELS.get(
                version.data.get("status"), version.data.get("status")
            ),
            "amount": version.data.get("amount") or "0",
        }
        for version in record.versions.select_related("batch").order_by("version")
    ]
    return {
        "citizen": citizen,
        "payment": payment_services.as_payment(event),
        "history": history,
        "current_received_at": record.batch.started_at,
        "bank_details": event.bank_details.filter(citizen=citizen),
        "bank_form": bank_form or BankDetailsForm(),
    }


def _payment(citizen, pk):
    return get_object_or_404(
        payment_services.payment_events(citizen).select_related(
            "registry_record__batch"
        ),
        pk=pk,
    )


@citizen_required
def payment_detail(request, citizen, pk):
    event = _payment(citizen, pk)
    return render(
        request, "cabinet/payment_detail.html", _detail_context(citizen, event)
    )


@require_POST
@citizen_required
def payment_confirm(request, citizen, pk):
    event = _payment(citizen, pk)
    try:
        payment_services.confirm_receipt(citizen, event.pk)
    except payment_services.PaymentError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, _("Спасибо! Мы сообщили ведомству, что выплата получена.")
        )
    return redirect("cabinet:payment-detail", pk=event.pk)


@require_POST
@citizen_required
def payment_bank_details(request, citizen, pk):
    event = _payment(citizen, pk)
    form = BankDetailsForm(request.POST)
    if form.is_valid():
        try:
            payment_services.submit_bank_details(
                citizen,
                event.pk,
                form.cleaned_data["bik"],
                form.cleaned_data["account"],
            )
        except payment_services.PaymentError as error:
            messages.error(request, str(error))
            return redirect("cabinet:payment-detail", pk=event.pk)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _(
                    "Реквизиты получены и переданы ведомству. Выплату перечислят "
                    "на новый счёт; мы сообщим о ней."
                ),
            )
            return redirect("cabinet:payment-detail", pk=event.pk)
    return render(
        request,
        "cabinet/payment_detail.html",
        _detail_context(citizen, event, form),
        status=400,
    )


@require_POST
@citizen_required
def statement_request(request, citizen):
    form = StatementForm(request.POST)
    if form.is_valid():
        try:
            statement = payment_services.issue_statement(
                citizen, form.cleaned_data["date_from"], form.cleaned_data["date_to"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("Справка готова: код проверки %(code)s.")
                % {"code": statement.document.verification_code_display},
            )
            return redirect(reverse("cabinet:payments") + "#statements")
    return render(
        request, "cabinet/payments.html", _list_context(citizen, form), status=400
    )


@citizen_required
def statement_download(request, citizen, pk):
    statement = get_object_or_404(
        citizen.payment_statements.select_related("document"), pk=pk
    )
    document = statement.document
    return FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=f"{document.kind}-{document.verification_code}.pdf",
        content_type="application/pdf",
    )
