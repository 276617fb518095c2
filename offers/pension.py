"""The disability pension: how the money is received and from which day it
is paid.

The offer comes from a ФГИС ФРИ record (rule ``disability-pension-fri``).
The citizen chooses a bank account or delivery by post; the choice becomes
part of the signed application. On approval the Social Fund names the day
payments start: by default the day disability was established, but not
earlier than twelve months before the application (Federal Law 400-FZ,
art. 22: a pension is paid for at most twelve months back), and not later
than the day of the application (from which a pension is paid at the
latest).
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import bank
from .models import Application, ApplicationStatusChange, PensionAward

SERVICE_CODE = "disability-pension"
MONTHS_BACK = 12

BANK = "bank"
POST = "post"
PAYMENT_METHODS = [
    (BANK, _("На банковский счёт")),
    (POST, _("Почтой, по адресу регистрации")),
]
# Keys the choice adds to the application's data, with their labels.
PAYMENT_FIELDS = {
    "payment_method": _("Способ получения"),
    "bank_bik": _("БИК банка"),
    "bank_account": _("Номер счёта"),
    "post_address": _("Адрес доставки"),
}


class PensionError(Exception):
    """The decision cannot be recorded; the message says why."""


def applies(service) -> bool:
    return service.code == SERVICE_CODE


def payment_data(method: str, bik: str, account: str, address: str) -> dict:
    """The application's payment keys, checked; a ``ValidationError`` whose
    dict names the field otherwise."""
    if method == BANK:
        bik, account = bank.clean_details(bik, account)
        return {"payment_method": BANK, "bank_bik": bik, "bank_account": account}
    if method == POST:
        if not address.strip():
            raise ValidationError(
                {"method": _("В профиле нет адреса регистрации: выберите счёт.")}
            )
        return {"payment_method": POST, "post_address": address.strip()}
    raise ValidationError({"method": _("Выберите способ получения.")})


def payment_rows(data: dict) -> list[dict]:
    """The payment keys of an application's data, for its page."""
    method = dict(PAYMENT_METHODS).get(data.get("payment_method", ""))
    if method is None:
        return []
    rows = [{"label": PAYMENT_FIELDS["payment_method"], "value": method}]
    for key in ("bank_bik", "bank_account", "post_address"):
        if data.get(key):
            rows.append({"label": PAYMENT_FIELDS[key], "value": data[key]})
    return rows


def _months_before(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 - months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _established_on(application: Application) -> datetime.date | None:
    value = application.data.get("disability_established_on") or ""
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


def earliest_start(application: Application) -> datetime.date:
    submitted = timezone.localtime(application.submitted_at).date()
    earliest = _months_before(submitted, MONTHS_BACK)
    established = _established_on(application)
    return max(earliest, established) if established else earliest


def latest_start(application: Application) -> datetime.date:
    submitted = timezone.localtime(application.submitted_at).date()
    return max(submitted, earliest_start(application))


def default_start(application: Application) -> datetime.date:
    """The day disability was established, but not earlier than twelve
    months before the application."""
    return earliest_start(application)


def award(
    application: Application,
    change: ApplicationStatusChange,
    payments_start_on: datetime.date | None,
) -> PensionAward:
    """Record from which day the approved pension is paid; the approval's
    note (the citizen's timeline) says it too."""
    start = payments_start_on or default_start(application)
    earliest = earliest_start(application)
    if start < earliest:
        raise PensionError(
            _("Выплаты не могут начаться раньше %(date)s.")
            % {"date": f"{earliest:%d.%m.%Y}"}
        )
    latest = latest_start(application)
    if start > latest:
        raise PensionError(
            _("Выплаты не могут начаться позже дня подачи заявления, %(date)s.")
            % {"date": f"{latest:%d.%m.%Y}"}
        )
    said = f"Пенсия назначена, выплаты с {start:%d.%m.%Y}"
    change.note = f"{said}. {change.note}" if change.note else said
    change.save(update_fields=["note"])
    return PensionAward.objects.create(
        application=application, status_change=change, payments_start_on=start
    )


def pdf_lines(application: Application) -> list[tuple[str, str]]:
    data = application.data
    lines = []
    if data.get("disability_group"):
        group = data["disability_group"]
        lines.append(("Группа инвалидности", group))
    award_row = PensionAward.objects.filter(application=application).first()
    if award_row is not None:
        lines.append(("Выплаты с", f"{award_row.payments_start_on:%d.%m.%Y}"))
    method = dict(PAYMENT_METHODS).get(data.get("payment_method", ""))
    if method:
        lines.append(("Способ получения", str(method)))
    return lines
