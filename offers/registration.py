"""Birth registration (государственная регистрация рождения), the civil
registry's side of it.

A maternity hospital's record of a newborn with no act record yet offers
the registration to both parents (the rule ``birth-registration-without-
act``); the first to confirm applies, and the other parent's offer is
withdrawn (``offers.services.JOINT_SERVICES``). The registry office then
registers the birth: an official gives the act record's number and date
(``register_birth``), and the applicant receives two verifiable PDFs, the
birth certificate and the extract from the act record.

The same birth comes again when the ЕГР ЗАГС reports its act record: that
record offers nothing the hospital's record already offered
(``same_birth_offered``), and it closes the registration offers still open
for a birth the parents registered in person (``withdraw_registered_births``).
"""

from __future__ import annotations

import datetime
import logging
import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cabinet.models import Citizen
from events.models import LifeEvent
from notifications import services as notification_services
from notifications.models import Notification

from . import services
from .models import Application, BirthRegistration, Offer, ResultDocument

logger = logging.getLogger(__name__)

SERVICE = "birth-registration"

# An act record number as the ЕГР ЗАГС writes it: digits only. Numbers made
# before the register (2018) are short, the register's own are longer; 22
# digits is the widest the register uses.
ACT_NUMBER = re.compile(r"\d{1,22}")

ACT_NUMBER_TAKEN = _("Запись акта с этим номером уже зарегистрирована.")

WITHDRAW_REASON_REGISTERED = (
    "Рождение уже зарегистрировано в органе ЗАГС: запись акта № {number} от {date}."
)


def clean_act_number(value: str) -> str:
    """The act number without the spaces people type in long numbers."""
    number = re.sub(r"[\s-]", "", value or "")
    if not ACT_NUMBER.fullmatch(number):
        raise ValidationError(
            _("Номер записи акта — от 1 до 22 цифр."), code="act_number_format"
        )
    return number


def _child_birth_date(application: Application) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(application.data.get("child_birth_date"))
    except (TypeError, ValueError):
        return None


def _check_act(application: Application, number: str, day: datetime.date) -> None:
    errors = {}
    born = _child_birth_date(application)
    if day > timezone.localdate():
        errors["act_date"] = ValidationError(
            _("Дата записи акта не может быть позже сегодняшнего дня."),
            code="act_date_future",
        )
    elif born and day < born:
        errors["act_date"] = ValidationError(
            _("Дата записи акта раньше рождения ребёнка (%(born)s)."),
            code="act_date_before_birth",
            params={"born": f"{born:%d.%m.%Y}"},
        )
    # ЕГР ЗАГС gives a number once: one the portal gave, or one a civil
    # registry's record already carries, is taken.
    if (
        BirthRegistration.objects.filter(act_number=number).exists()
        or LifeEvent.objects.filter(
            event_type=LifeEvent.Type.BIRTH, data__act_number=number
        ).exists()
    ):
        errors["act_number"] = ValidationError(
            ACT_NUMBER_TAKEN,
            code="act_number_taken",
        )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def register_birth(
    application_id: int,
    *,
    actor=None,
    act_number: str,
    act_date: datetime.date,
) -> list[ResultDocument]:
    """The registry office registers the birth an application asks for: the
    act record's number and date are kept, the application is approved and
    completed, and the applicant receives the birth certificate and the
    extract from the act record as verifiable PDFs.

    Raises ``ValidationError`` (by field) for a wrong number or date, and
    ``ApplicationError`` when the application cannot be registered now."""
    number = clean_act_number(act_number)
    application = (
        Application.objects.select_for_update(of=("self",))
        .select_related("service", "citizen")
        .get(pk=application_id)
    )
    if application.service.code != SERVICE:
        raise services.ApplicationError(
            f"application {application.pk} is not a birth registration"
        )
    _check_act(application, number, act_date)

    note = f"Рождение зарегистрировано: запись акта № {number} от {act_date:%d.%m.%Y}"
    if application.status != Application.Status.APPROVED:
        services.approve_application(application.pk, actor=actor, note=note)
    try:
        with transaction.atomic():
            registration = BirthRegistration.objects.create(
                application=application,
                act_number=number,
                act_date=act_date,
                registered_by=actor,
            )
    except IntegrityError as error:
        # Another official took the number a moment ago.
        raise ValidationError(
            {"act_number": ValidationError(ACT_NUMBER_TAKEN, code="act_number_taken")}
        ) from error

    application, change = services._transition(
        application.pk,
        Application.Status.COMPLETED,
        actor=actor,
        note="Выданы свидетельство о рождении и выписка из записи акта",
    )
    lines = _certificate_lines(application, registration)
    documents = [
        services._issue_document(
            application,
            ResultDocument.Kind.BIRTH_CERTIFICATE,
            lines=lines,
            title="Свидетельство о рождении",
        ),
        services._issue_document(
            application,
            ResultDocument.Kind.BIRTH_EXTRACT,
            lines=_extract_lines(application, registration),
            title="Выписка из записи акта о рождении",
        ),
    ]
    services._notify_change(application, change)
    logger.info(
        "birth registered application=%s registration=%s actor=%s",
        application.pk,
        registration.pk,
        getattr(actor, "pk", None),
    )
    return documents


