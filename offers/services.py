"""The verbs of offers and applications. Each is atomic and writes the
notifications it causes in the same transaction."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import (
    DateField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import JSONObject
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from consents.models import active_consent_exists
from notifications import services as notification_services
from notifications.models import Notification

from . import pdf, pension, signing
from .models import (
    Application,
    ApplicationStatusChange,
    DocumentRequest,
    Offer,
    ResultDocument,
    Service,
    ServiceOptOut,
    new_verification_code,
    normalize_code,
)
from .prefill import PREFILL_FIELDS

logger = logging.getLogger(__name__)


class OfferError(Exception):
    """The offer cannot make this transition."""


class SignatureRequired(OfferError):
    """The service's application must be signed with a one-time code."""


class CorrectionError(OfferError):
    """Values the citizen corrected that the application cannot carry.
    ``errors`` maps each such field's key to a message that names the
    field and says why."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__(" ".join(errors.values()))


# A person's name as the civil registry writes it: letters (Cyrillic, or
# Latin for a foreign name), with a hyphen, an apostrophe or a space inside.
PERSON_NAME = re.compile(r"[А-ЯЁа-яёA-Za-z]+(?:[-' ][А-ЯЁа-яёA-Za-z]+)*")
PERSON_NAME_MAX = 60


def clean_corrections(
    service: Service, prefill: dict, corrections: dict | None
) -> dict[str, str]:
    """The corrections to keep: the service's correctable fields the citizen
    sent. A field not sent keeps the registry's value. A field sent empty
    where the registry has a value, or a name that is not a name, raises
    ``CorrectionError`` with a message for each such field."""
    cleaned, errors = {}, {}
    for key in service.correctable_fields:
        if key not in (corrections or {}):
            continue
        value = (corrections[key] or "").strip()
        field = PREFILL_FIELDS.get(key)
        label = field.label if field else key
        registry = str(prefill.get(key) or "")
        if not value:
            # Confirming with the field cleared would file the registry's
            # value unasked; say what it is, so it is easy to put back.
            if registry:
                errors[key] = _(
                    "%(label)s: поле не может быть пустым. Впишите значение "
                    "или верните указанное в реестре: «%(registry)s»."
                ) % {"label": label, "registry": registry}
            continue
        if key.endswith("_name") and (
            len(value) > PERSON_NAME_MAX or not PERSON_NAME.fullmatch(value)
        ):
            errors[key] = _(
                "%(label)s: «%(value)s» не похоже на имя. Можно только буквы, "
                "дефис, апостроф или пробел, не длиннее %(max)d знаков."
            ) % {"label": label, "value": value[:40], "max": PERSON_NAME_MAX}
            continue
        cleaned[key] = value[:200]
    if errors:
        raise CorrectionError(errors)
    return cleaned


# The lifecycle: which state may go to which. Everything else is refused.
OFFER_TRANSITIONS: dict[str, set[str]] = {
    Offer.Status.OFFERED: {
        Offer.Status.REMINDED,
        Offer.Status.CONFIRMED,
        Offer.Status.DECLINED,
        Offer.Status.EXPIRED,
        Offer.Status.WITHDRAWN,
    },
    Offer.Status.REMINDED: {
        Offer.Status.CONFIRMED,
        Offer.Status.DECLINED,
        Offer.Status.EXPIRED,
        Offer.Status.WITHDRAWN,
    },
    Offer.Status.CONFIRMED: set(),
    Offer.Status.DECLINED: set(),
    Offer.Status.EXPIRED: set(),
    Offer.Status.WITHDRAWN: set(),
}

EXPIRED_REASON = "Срок подтверждения истёк"


def _check_transition(offer: Offer, target: str) -> None:
    if target not in OFFER_TRANSITIONS[offer.status]:
        raise OfferError(f"offer {offer.pk} is {offer.status}, cannot become {target}")


def eligible_events(version, events: QuerySet, now=None) -> QuerySet:
    """Events of ``events`` that the rule version may offer its service for:
    the conditions hold, the person is known, alive, in proactive mode, holds
    an active consent and has not opted out of the service; for a time
    trigger, the date it counts down to is within ``days_before`` days of
    the citizen's own local date; for a service granted once, the citizen
    does not hold its right already, and only their earliest event counts."""
    from events.rules import compile_conditions

    now = now or timezone.now()
    today = timezone.localdate(now)
    selected = (
        events.filter(
            compile_conditions(version.conditions, today=today),
            event_type=version.event_type,
            citizen__isnull=False,
            citizen__proactive_mode=True,
            citizen__death_date__isnull=True,
        )
        .filter(active_consent_exists("citizen_id"))
        .exclude(opted_out(version.service_id))
    )
    if version.trigger_date_field:
        selected = within_time_window(version, selected, now)
    if version.event_type == "birth":
        from .registration import same_birth_offered

        selected = selected.exclude(same_birth_offered(version.service_id))
    if version.service.granted_once:
        selected = selected.exclude(right_in_use(version.service_id))
        selected = once_per_citizen(selected)
    return selected


def within_time_window(version, events: QuerySet, now) -> QuerySet:
    """Events whose date the time trigger counts down to lies between the
    citizen's own local date and ``days_before`` days after it."""
    from events.regions import local_date_expression
    from events.rules import date_expression

    return events.alias(
        _trigger_on=date_expression(
            version.trigger_date_field, timezone.localdate(now)
        ),
        _local_today=local_date_expression(now),
    ).filter(
        _trigger_on__gte=F("_local_today"),
        _trigger_on__lte=ExpressionWrapper(
            F("_local_today") + version.days_before, output_field=DateField()
        ),
    )


