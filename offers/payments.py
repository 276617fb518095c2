"""Social payments: notices, the citizen's answers, statements.

A payment is a ``LifeEvent`` of type ``payment`` as the payments registry
reports it (payment_type, amount, scheduled_on, status); a correction of
the record updates the same event. This module tells the citizen about
each payment and each new status of it, records what the citizen answers
(receipt confirmed, bank details corrected) and issues statements of
payments as verifiable PDFs.

Payment notices are not proactive offers: they tell the citizen about
their own money, as the paying agency would, and use nothing but the
payment record. So they need no consent to proactive processing (which
governs offers, DESIGN.md invariant 2); they do follow the citizen's own
choices for the "payments" topic per channel, quiet hours and the daily
cap, like every notice. Nobody is told about a payment of a deceased
person, nor about payments dated long ago (a history load).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import CharField, F, QuerySet, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Concat
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from notifications import services as notification_services
from notifications.models import Notification

from . import bank, payment_pdf
from .models import (
    BankDetails,
    PaymentReceipt,
    PaymentStatement,
    PaymentType,
    ResultDocument,
    new_verification_code,
)

logger = logging.getLogger(__name__)

# A payment dated more than this many days ago is shown in the cabinet but
# not announced: loading a registry's history must not send a year of SMS.
NOTICE_MAX_AGE_DAYS = 30
# The longest period one statement covers.
STATEMENT_MAX_DAYS = 5 * 366

SCHEDULED = "scheduled"
CREDITED = "credited"
AWAITING_CONFIRMATION = "awaiting_confirmation"
NEEDS_CLARIFICATION = "needs_clarification"
RETURNED = "returned"

STATUS_LABELS = {
    SCHEDULED: _("назначена"),
    CREDITED: _("зачислена"),
    AWAITING_CONFIRMATION: _("ожидает подтверждения"),
    NEEDS_CLARIFICATION: _("требует уточнения"),
    RETURNED: _("возвращена"),
}
# The statuses in which the citizen is asked for new bank details: the
# agency could not pay into the account it has.
CORRECTABLE = (NEEDS_CLARIFICATION, RETURNED)


class PaymentError(Exception):
    """The payment does not allow this step; the message is for the
    citizen."""


def format_amount(value) -> str:
    """``12345.67`` -> ``12 345,67`` (non-breaking space between thousands,
    decimal comma), as Russian documents write roubles."""
    text = f"{Decimal(value):,.2f}"
    return text.replace(",", "\u00a0").replace(".", ",")


# The names officials gave, read at most once a minute per process: pages
# list many payments, and the table is small and rarely changed. A change
# made in this process is seen at once (the signals below).
NAMES_TTL_SECONDS = 60
_names = {"read_at": -NAMES_TTL_SECONDS - 1.0, "titles": {}}


def _titles() -> dict[str, str]:
    now = time.monotonic()
    if now - _names["read_at"] > NAMES_TTL_SECONDS:
        _names["titles"] = dict(PaymentType.objects.values_list("code", "title"))
        _names["read_at"] = now
    return _names["titles"]


@receiver([post_save, post_delete], sender=PaymentType)
def _forget_names(**kwargs) -> None:
    _names["read_at"] = -NAMES_TTL_SECONDS - 1.0


def payment_names(codes) -> dict[str, str]:
    """Readable names of payment codes; a code officials have not named is
    shown as it came."""
    titles = _titles()
    return {code: titles.get(code, code) for code in set(codes)}


@dataclass(frozen=True)
class Payment:
    """One payment as the citizen reads it."""

    id: int
    code: str
    name: str
    amount: Decimal
    scheduled_on: datetime.date
    status: str
    receipt: PaymentReceipt | None = None

    @property
    def amount_display(self) -> str:
        return format_amount(self.amount)

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def can_confirm(self) -> bool:
        return self.status == AWAITING_CONFIRMATION and self.receipt is None

    @property
    def can_correct(self) -> bool:
        return self.status in CORRECTABLE


def as_payment(event, names: dict[str, str] | None = None, status: str = "") -> Payment:
    data = event.data
    code = data.get("payment_type", "")
    if names is None:
        names = payment_names([code])
    return Payment(
        id=event.pk,
        code=code,
        name=names.get(code, code),
        amount=Decimal(data.get("amount") or "0"),
        scheduled_on=event.occurred_on,
        status=status or data.get("status", ""),
        receipt=getattr(event, "payment_receipt", None),
    )


def payment_events(citizen) -> QuerySet:
    """The citizen's payments, newest first: every query of the cabinet's
    payments pages starts here, so another citizen's id is not found."""
    from events.models import LifeEvent

    return (
        LifeEvent.objects.filter(citizen=citizen, event_type=LifeEvent.Type.PAYMENT)
        .select_related("payment_receipt")
        .order_by("-occurred_on", "-id")
    )