def _parents(application: Application) -> dict[str, Citizen | None]:
    """The mother and father the birth record names, as the population
    registry knows them (None when it names nobody or an unknown person)."""
    data = application.offer.event.data
    snils = {role: data.get(f"{role}_snils") or "" for role in ("mother", "father")}
    known = {c.snils: c for c in Citizen.objects.filter(snils__in=snils.values())}
    return {role: known.get(value) for role, value in snils.items()}


def _day(value: str) -> str:
    try:
        return f"{datetime.date.fromisoformat(value):%d.%m.%Y}"
    except (TypeError, ValueError):
        return value or "—"


def _child_name(data: dict) -> str:
    keys = ("child_last_name", "child_first_name", "child_middle_name")
    return " ".join(" ".join(data.get(key) or "" for key in keys).split())


def _certificate_lines(
    application: Application, registration: BirthRegistration
) -> list[tuple[str, str]]:
    data = application.data
    parents = _parents(application)
    return [
        ("Ребёнок", _child_name(data) or "—"),
        ("Дата рождения", _day(data.get("child_birth_date"))),
        ("Место рождения", data.get("place_of_birth") or "—"),
        ("Мать", parents["mother"].full_name if parents["mother"] else "—"),
        ("Отец", parents["father"].full_name if parents["father"] else "—"),
        (
            "Запись акта о рождении",
            f"№ {registration.act_number} от {registration.act_date:%d.%m.%Y}",
        ),
        ("Место регистрации", application.service.agency),
    ]


def _extract_lines(
    application: Application, registration: BirthRegistration
) -> list[tuple[str, str]]:
    data = application.data
    parents = _parents(application)
    sex = {"M": "мужской", "F": "женский"}.get(data.get("child_sex", ""), "—")

    def parent(role: str) -> str:
        person = parents[role]
        if person is None:
            return "—"
        return f"{person.full_name}, {person.birth_date:%d.%m.%Y} г. р."

    return [
        ("Запись акта о рождении", f"№ {registration.act_number}"),
        ("Дата составления записи", f"{registration.act_date:%d.%m.%Y}"),
        ("Ребёнок", _child_name(data) or "—"),
        ("Пол", sex),
        ("Дата рождения", _day(data.get("child_birth_date"))),
        ("Место рождения", data.get("place_of_birth") or "—"),
        ("Мать", parent("mother")),
        ("Отец", parent("father")),
        ("Заявитель", application.citizen.full_name),
        ("Заявление", f"№ {application.number}"),
    ]


# -- The same birth from another record ------------------------------------------