def right_in_use(service_id: int) -> Q:
    """True for rows whose citizen holds the right to the service already:
    an open offer of it, or an application for it in progress or completed.
    A refused application and a declined, expired or withdrawn offer leave
    the right unused."""
    offered = Offer.objects.filter(
        citizen_id=OuterRef("citizen_id"),
        service_id=service_id,
        status__in=Offer.OPEN,
    )
    applied = Application.objects.filter(
        citizen_id=OuterRef("citizen_id"), service_id=service_id
    ).exclude(status=Application.Status.REJECTED)
    return Q(Exists(offered)) | Q(Exists(applied))


def once_per_citizen(events: QuerySet) -> QuerySet:
    """One event of ``events`` per citizen, the earliest: a dump with
    several children of one mother offers a right granted once only once.
    ``DISTINCT ON`` in the same statement: one sort of the eligible rows.
    (A window in an ``IN`` subquery cost 98 s for 100,000 births: the
    planner, misled by the JSON conditions, ran it once per row.)"""
    return events.order_by("citizen_id", "occurred_on", "pk").distinct("citizen_id")


def opted_out(service_id: int) -> Exists:
    """True for rows whose citizen opted out of the service."""
    return Exists(
        ServiceOptOut.objects.filter(
            citizen_id=OuterRef("citizen_id"), service_id=service_id
        )
    )


# How new offers of a service are announced. Most are offers to fill in
# (offer_created); a tax reminder is a deadline: the citizen's "deadlines"
# topic governs it, and the daily cap never drops it, as a missed tax costs
# penalties.
ANNOUNCED_AS = {"tax-payment": Notification.Kind.DEADLINE_REMINDER}


def _insert_offers(version, select: QuerySet, attempt, now) -> list[int]:
    """INSERT ... SELECT of offers from a LifeEvent queryset; conflicts with
    either unique constraint of Offer are skipped."""
    service = version.service
    prefill = JSONObject(
        **{
            key: PREFILL_FIELDS[key].expression
            for key in service.prefill_fields
            if key in PREFILL_FIELDS
        }
    )
    if not select.query.distinct_fields:  # DISTINCT ON needs its order
        select = select.order_by()
    select = (
        select.annotate(
            o_citizen=F("citizen_id"),
            o_service=Value(service.pk, output_field=IntegerField()),
            o_rule=Value(version.rule_id, output_field=IntegerField()),
            o_version=Value(version.pk, output_field=IntegerField()),
            o_attempt=attempt,
            o_event=F("id"),
            o_status=Value(Offer.Status.OFFERED),
            o_prefill=prefill,
            o_created=Value(now, output_field=DateTimeField()),
            o_expires=Value(
                now + timedelta(days=version.offer_valid_days),
                output_field=DateTimeField(),
            ),
        )
        .values(
            "o_citizen",
            "o_service",
            "o_rule",
            "o_version",
            "o_attempt",
            "o_event",
            "o_status",
            "o_prefill",
            "o_created",
            "o_expires",
        )
    )
    sql, params = select.query.get_compiler(using="default").as_sql()

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO offers_offer (citizen_id, service_id, rule_id, "
                "rule_version_id, attempt, event_id, status, prefill, created_at, "
                f"expires_at) {sql} ON CONFLICT DO NOTHING RETURNING id",
                params,
            )
            offer_ids = [row[0] for row in cursor.fetchall()]
        if offer_ids:
            notification_services.notify_offers(
                ANNOUNCED_AS.get(service.code, Notification.Kind.OFFER_CREATED),
                offer_ids,
            )
    return offer_ids


