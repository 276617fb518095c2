"""The officials' forms for acting on an application in admin."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import ResultDocument


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Комментарий"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class PensionApproveForm(NoteForm):
    """Approving a pension names the day its payments start; the default
    and the earliest allowed day come from offers.pension."""

    payments_start_on = forms.DateField(
        label=_("Выплаты пенсии с"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    field_order = ["payments_start_on", "note"]

    def __init__(self, *args, application, **kwargs):
        from . import pension

        super().__init__(*args, **kwargs)
        self.earliest = pension.earliest_start(application)
        self.latest = pension.latest_start(application)
        self.fields["payments_start_on"].initial = pension.default_start(application)
        self.fields["payments_start_on"].help_text = _(
            "По умолчанию — день установления инвалидности, но не раньше чем "
            "за 12 месяцев до заявления и не позже дня заявления."
        )

    def clean_payments_start_on(self):
        start = self.cleaned_data["payments_start_on"]
        if start < self.earliest:
            raise forms.ValidationError(
                _("Выплаты не могут начаться раньше %(date)s.")
                % {"date": f"{self.earliest:%d.%m.%Y}"}
            )
        if start > self.latest:
            raise forms.ValidationError(
                _("Выплаты не могут начаться позже дня подачи заявления, %(date)s.")
                % {"date": f"{self.latest:%d.%m.%Y}"}
            )
        return start


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Причина отказа (её увидит гражданин)"),
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class RequestDocumentForm(forms.Form):
    document = forms.CharField(label=_("Какой документ нужен"), max_length=300)
    due_on = forms.DateField(
        label=_("Представить до"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_due_on(self):
        due_on = self.cleaned_data["due_on"]
        if due_on <= timezone.localdate():
            raise forms.ValidationError(_("Срок должен быть позже сегодняшнего дня."))
        return due_on


class CompleteForm(forms.Form):
    """Completing offers only the result documents of the application's
    service (offers.services.result_kinds); another kind posted is refused
    with the reason."""

    kind = forms.ChoiceField(label=_("Документ-результат"), required=False)
    note = forms.CharField(
        label=_("Комментарий"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, application, **kwargs):
        from . import services

        super().__init__(*args, **kwargs)
        code = application.service.code
        kinds = services.result_kinds(code)
        labels = dict(ResultDocument.Kind.choices)
        field = self.fields["kind"]
        field.choices = [(kind, labels[kind]) for kind in kinds]
        field.initial = kinds[0]
        field.error_messages["invalid_choice"] = services.kind_not_for_service(code)


class RegisterBirthForm(forms.Form):
    """The registry office registers a birth: the act record it made."""

    act_number = forms.CharField(
        label=_("Номер записи акта о рождении"),
        max_length=40,
        help_text=_("Только цифры, как в ЕГР ЗАГС."),
    )
    act_date = forms.DateField(
        label=_("Дата записи акта"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_act_number(self):
        from .registration import clean_act_number

        return clean_act_number(self.cleaned_data["act_number"])

    def clean_act_date(self):
        act_date = self.cleaned_data["act_date"]
        if act_date > timezone.localdate():
            raise forms.ValidationError(
                _("Дата записи акта не может быть позже сегодняшнего дня.")
            )
        return act_date