def _same_birth(prefix: str, data, occurred_on) -> Q:
    """Events (reached by ``prefix``, with the aliases ``_mother``,
    ``_first``, ``_act``, ``_outer_act`` and ``_registered``) of the same
    birth as the outer event whose ``data`` and ``occurred_on`` are given:
    the same mother and birth date, and either the child's same first name
    where one of the two records has no act number yet (a hospital's), or
    the act number the portal registered on the other's application. Two
    act records with different numbers are two births."""
    return Q(
        **{f"{prefix}event_type": "birth", f"{prefix}occurred_on": occurred_on},
        _mother=KeyTextTransform("mother_snils", data),
    ) & (
        (
            Q(_first=Lower(KeyTextTransform("child_first_name", data)))
            & (Q(_act="") | Q(_outer_act=""))
        )
        | Q(_registered=F("_outer_act"))
    )


def same_birth_offered(service_id: int) -> Exists:
    """True for birth events of which another record of the same birth was
    already offered the service to the same citizen: a hospital's record,
    then the ЕГР ЗАГС's record of the act made on it. Set-based, for the
    INSERT of offers."""
    earlier = (
        Offer.objects.filter(service_id=service_id, citizen_id=OuterRef("citizen_id"))
        .exclude(event_id=OuterRef("pk"))
        .alias(
            _mother=KeyTextTransform("mother_snils", "event__data"),
            _first=Lower(KeyTextTransform("child_first_name", "event__data")),
            _act=Coalesce(
                KeyTextTransform("act_number", "event__data"),
                Value(""),
                output_field=TextField(),
            ),
            _outer_act=Coalesce(
                KeyTextTransform("act_number", OuterRef("data")),
                Value(""),
                output_field=TextField(),
            ),
            _registered=F("application__birth_registration__act_number"),
        )
        .filter(_same_birth("event__", OuterRef("data"), OuterRef("occurred_on")))
    )
    return Exists(earlier)


# The open registration offers of births that act records of one batch
# show registered. Driven from the batch's act records: each finds the
# hospital's record of the same birth through the mother's SNILS (indexed),
# then the offers of that record, the father's included.
_REGISTERED_SQL = """
SELECT o.id, z.data ->> 'act_number', z.data ->> 'act_date'
FROM events_lifeevent z
JOIN events_lifeevent h
  ON h.subject_snils = z.data ->> 'mother_snils'
 AND h.role = 'mother' AND h.event_type = 'birth'
 AND h.occurred_on = z.occurred_on
 AND COALESCE(h.data ->> 'act_number', '') = ''
 AND lower(h.data ->> 'child_first_name') = lower(z.data ->> 'child_first_name')
JOIN events_lifeevent p ON p.registry_record_id = h.registry_record_id
JOIN offers_offer o ON o.event_id = p.id
WHERE z.batch_id = %(batch)s AND z.event_type = 'birth' AND z.role = 'mother'
  AND COALESCE(z.data ->> 'act_number', '') <> ''
  AND o.service_id = (SELECT id FROM offers_service WHERE code = %(service)s)
  AND o.status = ANY(%(open)s)
ORDER BY o.id
FOR UPDATE OF o
"""


def withdraw_registered_births(batch_id) -> list[int]:
    """Registration offers still open for a birth that an act record of the
    batch shows registered are withdrawn, and the parents told why: they
    registered it in person."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                _REGISTERED_SQL,
                {
                    "batch": str(batch_id),
                    "service": SERVICE,
                    "open": [str(status) for status in Offer.OPEN],
                },
            )
            found = {pk: (number, day) for pk, number, day in cursor.fetchall()}
        now = timezone.now()
        withdrawn = [
            Offer(
                pk=pk,
                status=Offer.Status.WITHDRAWN,
                status_reason=WITHDRAW_REASON_REGISTERED.format(
                    number=number, date=_day(day)
                ),
                decided_at=now,
            )
            for pk, (number, day) in found.items()
        ]
        Offer.objects.bulk_update(
            withdrawn, ["status", "status_reason", "decided_at"], batch_size=1000
        )
        if found:
            notification_services.notify_offers(
                Notification.Kind.OFFER_WITHDRAWN, list(found)
            )
    if found:
        logger.info(
            "registration offers withdrawn, birth registered batch=%s count=%d",
            batch_id,
            len(found),
        )
    return list(found)