def create_offers(version, events: QuerySet, *, now=None) -> list[int]:
    """Offer the version's service for every eligible event, in one statement.

    The SELECT is built by the ORM (conditions compiled to ``Q``), then
    wrapped in INSERT ... ON CONFLICT DO NOTHING: the unique constraint on
    (citizen, rule, event, attempt) makes a repeated evaluation harmless,
    and the partial one keeps a single open offer. Returns the ids of the
    offers made now; their notifications are written in the same
    transaction.
    """
    now = now or timezone.now()
    offer_ids = _insert_offers(
        version,
        eligible_events(version, events, now),
        Value(1, output_field=IntegerField()),
        now,
    )
    logger.info(
        "offers created rule=%s version=%s count=%d",
        version.rule_id,
        version.pk,
        len(offer_ids),
    )
    return offer_ids


def reoffer(version, *, now=None) -> list[int]:
    """Make declined or expired offers of the rule again, set-based, once
    the version's interval has passed and while attempts stay within its
    limit (the first offer plus ``reoffer_limit`` more)."""
    from events.models import LifeEvent

    if not version.reoffer_after_days or not version.reoffer_limit:
        return []
    now = now or timezone.now()
    latest = Offer.objects.filter(
        rule_id=version.rule_id,
        event_id=OuterRef("pk"),
        citizen_id=OuterRef("citizen_id"),
    ).order_by("-attempt")
    events = (
        LifeEvent.objects.filter(
            Exists(
                Offer.objects.filter(
                    rule_id=version.rule_id,
                    event_id=OuterRef("pk"),
                    status__in=[Offer.Status.DECLINED, Offer.Status.EXPIRED],
                )
            )
        )
        .alias(
            prev_attempt=Subquery(latest.values("attempt")[:1]),
            prev_status=Subquery(latest.values("status")[:1]),
            prev_decided=Subquery(latest.values("decided_at")[:1]),
        )
        .filter(
            prev_status__in=[Offer.Status.DECLINED, Offer.Status.EXPIRED],
            prev_decided__lte=now - timedelta(days=version.reoffer_after_days),
            prev_attempt__lte=version.reoffer_limit,
        )
    )
    offer_ids = _insert_offers(
        version,
        eligible_events(version, events, now),
        ExpressionWrapper(F("prev_attempt") + 1, output_field=IntegerField()),
        now,
    )
    logger.info("offers made again rule=%s count=%d", version.rule_id, len(offer_ids))
    return offer_ids


def _locked(offer_id: int, citizen=None) -> Offer:
    offers = Offer.objects.select_for_update(of=("self",)).select_related(
        "service", "citizen", "rule_version"
    )
    if citizen is not None:
        offers = offers.filter(citizen=citizen)
    return offers.get(pk=offer_id)


@transaction.atomic
def remind_offer(offer_id: int) -> Offer:
    """Remind the citizen of one open offer before it expires."""
    offer = _locked(offer_id)
    _check_transition(offer, Offer.Status.REMINDED)
    offer.status = Offer.Status.REMINDED
    offer.reminded_at = timezone.now()
    offer.save(update_fields=["status", "reminded_at"])
    notification_services.notify(
        offer.citizen, Notification.Kind.OFFER_REMINDER, offer=offer
    )
    logger.info("offer reminded offer=%s", offer.pk)
    return offer


def send_reminders(*, now=None) -> list[int]:
    """Remind, set-based, every offer within its version's reminder period
    before expiry; their notifications in the same transaction."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE offers_offer o SET status = %(reminded)s, reminded_at = %(now)s
            FROM events_ruleversion v
            WHERE v.id = o.rule_version_id AND o.status = %(offered)s
              AND v.reminder_days_before > 0
              AND o.expires_at > %(now)s
              AND o.expires_at - make_interval(days => v.reminder_days_before)
                  <= %(now)s
            RETURNING o.id
            """,
            {
                "reminded": Offer.Status.REMINDED,
                "offered": Offer.Status.OFFERED,
                "now": now,
            },
        )
        offer_ids = [row[0] for row in cursor.fetchall()]
        if offer_ids:
            notification_services.notify_offers(
                Notification.Kind.OFFER_REMINDER, offer_ids
            )
    logger.info("offers reminded count=%d", len(offer_ids))
    return offer_ids


