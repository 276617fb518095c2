from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms as django_forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Min, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from proactive_portal.admin_base import ReadOnlyAdmin

from . import forms, funnel, pension, registration, services
from .models import (
    Application,
    ApplicationSignature,
    ApplicationStatusChange,
    DocumentRequest,
    Offer,
    Document,
    PensionAward,
    ResultDocument,
    Service,
    ServiceOptOut,
    TakeUpFunnel,
)

Status = Application.Status


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "code",
        "agency",
        "processing_days",
        "auto_decide",
        "granted_once",
        "is_active",
    )
    list_filter = ("is_active", "auto_decide", "granted_once", "agency")
    search_fields = ("title", "code")


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = (
        "id", "service", "citizen", "status", "attempt", "created_at", "expires_at",
    )
    list_filter = ("status", "service", "rule")
    search_fields = ("=citizen__snils", "citizen__last_name")
    date_hierarchy = "created_at"

    # An offer changes only through its lifecycle (offers.services): whom
    # it is for, what it rests on and where it stands are not edited here.
    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Offer._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StatusChangeInline(admin.TabularInline):
    model = ApplicationStatusChange
    fields = ("changed_at", "status", "note", "actor")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


class DocumentRequestInline(admin.TabularInline):
    model = DocumentRequest
    fields = ("document", "due_on", "requested_at", "reminded_at", "received_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


class ResultDocumentInline(admin.TabularInline):
    model = ResultDocument
    fields = ("kind", "verification_code", "sha256", "issued_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


class SignatureInline(admin.StackedInline):
    model = ApplicationSignature
    fields = ("signed_at", "method", "sha256", "ip_address", "user_agent", "content")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


class PensionAwardInline(admin.TabularInline):
    model = PensionAward
    fields = ("payments_start_on", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


class QueueFilter(admin.SimpleListFilter):
    title = _("очередь")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("open", _("в работе")),
            ("overdue", _("просроченные")),
            ("closed", _("завершённые")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(status__in=Application.OPEN_STATUSES)
        if self.value() == "overdue":
            return queryset.filter(
                status__in=Application.OPEN_STATUSES, due_on__lt=timezone.localdate()
            )
        if self.value() == "closed":
            return queryset.exclude(status__in=Application.OPEN_STATUSES)
        return queryset


@dataclass(frozen=True)
class OfficialAction:
    """One thing an official can do to an application from its page."""

    label: str
    form: type[django_forms.Form]
    run: Callable[[int, Any, dict], Any]
    allowed: Callable[[str], bool]
    # Which services' applications the action is for (by code); None: all.
    applies: Callable[[str], bool] = lambda service_code: True


def _to(status: str) -> Callable[[str], bool]:
    return lambda current: status in services.APPLICATION_TRANSITIONS[current]


ACTIONS: dict[str, OfficialAction] = {
    "review": OfficialAction(
        _("Взять в работу"),
        forms.NoteForm,
        lambda pk, actor, data: services.take_into_review(
            pk, actor=actor, note=data["note"]
        ),
        lambda current: current == Status.SUBMITTED,
    ),
    "approve": OfficialAction(
        _("Одобрить"),
        forms.NoteForm,
        lambda pk, actor, data: services.approve_application(
            pk,
            actor=actor,
            note=data["note"],
            payments_start_on=data.get("payments_start_on"),
        ),
        _to(Status.APPROVED),
    ),
    "reject": OfficialAction(
        _("Отказать"),
        forms.RejectForm,
        lambda pk, actor, data: services.reject_application(
            pk, actor=actor, reason=data["reason"]
        ),
        _to(Status.REJECTED),
    ),
    "request-document": OfficialAction(
        _("Запросить документ"),
        forms.RequestDocumentForm,
        lambda pk, actor, data: services.request_document(
            pk, actor=actor, document=data["document"], due_on=data["due_on"]
        ),
        _to(Status.DOCUMENTS_REQUESTED),
    ),
    "receive-document": OfficialAction(
        _("Документы получены"),
        forms.NoteForm,
        lambda pk, actor, data: services.receive_document(
            pk, actor=actor, note=data["note"]
        ),
        lambda current: current == Status.DOCUMENTS_REQUESTED,
    ),
    "complete": OfficialAction(
        _("Исполнить и выдать результат"),
        forms.CompleteForm,
        lambda pk, actor, data: services.complete_application(
            pk, actor=actor, kind=data["kind"], note=data["note"]
        ),
        _to(Status.COMPLETED),
        lambda service_code: service_code not in services.OWN_COMPLETION,
    ),
    "register-birth": OfficialAction(
        _("Зарегистрировать рождение и выдать свидетельство"),
        forms.RegisterBirthForm,
        lambda pk, actor, data: registration.register_birth(
            pk, actor=actor, act_number=data["act_number"], act_date=data["act_date"]
        ),
        lambda current: (
            current in (Status.SUBMITTED, Status.IN_REVIEW, Status.APPROVED)
        ),
        lambda service_code: service_code == registration.SERVICE,
    ),
}


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    """The agency's queue: filter by service, soonest due first, overdue
    ones marked; each application's page offers the allowed actions."""

    list_display = ("number", "service", "status", "due", "submitted_at", "citizen")
    list_filter = (QueueFilter, "service", "status")
    list_select_related = ("service", "citizen")
    search_fields = ("=number", "=citizen__snils", "citizen__last_name")
    ordering = ("due_on", "submitted_at")
    # Whose application it is, and what was signed, never change in admin:
    # officials act on an application only through the actions below.
    readonly_fields = (
        "citizen",
        "offer",
        "number",
        "service",
        "status",
        "due_on",
        "submitted_at",
        "updated_at",
        "data",
    )
    inlines = [
        DocumentRequestInline,
        ResultDocumentInline,
        StatusChangeInline,
        SignatureInline,
        PensionAwardInline,
    ]
    actions = ["approve_selected", "complete_selected"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        """Above the list: each service's queue, open and overdue, as links."""
        today = timezone.localdate()
        queues = (
            Application.objects.filter(status__in=Application.OPEN_STATUSES)
            .values("service_id", "service__title")
            .annotate(
                open=Count("id"),
                overdue=Count("id", filter=Q(due_on__lt=today)),
                next_due=Min("due_on"),
            )
            .order_by("service__title")
        )
        extra_context = {**(extra_context or {}), "service_queues": queues}
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("срок решения"), ordering="due_on")
    def due(self, application):
        if application.due_on is None:
            return "—"
        text = f"{application.due_on:%d.%m.%Y}"
        if application.is_overdue:
            return format_html(
                '<strong class="overdue" style="color:#a11c1c">{} ({})</strong>',
                text,
                _("просрочено"),
            )
        return text

    def get_urls(self):
        urls = [
            path(
                "<int:object_id>/act/<slug:action>/",
                self.admin_site.admin_view(self.action_view),
                name="offers_application_act",
            )
        ]
        return urls + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        application = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if application is not None:
            extra_context["official_actions"] = [
                (
                    reverse("admin:offers_application_act", args=[application.pk, key]),
                    a.label,
                )
                for key, a in ACTIONS.items()
                if a.allowed(application.status) and a.applies(application.service.code)
            ]
        return super().change_view(request, object_id, form_url, extra_context)

    def action_view(self, request, object_id, action):
        official_action = ACTIONS.get(action)
        if official_action is None:
            raise Http404("no such action")
        application = get_object_or_404(
            Application.objects.select_related("service"), pk=object_id
        )
        if not self.has_change_permission(request, application):
            raise PermissionDenied
        if not official_action.applies(application.service.code):
            raise Http404("not an action for this service")
        change_url = reverse("admin:offers_application_change", args=[application.pk])

        posted = request.method == "POST"
        form_class, extra = official_action.form, {}
        if action == "approve" and pension.applies(application.service):
            form_class = forms.PensionApproveForm
            extra = {"application": application}
        if form_class is forms.CompleteForm:
            extra = {"application": application}
        form = form_class(request.POST, **extra) if posted else form_class(**extra)
        if posted and form.is_valid():
            try:
                official_action.run(application.pk, request.user, form.cleaned_data)
            except ValidationError as error:
                # The data does not fit this application (an act date before
                # the birth, a number already used): said on the form.
                form.add_error(None, error)
            except services.ApplicationError:
                application.refresh_from_db(fields=["status"])
                message = _("Это действие сейчас невозможно: заявление «%(status)s».")
                self.message_user(
                    request,
                    message % {"status": application.get_status_display()},
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request,
                    _("Заявление № %(number)s: %(action)s — готово.")
                    % {"number": application.number, "action": official_action.label},
                    messages.SUCCESS,
                )
            if not form.errors:
                return redirect(change_url)

        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "application": application,
            "action_label": official_action.label,
            "form": form,
            "change_url": change_url,
            "title": f"{official_action.label}: № {application.number}",
        }
        return TemplateResponse(
            request, "admin/offers/application/action.html", context
        )

    def _bulk(self, request, queryset, key, run, label):
        """Run ``run`` on each selected application; each one it could not
        act on is named with the reason."""
        action = ACTIONS[key]
        done, refusals = 0, []
        for application in queryset.select_related("service"):
            reason = _refusal(action, application)
            if reason is None:
                try:
                    run(application.pk, actor=request.user)
                except services.ApplicationError as error:
                    application.refresh_from_db(fields=["status"])
                    # Another official acted first, or the verb said why
                    # (a pension's payments cannot start on that day).
                    reason = _refusal(action, application) or str(error)
                else:
                    done += 1
                    continue
            refusals.append(
                _("Заявление № %(number)s: %(reason)s")
                % {"number": application.number, "reason": reason}
            )
        self.message_user(
            request,
            _("%(label)s: выполнено %(done)d, невозможно %(refused)d.")
            % {"label": label, "done": done, "refused": len(refusals)},
            messages.SUCCESS if not refusals else messages.WARNING,
        )
        for refusal in refusals:
            self.message_user(request, refusal, messages.WARNING)

    @admin.action(description=_("Одобрить выбранные заявления"))
    def approve_selected(self, request, queryset):
        self._bulk(
            request, queryset, "approve", services.approve_application, _("Одобрение")
        )

    @admin.action(description=_("Исполнить выбранные и выдать результаты"))
    def complete_selected(self, request, queryset):
        # Each application gets its service's own result document
        # (services.result_kinds), as the single action's default.
        self._bulk(
            request,
            queryset,
            "complete",
            services.complete_application,
            _("Исполнение"),
        )


def _refusal(action: OfficialAction, application: Application) -> str | None:
    """Why ``action`` cannot be done to the application now; None if it can."""
    if not action.applies(application.service.code):
        return _("результат этой услуги выдаётся на странице заявления")
    if not action.allowed(application.status):
        return _("сейчас это невозможно, заявление «%(status)s»") % {
            "status": application.get_status_display()
        }
    return None


@admin.register(TakeUpFunnel)
class TakeUpFunnelAdmin(ReadOnlyAdmin):
    """The take-up funnel: a page, not a list of rows."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("offers.view_offer")

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Воронка проактивных услуг"),
            "report": funnel.build_report(),
        }
        return TemplateResponse(
            request, "admin/offers/takeupfunnel/funnel.html", context
        )


@admin.register(ServiceOptOut)
class ServiceOptOutAdmin(admin.ModelAdmin):
    list_display = ("citizen", "service", "created_at")
    list_filter = ("service",)
    raw_id_fields = ("citizen",)


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    """Read-only: the file opens through the cabinet's download view, which
    checks the official's permission and second factor."""

    list_display = ("id", "title", "content_type", "size", "uploaded_at", "download")
    list_filter = ("content_type",)
    raw_id_fields = ("citizen", "offer")
    exclude = ("file",)
    readonly_fields = (
        "citizen", "offer", "title", "content_type", "size", "original_name",
        "uploaded_at", "download",
    )

    @admin.display(description="файл")
    def download(self, obj):
        url = reverse("cabinet:document-download", args=[obj.pk])
        return format_html('<a href="{}">скачать</a>', url)

    def has_add_permission(self, request):
        return False


# The payments' admin lives in its own module; importing it registers it.
from . import payment_admin  # noqa: E402, F401
