"""The citizen's pages. Every query starts from the logged-in citizen, so
another citizen's objects answer 404."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from notifications import services as notification_services
from notifications.models import Notification
from offers import services as offer_services
from offers.models import Application, Offer, ResultDocument
from offers.prefill import rows_for


def citizen_required(view):
    """Logged in, and the account belongs to a citizen (staff accounts of
    officials have no cabinet)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            citizen = request.user.citizen
        except ObjectDoesNotExist:
            raise Http404("no citizen profile for this account") from None
        return view(request, citizen, *args, **kwargs)

    return wrapper


@citizen_required
def dashboard(request, citizen):
    offers = citizen.offers.filter(status__in=Offer.OPEN).select_related("service")
    applications = citizen.applications.select_related("service")[:10]
    return render(
        request,
        "cabinet/dashboard.html",
        {"citizen": citizen, "offers": offers, "applications": applications},
    )


@citizen_required
def offer_detail(request, citizen, pk):
    offer = get_object_or_404(
        citizen.offers.select_related("service", "rule", "event"), pk=pk
    )
    offer_services.mark_offer_opened(citizen, offer.pk)
    return render(
        request,
        "cabinet/offer_detail.html",
        {
            "citizen": citizen,
            "offer": offer,
            "fields": rows_for(offer.prefill, offer.service.prefill_fields),
            "application": Application.objects.filter(offer=offer).first(),
        },
    )


@require_POST
@citizen_required
def offer_confirm(request, citizen, pk):
    get_object_or_404(citizen.offers, pk=pk)
    try:
        application = offer_services.accept_offer(citizen, pk)
    except offer_services.OfferError:
        messages.error(request, _("Это предложение уже нельзя подтвердить."))
        return redirect("cabinet:offer-detail", pk=pk)
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
    return render(
        request,
        "cabinet/application_detail.html",
        {
            "citizen": citizen,
            "application": application,
            "history": application.history.all(),
            "documents": application.result_documents.all(),
            "fields": rows_for(application.data, application.service.prefill_fields),
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