@transaction.atomic
def expire_offer(offer_id: int) -> Offer:
    """One open offer whose time is up becomes expired."""
    offer = _locked(offer_id)
    _check_transition(offer, Offer.Status.EXPIRED)
    now = timezone.now()
    if offer.expires_at > now:
        raise OfferError(f"offer {offer.pk} is open until {offer.expires_at}")
    offer.status = Offer.Status.EXPIRED
    offer.status_reason = EXPIRED_REASON
    offer.decided_at = now
    offer.save(update_fields=["status", "status_reason", "decided_at"])
    logger.info("offer expired offer=%s", offer.pk)
    return offer


def expire_offers(*, now=None) -> int:
    """Expire, set-based, every open offer whose time is up. The cabinet
    shows the state; no message is sent for an offer left unanswered."""
    now = now or timezone.now()
    count = Offer.objects.filter(status__in=Offer.OPEN, expires_at__lte=now).update(
        status=Offer.Status.EXPIRED, status_reason=EXPIRED_REASON, decided_at=now
    )
    logger.info("offers expired count=%d", count)
    return count


@transaction.atomic
def withdraw_offer(offer_id: int, reason: str) -> Offer:
    """Withdraw one open offer and tell the citizen why."""
    offer = _locked(offer_id)
    _check_transition(offer, Offer.Status.WITHDRAWN)
    offer.status = Offer.Status.WITHDRAWN
    offer.status_reason = reason
    offer.decided_at = timezone.now()
    offer.save(update_fields=["status", "status_reason", "decided_at"])
    notification_services.notify(
        offer.citizen, Notification.Kind.OFFER_WITHDRAWN, offer=offer
    )
    logger.info("offer withdrawn offer=%s", offer.pk)
    return offer


# Services offered to several people for one registry record, of which one
# applies: both parents are offered the registration of their child's
# birth. The first to confirm applies; the others' open offers are then
# withdrawn with this reason (no personal data: it goes out by email).
JOINT_SERVICES = {
    "birth-registration": (
        "Заявление о регистрации рождения по этой записи уже подал второй "
        "родитель (№ {number}); подавать своё не нужно."
    ),
}


