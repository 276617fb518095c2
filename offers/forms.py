"""The officials' forms for acting on an application in admin."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import ResultDocument


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Комментарий"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


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
    kind = forms.ChoiceField(
        label=_("Документ-результат"),
        choices=[("", _("по умолчанию для услуги")), *ResultDocument.Kind.choices],
        required=False,
    )
    note = forms.CharField(
        label=_("Комментарий"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


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