def payments_of(citizen, events: QuerySet | None = None) -> list[Payment]:
    events = list(payment_events(citizen) if events is None else events)
    names = payment_names(e.data.get("payment_type", "") for e in events)
    return [as_payment(event, names) for event in events]


# Notices ---------------------------------------------------------------


def notify_payments(batch_id, *, now: datetime.datetime | None = None) -> int:
    """Payment notices for the payments of one import batch, set-based.

    The notice's key names the payment and its status
    (``payment:<event id>:<status>``): a record sent again unchanged writes
    nothing, a correction to a new status writes one notice of it per
    channel, and the outbox's unique constraint keeps it once whatever
    runs twice."""
    from events.models import LifeEvent

    now = now or timezone.now()
    oldest = timezone.localdate(now) - datetime.timedelta(days=NOTICE_MAX_AGE_DAYS)
    pairs = (
        LifeEvent.objects.filter(
            batch_id=batch_id,
            event_type=LifeEvent.Type.PAYMENT,
            citizen__isnull=False,
            citizen__death_date__isnull=True,
            occurred_on__gte=oldest,
        )
        .order_by("id")  # the registry's order
        .annotate(
            notice_key=Concat(
                Value("payment:"),
                Cast(F("id"), CharField()),
                Value(":"),
                KT("data__status"),
                output_field=CharField(),
            )
        )
        .values("citizen_id", "notice_key")
    )
    with transaction.atomic():  # every channel, or none
        written = notification_services.notify_many(
            Notification.Kind.PAYMENT_NOTICE, pairs
        )
    logger.info("payment notices batch=%s rows=%d", batch_id, written)
    return written


def notice_context(object_key: str) -> dict:
    """What the payment notice templates read, from the notice's key."""
    from events.models import LifeEvent

    prefix, _sep, rest = object_key.partition(":")
    if prefix == "payment":
        pk, _sep, status = rest.partition(":")
        event = LifeEvent.objects.filter(pk=pk).first() if pk.isdigit() else None
        return {"payment": as_payment(event, status=status)} if event else {}
    if prefix == "bank_details" and rest.isdigit():
        details = BankDetails.objects.select_related("event").filter(pk=rest).first()
        if details is None:
            return {}
        return {"bank_details": details, "payment": as_payment(details.event)}
    return {}


# The citizen's answers -----------------------------------------------------


def _locked_payment(citizen, event_id: int):
    """The citizen's payment, locked: two clicks at once settle in turn."""
    return payment_events(citizen).select_for_update(of=("self",)).get(pk=event_id)


@transaction.atomic
def confirm_receipt(citizen, event_id: int) -> PaymentReceipt:
    """The citizen confirms that a payment awaiting confirmation arrived.
    Recorded once, with the time and what the record said then."""
    event = _locked_payment(citizen, event_id)
    payment = as_payment(event)
    if payment.receipt is not None:
        raise PaymentError(_("Получение этой выплаты уже подтверждено."))
    if payment.status != AWAITING_CONFIRMATION:
        raise PaymentError(_("Эта выплата не ждёт подтверждения получения."))
    receipt = PaymentReceipt.objects.create(
        event=event,
        citizen=citizen,
        amount=payment.amount,
        scheduled_on=payment.scheduled_on,
        confirmed_at=timezone.now(),
    )
    logger.info("payment receipt confirmed event=%s receipt=%s", event.pk, receipt.pk)
    return receipt