def _lock_joint_offers(citizen, offer_id: int) -> list[int]:
    """For a joint service, lock every offer of the offer's registry record
    in id order and return the others' ids: two parents confirming at once
    are serialised, and the second finds their offer already withdrawn."""
    head = (
        Offer.objects.filter(pk=offer_id, citizen=citizen)
        .values("service_id", "service__code", "event__registry_record_id")
        .first()
    )
    if head is None or head["service__code"] not in JOINT_SERVICES:
        return []
    locked = (
        Offer.objects.select_for_update(of=("self",))
        .filter(
            service_id=head["service_id"],
            event__registry_record_id=head["event__registry_record_id"],
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return [pk for pk in locked if pk != offer_id]


def _next_application_number(offer: Offer) -> str:
    return f"{timezone.localdate():%Y%m%d}-{offer.pk:08d}"


@transaction.atomic
def accept_offer(
    citizen,
    offer_id: int,
    corrections: dict[str, str] | None = None,
    *,
    extra: dict[str, str] | None = None,
    signature: signing.Evidence | None = None,
) -> Application:
    """The citizen confirms an offer: it becomes a submitted application.

    ``corrections`` may change the values of the service's correctable
    fields; any other key is ignored, so registry data stays as reported,
    and a correctable field left out keeps the registry's value
    (``clean_corrections``).
    ``extra`` adds the citizen's own answers (how to receive the money).
    A service that needs a signature is accepted only with ``signature``;
    its signed content is then recorded with the application.
    """
    joint = _lock_joint_offers(citizen, offer_id)
    offer = _locked(offer_id, citizen)
    _check_transition(offer, Offer.Status.CONFIRMED)
    if offer.expires_at <= timezone.now():
        raise OfferError(f"offer {offer.pk} has expired")
    if offer.service.signature_required and signature is None:
        raise SignatureRequired(f"offer {offer.pk} must be signed")
    corrections = clean_corrections(offer.service, offer.prefill, corrections)

    offer.status = Offer.Status.CONFIRMED
    offer.decided_at = timezone.now()
    offer.save(update_fields=["status", "decided_at"])

    data = dict(offer.prefill)
    corrected = []
    for key, value in corrections.items():
        if value != data.get(key):
            data[key] = value
            corrected.append(key)
    data = signing.application_data(data, extra)

    application = Application.objects.create(
        offer=offer,
        citizen=citizen,
        service=offer.service,
        number=_next_application_number(offer),
        data=data,
        due_on=timezone.localdate() + timedelta(days=offer.service.processing_days),
    )
    note = "Заявление подано по проактивному предложению"
    if corrected:
        # Kept as written, in the portal's language like the rest of the
        # note, whatever language the citizen's page was in.
        with translation.override(settings.LANGUAGE_CODE):
            names = ", ".join(f"«{PREFILL_FIELDS[key].label}»" for key in corrected)
        note += "; исправлено гражданином: " + names
    if signature is not None:
        signed = signing.record(application, signature)
        note += f"; подписано простой электронной подписью, SHA-256 {signed.sha256}"
    ApplicationStatusChange.objects.create(
        application=application, status=Application.Status.SUBMITTED, note=note
    )
    notification_services.notify(
        citizen,
        Notification.Kind.APPLICATION_SUBMITTED,
        application=application,
    )
    reason = JOINT_SERVICES.get(offer.service.code, "")
    for other in Offer.objects.filter(pk__in=joint, status__in=Offer.OPEN):
        withdraw_offer(other.pk, reason.format(number=application.number))
    if offer.service.auto_decide:
        from .tasks import auto_decide

        transaction.on_commit(lambda: auto_decide.delay(application.pk))
    logger.info("offer accepted offer=%s application=%s", offer.pk, application.pk)
    return application


def mark_offer_opened(citizen, offer_id: int) -> None:
    """The citizen opened the offer's page: the first time is kept, for the
    take-up funnel. A single conditional UPDATE, so it is safe to repeat."""
    Offer.objects.filter(pk=offer_id, citizen=citizen, opened_at__isnull=True).update(
        opened_at=timezone.now()
    )


@transaction.atomic
def decline_offer(citizen, offer_id: int) -> Offer:
    offer = _locked(offer_id, citizen)
    _check_transition(offer, Offer.Status.DECLINED)
    offer.status = Offer.Status.DECLINED
    offer.decided_at = timezone.now()
    offer.save(update_fields=["status", "decided_at"])
    logger.info("offer declined offer=%s", offer.pk)
    return offer


def withdraw_open_offers(citizen_ids: list[int], reason: str) -> int:
    """Withdraw every open offer of these citizens, set-based; return how
    many. The reason is kept on the offer. No notification is written here:
    a caller that must tell the citizen (consent revoked) writes it, and a
    death is never announced to the relatives."""
    count = Offer.objects.filter(
        citizen_id__in=citizen_ids, status__in=Offer.OPEN
    ).update(
        status=Offer.Status.WITHDRAWN, status_reason=reason, decided_at=timezone.now()
    )
    logger.info("offers withdrawn count=%d", count)
    return count


CORRECTED_REASON = "Сведения реестра исправлены: оснований для предложения больше нет"


def withdraw_unmet_offers(version, events: QuerySet, *, now=None) -> list[int]:
    """Withdraw the open offers of the version's rule for ``events`` whose
    event, as a registry has corrected it since, no longer meets the
    version's conditions (a tax notice corrected to nothing left to pay
    stops its reminder), and tell the citizen why. Set-based; returns the
    offers withdrawn."""
    from events.rules import compile_conditions

    now = now or timezone.now()
    still_met = events.filter(
        compile_conditions(version.conditions, today=timezone.localdate(now)),
        event_type=version.event_type,
    )
    with transaction.atomic():
        offer_ids = list(
            Offer.objects.select_for_update()
            .filter(rule_id=version.rule_id, status__in=Offer.OPEN, event__in=events)
            .exclude(event__in=still_met)
            .values_list("pk", flat=True)
        )
        if offer_ids:
            Offer.objects.filter(pk__in=offer_ids).update(
                status=Offer.Status.WITHDRAWN,
                status_reason=CORRECTED_REASON,
                decided_at=now,
            )
            notification_services.notify_offers(
                Notification.Kind.OFFER_WITHDRAWN, offer_ids
            )
    if offer_ids:
        logger.info(
            "offers withdrawn after a correction rule=%s count=%d",
            version.rule_id,
            len(offer_ids),
        )
    return offer_ids


# The agency's side. Every verb locks the application, refuses a transition
# the lifecycle does not allow, records who acted, and writes the citizen's
# notification in the same transaction.

Status = Application.Status

APPLICATION_TRANSITIONS: dict[str, set[str]] = {
    Status.SUBMITTED: {
        Status.IN_REVIEW,
        Status.APPROVED,
        Status.REJECTED,
        Status.DOCUMENTS_REQUESTED,
    },
    Status.IN_REVIEW: {Status.APPROVED, Status.REJECTED, Status.DOCUMENTS_REQUESTED},
    Status.DOCUMENTS_REQUESTED: {Status.IN_REVIEW, Status.REJECTED},
    Status.APPROVED: {Status.COMPLETED},
    Status.REJECTED: set(),
    Status.COMPLETED: set(),
}

# What the agency issues when a service's application is completed; a
# service not named here ends with a decision on the application.
RESULT_KINDS = {
    "maternity-capital": ResultDocument.Kind.CERTIFICATE,
    "birth-registration": ResultDocument.Kind.BIRTH_CERTIFICATE,
    "disability-pension": ResultDocument.Kind.PENSION_DECISION,
}


def result_kinds(service_code: str) -> list[str]:
    """The kinds of result document an application of the service may be
    completed with. Only the service's own: a document of another kind
    would be a genuine, verifiable PDF of something the agency never
    decided (a birth certificate from the МВД for a passport)."""
    return [RESULT_KINDS.get(service_code, ResultDocument.Kind.DECISION)]


def kind_not_for_service(service_code: str) -> str:
    """Why a result document of another kind is refused for the service."""
    labels = dict(ResultDocument.Kind.choices)
    allowed = ", ".join(f"«{labels[kind]}»" for kind in result_kinds(service_code))
    return _(
        "Такой документ по этой услуге не выдаётся. Её результат: %(allowed)s."
    ) % {"allowed": allowed}


# Services completed by a verb of their own, never by the generic
# "complete": a birth is registered with its act record
# (offers.registration.register_birth).
OWN_COMPLETION = {"birth-registration": "register_birth"}


class ApplicationError(Exception):
    """The application cannot make this transition; the message says why."""


def _transition(
    application_id: int,
    to: str,
    *,
    actor=None,
    note: str = "",
    only_from: tuple[str, ...] = (),
) -> tuple[Application, ApplicationStatusChange]:
    application = (
        Application.objects.select_for_update(of=("self",))
        .select_related("citizen", "service")
        .get(pk=application_id)
    )
    allowed = to in APPLICATION_TRANSITIONS[application.status]
    if not allowed or (only_from and application.status not in only_from):
        raise ApplicationError(
            f"application {application.pk} is {application.status}, cannot become {to}"
        )
    application.status = to
    application.save(update_fields=["status", "updated_at"])
    change = ApplicationStatusChange.objects.create(
        application=application, status=to, note=note, actor=actor
    )
    return application, change


def _notify_change(application: Application, change: ApplicationStatusChange) -> None:
    notification_services.notify(
        application.citizen,
        Notification.Kind.APPLICATION_STATUS,
        application=application,
        object_key=f"status_change:{change.pk}",
    )
    logger.info(
        "application status application=%s status=%s change=%s actor=%s",
        application.pk,
        change.status,
        change.pk,
        change.actor_id,
    )


@transaction.atomic
def take_into_review(application_id: int, *, actor=None, note: str = "") -> Application:
    application, change = _transition(
        application_id,
        Status.IN_REVIEW,
        actor=actor,
        note=note,
        only_from=(Status.SUBMITTED,),
    )
    _notify_change(application, change)
    return application


@transaction.atomic
def approve_application(
    application_id: int,
    *,
    actor=None,
    note: str = "",
    payments_start_on: datetime.date | None = None,
) -> Application:
    """Approve; for a pension, with the day its payments start (by default
    the earliest the law allows, see offers.pension)."""
    application, change = _transition(
        application_id, Status.APPROVED, actor=actor, note=note
    )
    if pension.applies(application.service):
        try:
            pension.award(application, change, payments_start_on)
        except pension.PensionError as error:
            raise ApplicationError(str(error)) from None
    _notify_change(application, change)
    return application


@transaction.atomic
def reject_application(application_id: int, *, actor=None, reason: str) -> Application:
    """Refuse the application; the reason is told to the citizen."""
    reason = reason.strip()
    if not reason:
        raise ApplicationError("a rejection needs a reason")
    application, change = _transition(
        application_id, Status.REJECTED, actor=actor, note=reason
    )
    _notify_change(application, change)
    return application


@transaction.atomic
def request_document(
    application_id: int,
    *,
    actor=None,
    document: str,
    due_on: datetime.date,
) -> DocumentRequest:
    """Ask the citizen for a document by a date; a reminder follows
    ``DOCUMENT_REMINDER_DAYS`` before it (see ``remind_document_deadlines``)."""
    document = document.strip()
    if not document:
        raise ApplicationError("name the document to request")
    if due_on <= timezone.localdate():
        raise ApplicationError("the deadline must be after today")
    application, change = _transition(
        application_id,
        Status.DOCUMENTS_REQUESTED,
        actor=actor,
        note=f"{document} — до {due_on:%d.%m.%Y}",
    )
    request = DocumentRequest.objects.create(
        application=application, status_change=change, document=document, due_on=due_on
    )
    _notify_change(application, change)
    return request


@transaction.atomic
def receive_document(application_id: int, *, actor=None, note: str = "") -> Application:
    """The requested document arrived: the application is reviewed again."""
    application, change = _transition(
        application_id,
        Status.IN_REVIEW,
        actor=actor,
        note=note or "Документы получены",
        only_from=(Status.DOCUMENTS_REQUESTED,),
    )
    DocumentRequest.objects.filter(
        application=application, received_at__isnull=True
    ).update(received_at=timezone.now())
    _notify_change(application, change)
    return application


@transaction.atomic
def complete_application(
    application_id: int, *, actor=None, kind: str = "", note: str = ""
) -> ResultDocument:
    """The agency delivers the result: the application is completed and its
    result document issued as a verifiable PDF. ``kind`` defaults to the
    service's result; a kind that does not fit the service is refused with
    a ``ValidationError`` and changes nothing."""
    service_code = (
        Application.objects.filter(pk=application_id)
        .values_list("service__code", flat=True)
        .first()
    )
    if service_code in OWN_COMPLETION:
        raise ApplicationError(
            f"application {application_id}: {service_code} is completed by "
            f"{OWN_COMPLETION[service_code]}"
        )
    kinds = result_kinds(service_code)
    kind = kind or kinds[0]
    if kind not in kinds:
        refusal = ValidationError(
            kind_not_for_service(service_code), code="kind_not_for_service"
        )
        raise ValidationError({"kind": refusal})
    application, change = _transition(
        application_id, Status.COMPLETED, actor=actor, note=note
    )
    document = _issue_document(application, kind)
    _notify_change(application, change)
    return document


def remind_document_deadlines(today: datetime.date | None = None) -> int:
    """Remind once, ``DOCUMENT_REMINDER_DAYS`` ahead, of each requested
    document still awaited; return how many reminders were written.

    The notification's key names the request, so the outbox constraint
    keeps a reminder once even if two beats overlap."""
    today = today or timezone.localdate()
    horizon = today + timedelta(days=settings.DOCUMENT_REMINDER_DAYS)
    reminded = 0
    with transaction.atomic():
        requests = (
            DocumentRequest.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("application__citizen")
            .filter(
                received_at__isnull=True,
                reminded_at__isnull=True,
                due_on__gte=today,
                due_on__lte=horizon,
                application__status=Status.DOCUMENTS_REQUESTED,
            )
        )
        for request in requests:
            notification_services.notify(
                request.application.citizen,
                Notification.Kind.APPLICATION_STATUS,
                application=request.application,
                object_key=f"document_request:{request.pk}",
            )
            request.reminded_at = timezone.now()
            request.save(update_fields=["reminded_at"])
            reminded += 1
    if reminded:
        logger.info("document deadline reminders count=%d", reminded)
    return reminded


def auto_decide_application(application_id: int) -> str:
    """Decide an application without an official when its service allows
    it and every registered check passes: approve, then complete with the
    result. Otherwise it goes to the officials' queue, with the failed
    checks in the note. Returns the resulting status."""
    from .checks import run_checks

    with transaction.atomic():
        application = (
            Application.objects.select_for_update(of=("self",))
            .select_related("service", "offer__event")
            .get(pk=application_id)
        )
        waiting = application.status == Status.SUBMITTED
        if not application.service.auto_decide or not waiting:
            return application.status
        decidable, failures = run_checks(application)
        if not decidable:
            note = "; ".join(failures) or "автоматических проверок для услуги нет"
            take_into_review(application.pk, note=f"Нужна проверка сотрудником: {note}")
            return Status.IN_REVIEW
        approve_application(
            application.pk, note="Решение принято автоматически: проверки пройдены"
        )
        complete_application(application.pk, note="Результат выдан автоматически")
        return Status.COMPLETED


def _pdf_lines(application: Application, kind: str) -> list[tuple[str, str]]:
    data = application.data
    lines = [
        ("Услуга", application.service.title),
        ("Заявление", f"№ {application.number}"),
        ("Получатель", application.citizen.full_name),
    ]
    if kind == ResultDocument.Kind.CERTIFICATE and data.get("capital_amount"):
        amount = f"{Decimal(data['capital_amount']):,.2f}"
        amount = amount.replace(",", "\u00a0").replace(".", ",")
        lines.append(("Размер капитала", f"{amount} руб."))
    child = " ".join(
        data.get(key, "") for key in ("child_last_name", "child_first_name")
    ).strip()
    if child:
        lines.append(("Ребёнок", child))
    if pension.applies(application.service):
        lines += pension.pdf_lines(application)
    if data.get("passport_replacement_reason"):
        # Regulation 828: the passport is replaced on reaching 20 and 45.
        lines.append(("Решение", "выдать паспорт гражданина РФ взамен прежнего"))
        lines.append(("Основание", data["passport_replacement_reason"]))
        passport = " ".join(
            data.get(key) or ""
            for key in ("applicant_passport_series", "applicant_passport_number")
        ).strip()
        if passport:
            lines.append(("Заменяемый паспорт", passport))
    return lines


def _issue_document(
    application: Application,
    kind: str,
    lines: list[tuple[str, str]] | None = None,
    title: str = "",
) -> ResultDocument:
    """Draw the PDF, store it, and record its hash and code.

    The file is written before the row: if the transaction then rolls back,
    an orphan file is left that nothing points at, never a row without its
    file."""
    code = new_verification_code()
    issued_at = timezone.now()
    document = ResultDocument(
        application=application, kind=kind, verification_code=code, issued_at=issued_at
    )
    content = pdf.PdfContent(
        title=title or document.get_kind_display().capitalize(),
        agency=application.service.agency,
        lines=lines if lines is not None else _pdf_lines(application, kind),
        verification_code=document.verification_code_display,
        verify_url=f"{settings.PORTAL_BASE_URL}/verify/",
        issued_on=f"{timezone.localtime(issued_at):%d.%m.%Y}",
    )
    data = pdf.render(content)
    document.sha256 = hashlib.sha256(data).hexdigest()
    document.file.save(f"{application.pk}/{code}.pdf", ContentFile(data), save=False)
    document.save()
    logger.info(
        "result document issued application=%s document=%s kind=%s",
        application.pk,
        document.pk,
        kind,
    )
    return document


@dataclass(frozen=True)
class Verification:
    """The answer of the public check. ``document`` is set only when the
    code is known; the page shows of it only service, kind and date."""

    outcome: str  # "genuine", "altered" or "unknown"
    document: ResultDocument | None = None

    @property
    def genuine(self) -> bool:
        return self.outcome == "genuine"


def verify_document(code: str, pdf_bytes: bytes | None = None) -> Verification:
    """Check a verification code and, when given, the PDF's own bytes: a
    file whose SHA-256 differs from the issued one is not genuine."""
    normalized = normalize_code(code)
    document = (
        ResultDocument.objects.select_related("application__service")
        .filter(verification_code=normalized)
        .first()
        if normalized
        else None
    )
    if document is None:
        return Verification("unknown")
    if pdf_bytes is not None:
        digest = hashlib.sha256(pdf_bytes).hexdigest()
        if not hmac.compare_digest(digest, document.sha256):
            return Verification("altered", document)
    return Verification("genuine", document)
