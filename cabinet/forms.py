from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from consents.services import DEFAULT_VALIDITY_DAYS
from events.values import parse_snils
from offers import pension


class LoginNameLengthMixin:
    """Django's login form shows the login name's maximum length, but sets it
    after the field is built, so nothing checks it: a longer name went on to
    ``authenticate`` and to django-axes, whose record of the failure cannot
    hold it (a 500). Here the form refuses it, as it does an empty one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(field.max_length))


class LoginForm(LoginNameLengthMixin, AuthenticationForm):
    """The cabinet's sign-in: login name (or email) and password. Officials'
    accounts sign in to the admin only: their second-factor devices are the
    administrator's, and the cabinet lets a signed-in person set up another."""

    staff_account = False

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if user.is_staff:
            self.staff_account = True
            raise ValidationError(
                _("Служебная учётная запись входит в раздел управления."),
                code="staff",
            )


class CabinetForm(forms.Form):
    """Labels without Django's trailing colon: the field group shows the
    label above the input, and screen readers read it as written."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class RegistrationForm(CabinetForm):
    snils = forms.CharField(
        label=_("СНИЛС"),
        max_length=14,
        help_text=_("11 цифр, можно с дефисами и пробелом: 123-456-789 01"),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    passport_series = forms.CharField(
        label=_("Серия паспорта"),
        min_length=4,
        max_length=4,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    passport_number = forms.CharField(
        label=_("Номер паспорта"),
        min_length=6,
        max_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    birth_date = forms.DateField(
        label=_("Дата рождения"),
        help_text=_("ДД.ММ.ГГГГ"),
        input_formats=["%d.%m.%Y", "%Y-%m-%d"],
        widget=forms.TextInput(attrs={"autocomplete": "bday"}),
    )
    email = forms.EmailField(
        label=_("Электронная почта"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password1 = forms.CharField(
        label=_("Пароль"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Не короче 8 символов, не только цифры, не похожий на Ваши данные."
        ),
    )
    password2 = forms.CharField(
        label=_("Пароль ещё раз"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_snils(self):
        digits = "".join(ch for ch in self.cleaned_data["snils"] if ch.isdigit())
        if len(digits) != 11 or not digits.isascii():
            raise forms.ValidationError(_("Проверьте СНИЛС: в нём 11 цифр."))
        # The importer's rule, so that a SNILS it stored is never refused
        # here: the earliest numbers carry no check number.
        try:
            parse_snils(digits)
        except ValueError:
            raise forms.ValidationError(
                _(
                    "Проверьте СНИЛС: контрольное число (две последние цифры) "
                    "не сходится с остальными цифрами."
                )
            ) from None
        return digits

    def clean_passport_series(self):
        value = self.cleaned_data["passport_series"].replace(" ", "")
        if not value.isdigit():
            raise forms.ValidationError(_("Серия паспорта — 4 цифры."))
        return value

    def clean_passport_number(self):
        value = self.cleaned_data["passport_number"]
        if not value.isdigit():
            raise forms.ValidationError(_("Номер паспорта — 6 цифр."))
        return value

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if get_user_model().objects.filter(username__iexact=email).exists():
            # Said only after the registry match (see the view), so the form
            # never tells a stranger whether an address is in use.
            self.email_taken = True
        return email

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("Пароли не совпадают."))
        elif p1:
            user = get_user_model()(
                username=data.get("email", ""), email=data.get("email", "")
            )
            try:
                password_validation.validate_password(p1, user)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class TokenForm(CabinetForm):
    # Not inputmode="numeric": backup codes have letters, and a phone would
    # offer digits only.
    token = forms.CharField(
        label=_("Код"),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none"}
        ),
    )


class ReauthForm(CabinetForm):
    password = forms.CharField(
        label=_("Пароль"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    token = forms.CharField(
        label=_("Код из приложения или резервный код"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )


VALIDITY_CHOICES = [
    (91, _("3 месяца")),
    (365, _("1 год")),
    (1095, _("3 года")),
]


class ConsentForm(CabinetForm):
    validity_days = forms.TypedChoiceField(
        label=_("Срок действия согласия"),
        choices=VALIDITY_CHOICES,
        coerce=int,
        initial=DEFAULT_VALIDITY_DAYS,
        widget=forms.RadioSelect,
    )
    agree = forms.BooleanField(
        label=_("Я прочитал(а) текст согласия и даю его"), required=True
    )


class PhoneForm(CabinetForm):
    phone = forms.CharField(
        label=_("Номер мобильного телефона"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )


class EmailChangeForm(CabinetForm):
    email = forms.EmailField(
        label=_("Новый адрес электронной почты"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class ErrorReportForm(CabinetForm):
    field = forms.ChoiceField(label=_("Какое значение неверно"))
    comment = forms.CharField(
        label=_("Что не так и как правильно"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, fields=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = list(fields)


class DocumentForm(CabinetForm):
    title = forms.CharField(label=_("Какой это документ"), max_length=200)
    file = forms.FileField(
        label=_("Файл (PDF, JPEG, PNG или XML)"),
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ".pdf,.jpg,.jpeg,.png,.xml,application/pdf,image/jpeg,"
                "image/png,application/xml,text/xml"
            }
        ),
    )


class PaymentForm(CabinetForm):
    """How the pension is paid; the checks are offers.pension's, each error
    shown next to its field."""

    method = forms.ChoiceField(
        label=_("Способ получения"),
        choices=pension.PAYMENT_METHODS,
        widget=forms.RadioSelect,
    )
    bik = forms.CharField(
        label=_("БИК банка"),
        required=False,
        max_length=20,
        help_text=_("9 цифр, есть в реквизитах счёта"),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    account = forms.CharField(
        label=_("Номер счёта"),
        required=False,
        max_length=30,
        help_text=_("20 цифр, начинается с 40817"),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def __init__(self, *args, address: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.address = address
        self.payment: dict = {}
        hint = gettext("Адрес для доставки почтой: %(address)s")
        self.fields["method"].help_text = hint % {"address": address or "—"}

    def clean(self):
        data = super().clean()
        if "method" not in data:
            return data
        try:
            self.payment = pension.payment_data(
                data["method"],
                data.get("bik", ""),
                data.get("account", ""),
                self.address,
            )
        except ValidationError as error:
            for field, errors in error.error_dict.items():
                self.add_error(field, errors)
        return data


class CodeForm(CabinetForm):
    code = forms.CharField(
        label=_("Код подтверждения"),
        max_length=6,
        min_length=6,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}
        ),
    )
