"""Writing notifications into the outbox and delivering them.

Writers run inside the transaction of the change they report and queue the
dispatcher on commit. The dispatcher claims pending rows in batches with
``FOR UPDATE SKIP LOCKED``, so several workers share the outbox without
sending a row twice.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from .backends.sms import get_sms_backend
from .models import Notification

logger = logging.getLogger(__name__)

Channel = Notification.Channel
Status = Notification.Status

# Channels a citizen is reached on: the cabinet always, email and SMS when
# the registries know an address or a mobile number.
_CHANNEL_CONDITIONS = {
    Channel.CABINET: "true",
    Channel.EMAIL: "c.email <> ''",
    Channel.SMS: "c.phone <> '' AND c.phone_is_mobile",
}


def _queue_dispatch() -> None:
    from .tasks import dispatch_outbox

    transaction.on_commit(dispatch_outbox.delay)


def notify_offers_created(offer_ids: list[int]) -> None:
    """Outbox rows for new offers, one per channel, set-based."""
    notify_offers(Notification.Kind.OFFER_CREATED, offer_ids)


def notify_offers(kind: str, offer_ids: list[int]) -> None:
    """Outbox rows of one kind for many offers, one per channel, set-based."""
    with connection.cursor() as cursor:
        for channel, condition in _CHANNEL_CONDITIONS.items():
            cursor.execute(
                f"""
                INSERT INTO notifications_notification (
                    citizen_id, kind, channel, object_key, offer_id, status,
                    subject, body, attempts, last_error, provider_message_id,
                    created_at)
                SELECT o.citizen_id, %s, %s, 'offer:' || o.id, o.id, %s,
                       '', '', 0, '', '', now()
                FROM offers_offer o JOIN cabinet_citizen c ON c.id = o.citizen_id
                WHERE o.id = ANY(%s) AND {condition}
                ON CONFLICT (kind, object_key, channel) DO NOTHING
                """,
                [kind, channel, Status.PENDING, offer_ids],
            )
    _queue_dispatch()


def notify(
    citizen, kind: str, *, offer=None, application=None, object_key: str = ""
) -> list[Notification]:
    """Outbox rows for one change concerning one citizen.

    ``object_key`` names the change when one object has several of the
    same kind (each status change: ``status_change:<id>``, each deadline
    reminder: ``document_request:<id>``) or when it is neither an offer nor
    an application (``consent:12``); the unique constraint on (kind,
    object_key, channel) then keeps each one once."""
    if not object_key and application is not None:
        object_key = f"application:{application.pk}"
    elif not object_key and offer is not None:
        object_key = f"offer:{offer.pk}"
    elif not object_key:
        raise ValueError("a notification needs an offer, an application or a key")
    channels = [Channel.CABINET]
    if citizen.email:
        channels.append(Channel.EMAIL)
    if citizen.phone and citizen.phone_is_mobile:
        channels.append(Channel.SMS)

    rows = [
        Notification(
            citizen=citizen,
            kind=kind,
            channel=channel,
            object_key=object_key,
            offer=offer,
            application=application,
        )
        for channel in channels
    ]
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True)
    _queue_dispatch()
    return created


def _named_objects(object_key: str) -> dict:
    """The change an object key names, for the templates: what a status
    change said (a reason, a requested document) is read when the row is
    rendered, not copied into it."""
    from offers.models import ApplicationStatusChange, DocumentRequest

    prefix, _, pk = object_key.partition(":")
    if prefix == "status_change" and pk.isdigit():
        change = ApplicationStatusChange.objects.filter(pk=pk).first()
        request = DocumentRequest.objects.filter(status_change_id=pk).first()
        return {"status_change": change, "document_request": request}
    if prefix == "document_request" and pk.isdigit():
        request = DocumentRequest.objects.filter(pk=pk).first()
        return {"document_request": request, "is_reminder": True}
    return {}


def render(notification: Notification) -> tuple[str, str, str]:
    """(subject, text body, html body) of a notification."""
    context = {
        "notification": notification,
        "citizen": notification.citizen,
        "offer": notification.offer,
        "application": notification.application,
        "base_url": settings.PORTAL_BASE_URL,
        **_named_objects(notification.object_key),
    }
    base = f"notifications/{notification.kind}"
    subject = render_to_string(f"{base}/subject.txt", context).strip()
    channel = notification.channel
    text = render_to_string(f"{base}/{channel}.txt", context).strip()
    html = ""
    if channel == Channel.EMAIL:
        html = render_to_string(f"{base}/email.html", context)
    return subject, text, html


def claim_pending(limit: int) -> list[int]:
    """Mark up to ``limit`` pending rows as being sent, and return their ids.

    The claim commits before anything is delivered: a row is sent only by
    the worker that claimed it, even if another task runs at the same time.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE notifications_notification SET status = %s, claimed_at = now(),
                attempts = attempts + 1
            WHERE id IN (
                SELECT id FROM notifications_notification
                WHERE status = %s ORDER BY id LIMIT %s
                FOR UPDATE SKIP LOCKED)
            RETURNING id
            """,
            [Status.SENDING, Status.PENDING, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def deliver(notification: Notification) -> None:
    subject, text, html = render(notification)
    citizen = notification.citizen
    message_id = ""
    if notification.channel == Channel.EMAIL:
        message = EmailMultiAlternatives(subject, text, to=[citizen.email])
        message.attach_alternative(html, "text/html")
        message.send()
    elif notification.channel == Channel.SMS:
        message_id = get_sms_backend().send(citizen.phone, text)
    notification.subject = subject
    notification.body = text
    notification.provider_message_id = message_id or ""


def dispatch_pending(batch_size: int = 200) -> int:
    """Deliver pending notifications until none is left; return how many
    were handled."""
    handled = 0
    while ids := claim_pending(batch_size):
        rows = Notification.objects.filter(pk__in=ids).select_related(
            "citizen", "offer__service", "application__service"
        )
        for notification in rows:
            try:
                deliver(notification)
            except Exception as error:  # a channel failure must not stop the batch
                logger.warning(
                    "notification failed id=%s channel=%s error=%s",
                    notification.pk,
                    notification.channel,
                    type(error).__name__,
                )
                notification.status = Status.FAILED
                notification.last_error = f"{type(error).__name__}: {error}"[:2000]
            else:
                notification.status = Status.SENT
                notification.sent_at = timezone.now()
            notification.save(
                update_fields=[
                    "status",
                    "subject",
                    "body",
                    "sent_at",
                    "last_error",
                    "provider_message_id",
                ]
            )
            handled += 1
    if handled:
        logger.info("outbox dispatched count=%d", handled)
    return handled


def requeue_stale(older_than_seconds: int = 60) -> int:
    """Queue the dispatcher again when pending rows have waited too long
    (their task was lost); return how many were waiting."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    waiting = Notification.objects.filter(status=Status.PENDING, created_at__lt=cutoff).count()
    if waiting:
        from .tasks import dispatch_outbox

        dispatch_outbox.delay()
        logger.info("outbox sweep requeued waiting=%d", waiting)
    return waiting


@transaction.atomic
def mark_read(citizen, notification_id: int) -> None:
    Notification.objects.filter(
        pk=notification_id, citizen=citizen, read_at__isnull=True
    ).update(read_at=timezone.now())