@transaction.atomic
def submit_bank_details(citizen, event_id: int, bik: str, account: str) -> BankDetails:
    """New bank details for a payment the agency could not make. Checked by
    the account's control key (``offers.bank``); a ``ValidationError``
    names the field that is wrong. Each new submission is kept (the same
    details twice in a row are one); the citizen is told it was received."""
    event = _locked_payment(citizen, event_id)
    payment = as_payment(event)
    if not payment.can_correct:
        raise PaymentError(_("Для этой выплаты реквизиты не нужны."))
    bik, account = bank.clean_details(bik, account)
    latest = event.bank_details.order_by("-submitted_at", "-id").first()
    if latest is not None and (latest.bik, latest.account) == (bik, account):
        # The same details again (a second click, a reload): nothing new to
        # record or tell.
        return latest

    details = BankDetails.objects.create(
        event=event,
        citizen=citizen,
        bik=bik,
        account=account,
        payment_status=payment.status,
        submitted_at=timezone.now(),
    )
    notification_services.notify(
        citizen,
        Notification.Kind.PAYMENT_NOTICE,
        object_key=f"bank_details:{details.pk}",
    )
    logger.info("bank details received event=%s details=%s", event.pk, details.pk)
    return details


@transaction.atomic
def mark_bank_details_processed(ids, official) -> int:
    """An official has passed the details on to the payment: recorded with
    who and when. Details already marked stay as they were."""
    count = BankDetails.objects.filter(pk__in=ids, processed_at__isnull=True).update(
        processed_at=timezone.now(), processed_by=official
    )
    logger.info("bank details processed count=%d official=%s", count, official.pk)
    return count


# Statements ----------------------------------------------------------------


def _statement_period(date_from: datetime.date, date_to: datetime.date) -> None:
    if date_from > date_to:
        raise ValidationError(
            {"date_to": _("Конец периода раньше его начала.")}, code="period_order"
        )
    if (date_to - date_from).days > STATEMENT_MAX_DAYS:
        raise ValidationError(
            {"date_from": _("Справку можно получить за период не длиннее 5 лет.")},
            code="period_length",
        )


def issue_statement(
    citizen, date_from: datetime.date, date_to: datetime.date
) -> PaymentStatement:
    """A statement of the citizen's payments dated within the period, as a
    PDF with a verification code that the public page checks.

    The file is written before the rows: if the transaction rolls back, an
    orphan file is left that nothing points at, never a row without its
    file."""
    _statement_period(date_from, date_to)
    events = payment_events(citizen).filter(
        occurred_on__gte=date_from, occurred_on__lte=date_to
    )
    payments = sorted(
        payments_of(citizen, events), key=lambda p: (p.scheduled_on, p.id)
    )
    credited = sum((p.amount for p in payments if p.status == CREDITED), Decimal(0))

    code = new_verification_code()
    issued_at = timezone.now()
    document = ResultDocument(
        kind=ResultDocument.Kind.PAYMENT_STATEMENT,
        verification_code=code,
        issued_at=issued_at,
    )
    content = payment_pdf.Statement(
        title=str(document.get_kind_display()).capitalize(),
        recipient=citizen.full_name,
        period=f"{date_from:%d.%m.%Y} — {date_to:%d.%m.%Y}",
        rows=[
            (
                f"{p.scheduled_on:%d.%m.%Y}",
                p.name,
                format_amount(p.amount),
                p.status_label,
            )
            for p in payments
        ],
        credited_total=format_amount(credited),
        verification_code=document.verification_code_display,
        verify_url=f"{settings.PORTAL_BASE_URL}/verify/",
        issued_on=f"{timezone.localtime(issued_at):%d.%m.%Y}",
    )
    data = payment_pdf.render(content)
    document.sha256 = hashlib.sha256(data).hexdigest()

    with transaction.atomic():
        document.file.save(
            f"statements/{citizen.pk}/{code}.pdf", ContentFile(data), save=False
        )
        document.save()
        statement = PaymentStatement.objects.create(
            citizen=citizen,
            date_from=date_from,
            date_to=date_to,
            payments=len(payments),
            document=document,
            created_at=issued_at,
        )
    logger.info(
        "payment statement issued statement=%s document=%s payments=%d",
        statement.pk,
        document.pk,
        len(payments),
    )
    return statement
