"""Writing notifications into the outbox and delivering them.

Writers run inside the transaction of the change they report and queue the
dispatcher on commit. The dispatcher claims pending rows in batches with
``FOR UPDATE SKIP LOCKED``; the claim (pending -> sending) commits before
anything goes out, so a row is handed to one worker only, whatever runs
twice. A worker that dies leaves rows in "sending": the sweeper takes them
back after a lease, asking the SMS gateway first what it already got, so
nothing is sent twice (docs/notifications.md).
"""

from __future__ import annotations

import datetime
import logging
import math
import time
import uuid
from collections import Counter, defaultdict

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from .models import (
    FINAL_STATUSES,
    KIND_TOPIC,
    STATUS_RANK,
    URGENT_KINDS,
    DeliveryProfile,
    MessageTemplate,
    Notification,
    PushSubscription,
)
from .rendering import compiled_file, compiled_text
from .sms_parts import max_units, sms_length
from .timezones import citizen_timezone

logger = logging.getLogger(__name__)

Channel = Notification.Channel
Status = Notification.Status
EXTERNAL_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PUSH)
# SMS and push wake people up; email waits in the mailbox.
QUIET_CHANNELS = (Channel.SMS, Channel.PUSH)

# Channels a citizen is reached on: the cabinet always, email and SMS when
# the registries know an address or a mobile number, push when a browser
# subscribed.
_CHANNEL_CONDITIONS = {
    Channel.CABINET: "true",
    Channel.EMAIL: "c.email <> ''",
    Channel.SMS: "c.phone <> '' AND c.phone_is_mobile",
    Channel.PUSH: "EXISTS (SELECT 1 FROM notifications_pushsubscription p "
    "WHERE p.citizen_id = c.id)",
}


# Writing -----------------------------------------------------------------


def _queue_dispatch(rows: int = 1) -> None:
    """After commit, a dispatch task per channel, so that slow email never
    holds SMS back; for a large batch more of them. SMS (the channel people
    read at once) are queued first, all of them: free workers take tasks in
    the order they were queued."""
    from .tasks import dispatch_outbox

    extra = max(0, min(settings.NOTIFY_PARALLEL_TASKS, rows // 6000))
    helpers = [Channel.SMS, Channel.EMAIL, Channel.SMS, Channel.CABINET]
    order = [Channel.SMS, Channel.PUSH, Channel.EMAIL, Channel.CABINET]
    channels = order + [helpers[n % len(helpers)] for n in range(extra)]
    channels.sort(key=order.index)

    def queue():
        for channel in channels:
            dispatch_outbox.delay(channel)

    transaction.on_commit(queue)


def notify_offers_created(offer_ids: list[int]) -> None:
    """Outbox rows for new offers, one per channel, set-based."""
    notify_offers(Notification.Kind.OFFER_CREATED, offer_ids)


def notify_offers(kind: str, offer_ids: list[int]) -> None:
    """Outbox rows of one kind for many offers, one per channel, set-based."""
    written = 0
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
            written += cursor.rowcount
    _queue_dispatch(written)


def notify_many(kind: str, pairs) -> int:
    """Outbox rows of one kind for many (citizen, object key) pairs, one
    statement per channel; the channels are those ``notify`` uses.

    ``pairs`` is a queryset of ``values(citizen_id, <key>)`` (two columns,
    in that order), so the rows are written straight from the SELECT; the
    unique constraint skips the ones that exist. The rows take their ids in
    the queryset's order, so a citizen's notices read in that order."""
    sql, params = pairs.query.sql_with_params()
    written = 0
    with connection.cursor() as cursor:
        for channel, condition in _CHANNEL_CONDITIONS.items():
            cursor.execute(
                f"""
                INSERT INTO notifications_notification (
                    citizen_id, kind, channel, object_key, status,
                    subject, body, attempts, last_error, provider_message_id,
                    created_at)
                SELECT p.citizen_id, %s, %s, p.object_key, %s,
                       '', '', 0, '', '', now()
                FROM (
                    SELECT q.*, row_number() OVER () FROM ({sql}) AS q
                ) AS p(citizen_id, object_key, position)
                JOIN cabinet_citizen c ON c.id = p.citizen_id
                WHERE {condition}
                ORDER BY p.position
                ON CONFLICT (kind, object_key, channel) DO NOTHING
                """,
                [kind, channel, Status.PENDING, *params],
            )
            written += cursor.rowcount
    if written:
        _queue_dispatch(written)
    return written


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
    if citizen.push_subscriptions.exists():
        channels.append(Channel.PUSH)

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
    if prefix in ("payment", "bank_details"):
        from offers.payments import notice_context

        return notice_context(object_key)
    return {}


# Rendering ---------------------------------------------------------------


def _context(notification: Notification) -> dict:
    return {
        "notification": notification,
        "citizen": notification.citizen,
        "offer": notification.offer,
        "application": notification.application,
        "base_url": settings.PORTAL_BASE_URL,
        **_named_objects(notification.object_key),
    }


def _with_service_title(context: dict) -> dict:
    """``service_title``: the short name of the service the notice is
    about, for texts that must be short (SMS)."""
    if "service_title" in context:
        return context
    for name in ("offer", "application"):
        service = getattr(context.get(name), "service", None)
        if service is not None:
            return {**context, "service_title": service.sms_title}
    return {**context, "service_title": ""}


# Below this a service's name says too little to be worth sending.
_SHORTEST_TITLE = 12


def _fit_sms(render_text, context: dict) -> str:
    """The SMS text within ``SMS_MAX_PARTS`` parts. The service's name is
    what gives way, cut with an ellipsis; the citizen's name and the reply
    code stay whole."""
    context = _with_service_title(context)
    text = render_text(context).strip()
    title = context["service_title"]
    while len(title) > _SHORTEST_TITLE:
        length = sms_length(text)
        excess = length.units - max_units(length.encoding, settings.SMS_MAX_PARTS)
        if excess <= 0:
            break
        keep = max(_SHORTEST_TITLE, len(title) - excess - 1)
        shorter = title[:keep].rstrip() + "…"
        if len(shorter) >= len(title):
            break
        title = shorter
        text = render_text({**context, "service_title": title}).strip()
    return text


def _active_templates() -> dict[tuple[str, str], MessageTemplate]:
    language = settings.LANGUAGE_CODE
    return {
        (t.kind, t.channel): t
        for t in MessageTemplate.objects.filter(is_active=True, language=language)
    }


def render_template(template: MessageTemplate, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) of an official's template."""
    context = _with_service_title(context)
    subject = compiled_text(template.subject, autoescape=False).render(context)
    body = compiled_text(template.body, autoescape=False)
    if template.channel == Channel.SMS:
        text = _fit_sms(body.render, context)
    else:
        text = body.render(context)
    html = ""
    if template.html_body:
        html = compiled_text(template.html_body, autoescape=True).render(context)
    return subject.strip(), text.strip(), html


def render(
    notification: Notification, templates: dict | None = None
) -> tuple[str, str, str]:
    """(subject, text body, html body) of a notification: the official's
    template from the database when there is one, else the file's."""
    if templates is None:
        templates = _active_templates()
    context = _with_service_title(_context(notification))
    channel = notification.channel
    override = templates.get((notification.kind, channel))
    if override is not None:
        subject, text, html = render_template(override, context)
        if channel == Channel.EMAIL and not html:
            html = f"<p>{text}</p>"
        return subject, text, html

    # A service may word a kind its own way (a tax reminder is no
    # application to fill in): notifications/<kind>/<service code>/.
    about = notification.offer or notification.application
    service = about.service.code if about is not None else ""

    def file(name: str):
        # A kind without texts of its own uses the general ones. Plain
        # text is not HTML: a name with an apostrophe stays as it is.
        names = (
            f"notifications/{notification.kind}/{name}",
            f"notifications/default/{name}",
        )
        if service:
            names = (f"notifications/{notification.kind}/{service}/{name}", *names)
        return compiled_file(names, autoescape=name.endswith(".html"))

    subject = file("subject.txt").render(context).strip()
    # Push shows the short SMS text.
    name = "sms" if channel == Channel.PUSH else channel
    body = file(f"{name}.txt")
    if channel == Channel.SMS:
        text = _fit_sms(body.render, context).strip()
    else:
        text = body.render(context).strip()
    html = file("email.html").render(context) if channel == Channel.EMAIL else ""
    return subject, text, html


# Claiming ----------------------------------------------------------------


def claim_pending(limit: int, channel: str = "") -> list[int]:
    """Mark up to ``limit`` due pending rows as being sent, and return
    their ids.

    The claim commits before anything is delivered: a row is sent only by
    the worker that claimed it, even if another task runs at the same time.
    """
    # The application's clock, not the database's: the same one that set
    # not_before (and the one tests freeze).
    now = timezone.now()
    by_channel = "AND channel = %s" if channel else ""
    with transaction.atomic(), connection.cursor() as cursor:
        # The rows are picked once, in a materialised CTE: as an IN
        # (subquery) the planner may run the LIMIT ... SKIP LOCKED subquery
        # again and claim more rows than asked.
        cursor.execute(
            f"""
            WITH picked AS MATERIALIZED (
                SELECT id FROM notifications_notification
                WHERE status = %s AND (not_before IS NULL OR not_before <= %s)
                    {by_channel}
                ORDER BY id LIMIT %s
                FOR UPDATE SKIP LOCKED)
            UPDATE notifications_notification n SET status = %s, claimed_at = %s,
                status_changed_at = %s, attempts = attempts + 1
            FROM picked WHERE n.id = picked.id
            RETURNING n.id
            """,
            [Status.PENDING, now]
            + ([channel] if channel else [])
            + [limit, Status.SENDING, now, now],
        )
        return [row[0] for row in cursor.fetchall()]


# Citizen's rules: preferences, quiet hours, daily cap -------------------


def profile_of(citizen) -> DeliveryProfile:
    try:
        return citizen.delivery_profile
    except DeliveryProfile.DoesNotExist:
        return DeliveryProfile(citizen=citizen)


def channel_enabled(profile: DeliveryProfile, kind: str, channel: str) -> bool:
    if channel == Channel.CABINET:
        return True  # the inbox always keeps everything
    topic = KIND_TOPIC.get(kind)
    return channel not in (profile.disabled or {}).get(topic, [])


def quiet_until(profile: DeliveryProfile, now: datetime.datetime):
    """The end of the citizen's quiet hours when ``now`` falls inside them,
    else None."""
    if not profile.quiet_hours:
        return None
    zone = citizen_timezone(profile.citizen)
    local = now.astimezone(zone)
    start, end, moment = profile.quiet_start, profile.quiet_end, local.time()
    if start == end:
        return None
    if start < end:
        inside = start <= moment < end
    else:  # the window spans midnight
        inside = moment >= start or moment < end
    if not inside:
        return None
    day = local.date() if moment < end else local.date() + datetime.timedelta(days=1)
    return datetime.datetime.combine(day, end, tzinfo=zone)


def _local_midnight(citizen, now):
    zone = citizen_timezone(citizen)
    local = now.astimezone(zone)
    return datetime.datetime.combine(local.date(), datetime.time(0), tzinfo=zone)


def _sent_today(citizen_ids, now) -> dict[int, set]:
    """(kind, object_key) pairs that went out on an outside channel in the
    last day, per citizen; the caller keeps those of the local day."""
    rows = Notification.objects.filter(
        citizen_id__in=citizen_ids,
        channel__in=EXTERNAL_CHANNELS,
        sent_at__gte=now - datetime.timedelta(days=1),
    ).values_list("citizen_id", "kind", "object_key", "sent_at")
    sent = defaultdict(list)
    for citizen_id, kind, key, sent_at in rows:
        sent[citizen_id].append((kind, key, sent_at))
    return sent


# Delivering --------------------------------------------------------------


class _Batch:
    """Outcomes of one claimed batch, written back in one statement."""

    def __init__(self):
        self.rows: dict[int, dict] = {}
        self.fallback: list[Notification] = []

    def set(self, notification: Notification, status: str, **fields) -> None:
        now = timezone.now()
        entry = {
            "status": status,
            "subject": notification.subject,
            "body": notification.body,
            "provider_message_id": notification.provider_message_id,
            "gateway": notification.gateway,
            "last_error": notification.last_error,
            "sent_at": now if status in (Status.SENT, Status.DELIVERED) else None,
            "not_before": None,
            "attempts": notification.attempts,
        }
        entry.update(fields)
        self.rows[notification.pk] = entry

    def write(self) -> None:
        if not self.rows:
            return
        ids = list(self.rows)
        column = {name: [self.rows[i][name] for i in ids] for name in self.rows[ids[0]]}
        with connection.cursor() as cursor:
            # A receipt may have moved a row on while it was being sent:
            # then its status stays, the rest is recorded.
            cursor.execute(
                """
                UPDATE notifications_notification n SET
                    status = CASE WHEN n.status = %s THEN v.status ELSE n.status END,
                    subject = v.subject, body = v.body,
                    provider_message_id = v.pmid, gateway = v.gateway,
                    last_error = v.error,
                    sent_at = COALESCE(n.sent_at, v.sent_at),
                    not_before = v.not_before, attempts = v.attempts,
                    status_changed_at = %s
                FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::text[]) AS status,
                             unnest(%s::text[]) AS subject, unnest(%s::text[]) AS body,
                             unnest(%s::text[]) AS pmid, unnest(%s::text[]) AS gateway,
                             unnest(%s::text[]) AS error,
                             unnest(%s::timestamptz[]) AS sent_at,
                             unnest(%s::timestamptz[]) AS not_before,
                             unnest(%s::int[]) AS attempts) v
                WHERE n.id = v.id
                """,
                [
                    Status.SENDING,
                    # The application's clock, as the claim and the sweeper
                    # use it (and as tests freeze it).
                    timezone.now(),
                    ids,
                    column["status"],
                    column["subject"],
                    column["body"],
                    column["provider_message_id"],
                    column["gateway"],
                    [e[:2000] for e in column["last_error"]],
                    column["sent_at"],
                    column["not_before"],
                    column["attempts"],
                ],
            )


def _retry_or_fail(batch: _Batch, notification: Notification, error: str) -> None:
    """Back off exponentially; after the last attempt, a technical failure."""
    notification.last_error = error
    if notification.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        logger.warning(
            "notification failed for good id=%s channel=%s attempts=%d",
            notification.pk,
            notification.channel,
            notification.attempts,
        )
        batch.set(notification, Status.FAILED)
        batch.fallback.append(notification)
        return
    delay = settings.NOTIFY_RETRY_BASE_SECONDS * 2 ** (notification.attempts - 1)
    batch.set(
        notification,
        Status.PENDING,
        not_before=timezone.now() + datetime.timedelta(seconds=delay),
    )


def _deliver_email(batch: _Batch, rows: list[Notification]) -> None:
    from smtplib import SMTPRecipientsRefused

    from .mail import PreparedEmail, send_prepared

    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    messages = []
    for notification in rows:
        notification.provider_message_id = f"notification-{notification.pk}@{domain}"
        messages.append(
            PreparedEmail(
                notification.subject,
                notification.body,
                notification.html,
                to=notification.citizen.email,
                message_id=notification.provider_message_id,
            )
        )

    # The SMTP exchanges run in threads; what follows from their outcomes
    # runs here, in this task's database connection.
    for notification, error in zip(rows, send_prepared(messages), strict=True):
        if error is None:
            batch.set(notification, Status.SENT)
        elif isinstance(error, SMTPRecipientsRefused):
            mark_email_unusable(notification.citizen.email, "smtp: refused")
            notification.last_error = f"refused: {error}"[:2000]
            batch.set(notification, Status.UNDELIVERED)
        else:
            _retry_or_fail(batch, notification, f"{type(error).__name__}: {error}")


def _deliver_sms(batch: _Batch, rows: list[Notification]) -> None:
    from .backends import sms

    client = sms.GatewayClient()
    try:
        chunk = settings.SMS_GATEWAY_CHUNK
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            items = [
                {"ref": str(n.pk), "to": n.citizen.phone, "text": n.body} for n in part
            ]
            outcomes = client.send(items)
            for notification in part:
                outcome = outcomes[str(notification.pk)]
                notification.gateway = outcome.gateway
                if outcome.status == sms.ACCEPTED:
                    notification.provider_message_id = outcome.message_id
                    batch.set(notification, Status.SENT)
                elif outcome.status == sms.UNKNOWN:
                    notification.last_error = outcome.error
                    batch.set(notification, Status.UNKNOWN)
                elif outcome.status == sms.REJECTED:
                    # The gateway refuses the number: it is not usable.
                    notification.last_error = outcome.error
                    mark_phone_unusable(notification.citizen_id, outcome.error)
                    batch.set(notification, Status.UNDELIVERED)
                    batch.fallback.append(notification)
                else:
                    _retry_or_fail(batch, notification, outcome.error)
    finally:
        client.close()


def _deliver_push(batch: _Batch, rows: list[Notification]) -> None:
    from .backends import push

    for notification in rows:
        subscriptions = list(notification.citizen.push_subscriptions.all())
        if not subscriptions:
            notification.last_error = "no subscription"
            batch.set(notification, Status.SKIPPED)
            continue
        delivered, errors = 0, []
        for subscription in subscriptions:
            result = push.send(subscription, notification)
            if result == push.DELIVERED:
                delivered += 1
            elif result == push.EXPIRED:
                logger.info("push subscription expired id=%s", subscription.pk)
                subscription.delete()
            else:
                errors.append(result)
        if delivered:
            batch.set(notification, Status.SENT)
        elif errors:
            _retry_or_fail(batch, notification, "; ".join(errors))
        else:
            notification.last_error = "subscriptions expired"
            batch.set(notification, Status.SKIPPED)


def _deliver_batch(ids: list[int], templates: dict) -> None:
    # A batch is mostly about a few services: each is loaded once, not once
    # a row; the prefilled data no notice shows stays in the database.
    rows = list(
        Notification.objects.filter(pk__in=ids)
        .select_related("citizen__delivery_profile", "offer", "application")
        .defer("offer__prefill", "application__data")
        .prefetch_related("offer__service", "application__service")
        .order_by("id")
    )
    batch = _Batch()
    now = timezone.now()
    by_channel: dict[str, list[Notification]] = defaultdict(list)

    external = [n for n in rows if n.channel != Channel.CABINET]
    sent_today = _sent_today({n.citizen_id for n in external}, now) if external else {}
    counted: dict[int, set] = {}

    for notification in rows:
        citizen = notification.citizen
        profile = profile_of(citizen)
        channel = notification.channel

        if channel != Channel.CABINET:
            if not channel_enabled(profile, notification.kind, channel):
                notification.last_error = "turned off by the citizen"
                batch.set(notification, Status.SKIPPED)
                continue
            if channel == Channel.EMAIL and (
                profile.email_unusable_at or not citizen.email
            ):
                notification.last_error = "email address unusable"
                batch.set(notification, Status.SKIPPED)
                continue
            if channel == Channel.SMS and (
                profile.phone_unusable_at or not citizen.phone
            ):
                notification.last_error = "phone unusable"
                batch.set(notification, Status.SKIPPED)
                batch.fallback.append(notification)
                continue
            if channel in QUIET_CHANNELS:
                until = quiet_until(profile, now)
                if until is not None:
                    # Not an attempt: it waits for the morning.
                    batch.set(
                        notification,
                        Status.PENDING,
                        not_before=until,
                        attempts=max(0, notification.attempts - 1),
                    )
                    continue
            if not _within_cap(notification, profile, sent_today, counted, now):
                notification.last_error = "daily cap reached"
                batch.set(notification, Status.SKIPPED)
                continue

        try:
            subject, text, html = render(notification, templates)
        except Exception as error:  # a broken template fails its row only
            logger.exception("notification not rendered id=%s", notification.pk)
            notification.last_error = f"render: {type(error).__name__}: {error}"
            batch.set(notification, Status.FAILED)
            continue
        notification.subject, notification.body = subject, text
        notification.html = html
        by_channel[channel].append(notification)

    for notification in by_channel.pop(Channel.CABINET, []):
        batch.set(notification, Status.SENT)
    if by_channel.get(Channel.EMAIL):
        _deliver_email(batch, by_channel[Channel.EMAIL])
    if by_channel.get(Channel.SMS):
        _deliver_sms(batch, by_channel[Channel.SMS])
    if by_channel.get(Channel.PUSH):
        _deliver_push(batch, by_channel[Channel.PUSH])

    batch.write()
    if batch.fallback:
        fall_back_to_email(batch.fallback)


def _within_cap(notification, profile, sent_today, counted, now) -> bool:
    """At most ``daily_cap`` notices a local day on the outside channels;
    one notice sent by SMS and email counts once. Urgent ones pass."""
    citizen_id = notification.citizen_id
    key = (notification.kind, notification.object_key)
    if citizen_id not in counted:
        midnight = _local_midnight(notification.citizen, now)
        counted[citizen_id] = {
            (kind, object_key)
            for kind, object_key, sent_at in sent_today.get(citizen_id, [])
            if sent_at >= midnight
        }
    seen = counted[citizen_id]
    if key in seen or notification.kind in URGENT_KINDS:
        seen.add(key)
        return True
    if len(seen) >= profile.daily_cap:
        return False
    seen.add(key)
    return True


def dispatch_pending(
    batch_size: int | None = None,
    max_batches: int = 0,
    channel: str = "",
    budget_seconds: float | None = None,
) -> int:
    """Deliver due pending notifications (of one channel, or all) until
    none is left, or until ``budget_seconds`` have passed; return how many
    were handled.

    The budget keeps a task well inside its time limit: a task killed by
    the limit in the middle of a batch would leave its rows "sending" for
    the sweeper to settle."""
    batch_size = batch_size or settings.NOTIFY_BATCH_SIZE
    templates = _active_templates()
    handled = batches = 0
    started = time.monotonic()
    while ids := claim_pending(batch_size, channel):
        _deliver_batch(ids, templates)
        handled += len(ids)
        batches += 1
        if max_batches and batches >= max_batches:
            break
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            break
    if handled:
        logger.info("outbox dispatched count=%d channel=%s", handled, channel or "all")
    return handled


def fall_back_to_email(notifications: list[Notification]) -> int:
    """SMS failed for good or the phone is unusable: the notice goes by
    email (once: the unique constraint holds), and the cabinet row, written
    with every notice, keeps it in any case."""
    keys = [
        (n.citizen_id, n.kind, n.object_key, n.offer_id, n.application_id)
        for n in notifications
    ]
    if not keys:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO notifications_notification (
                citizen_id, kind, channel, object_key, offer_id, application_id,
                status, subject, body, attempts, last_error, provider_message_id,
                created_at)
            SELECT v.citizen_id, v.kind, %s, v.object_key, v.offer_id,
                   v.application_id, %s, '', '', 0, '', '', now()
            FROM (SELECT unnest(%s::bigint[]) AS citizen_id,
                         unnest(%s::text[]) AS kind, unnest(%s::text[]) AS object_key,
                         unnest(%s::bigint[]) AS offer_id,
                         unnest(%s::bigint[]) AS application_id) v
            JOIN cabinet_citizen c ON c.id = v.citizen_id
            WHERE c.email <> ''
            ON CONFLICT (kind, object_key, channel) DO NOTHING
            """,
            [
                Channel.EMAIL,
                Status.PENDING,
                [k[0] for k in keys],
                [k[1] for k in keys],
                [k[2] for k in keys],
                [k[3] for k in keys],
                [k[4] for k in keys],
            ],
        )
        created = cursor.rowcount
    logger.info("sms fell back to email count=%d", created)
    if created:
        _queue_dispatch(created)
    return created


# The sweeper -------------------------------------------------------------


def reclaim_abandoned(lease_seconds: int | None = None) -> int:
    """Rows a dead worker left in "sending". The cabinet is safe to redo;
    what may have left the building is marked unknown, never resent
    blindly: SMS is settled by asking the gateway, email and push wait for
    an official's decision in the monitoring view."""
    if lease_seconds is None:
        lease_seconds = settings.NOTIFY_SENDING_LEASE_SECONDS
    cutoff = timezone.now() - datetime.timedelta(seconds=lease_seconds)
    stale = Notification.objects.filter(status=Status.SENDING, claimed_at__lte=cutoff)
    cabinet = stale.filter(channel=Channel.CABINET).update(
        status=Status.PENDING, status_changed_at=timezone.now()
    )
    outside = stale.exclude(channel=Channel.CABINET).update(
        status=Status.UNKNOWN,
        last_error="worker lost while sending",
        # Its request went out no later than the claim; the grace period
        # for settling counts from there.
        status_changed_at=F("claimed_at"),
    )
    if cabinet or outside:
        logger.warning("outbox reclaimed cabinet=%d unknown=%d", cabinet, outside)
    return cabinet + outside


def settle_unknown(grace_seconds: int | None = None) -> dict[str, int]:
    """Ask the gateways about SMS whose answer never came. Known there:
    sent (or its receipt's status). Unknown there after the grace period:
    it never arrived, so it is safe to send again."""
    from .backends import sms

    if grace_seconds is None:
        grace_seconds = settings.NOTIFY_UNKNOWN_GRACE_SECONDS
    cutoff = timezone.now() - datetime.timedelta(seconds=grace_seconds)
    rows = list(
        Notification.objects.filter(
            status=Status.UNKNOWN, channel=Channel.SMS, status_changed_at__lte=cutoff
        ).values_list("pk", "gateway")[:5000]
    )
    result = {"sent": 0, "requeued": 0}
    if not rows:
        return result
    client = sms.GatewayClient()
    try:
        known = client.query([str(pk) for pk, _ in rows])
    except Exception as error:
        logger.warning("gateway status query failed error=%s", type(error).__name__)
        return result
    finally:
        client.close()

    for pk, _gateway in rows:
        message = known.get(str(pk))
        if message is None:
            updated = Notification.objects.filter(pk=pk, status=Status.UNKNOWN).update(
                status=Status.PENDING, status_changed_at=timezone.now()
            )
            result["requeued"] += updated
            continue
        status = _RECEIPT_STATUS.get(message.get("status"), Status.SENT)
        Notification.objects.filter(pk=pk, status=Status.UNKNOWN).update(
            status=status,
            gateway=message["gateway"],
            provider_message_id=message.get("id", ""),
            sent_at=timezone.now(),
            status_changed_at=timezone.now(),
        )
        result["sent"] += 1
    logger.info(
        "unknown sms settled sent=%d requeued=%d", result["sent"], result["requeued"]
    )
    if result["requeued"]:
        _queue_dispatch(result["requeued"])
    return result


def requeue_stale(older_than_seconds: int = 60) -> int:
    """Queue the dispatcher again when due pending rows have waited too
    long (their task was lost, or their backoff or quiet hours ended);
    return how many were waiting."""
    now = timezone.now()
    cutoff = now - datetime.timedelta(seconds=older_than_seconds)
    waiting = Notification.objects.filter(
        Q(not_before__isnull=True, created_at__lt=cutoff) | Q(not_before__lte=now),
        status=Status.PENDING,
    ).count()
    if waiting:
        from .tasks import dispatch_outbox

        for _ in range(
            max(1, min(settings.NOTIFY_PARALLEL_TASKS, waiting // 2000 + 1))
        ):
            dispatch_outbox.delay()
        logger.info("outbox sweep requeued waiting=%d", waiting)
    return waiting


def sweep(lease_seconds=None, grace_seconds=None, older_than_seconds=60) -> dict:
    reclaimed = reclaim_abandoned(lease_seconds)
    settled = settle_unknown(grace_seconds)
    waiting = requeue_stale(older_than_seconds)
    return {"reclaimed": reclaimed, **settled, "waiting": waiting}


# Receipts, bounces, replies ----------------------------------------------

_RECEIPT_STATUS = {
    "accepted": Status.SENT,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED,
    "expired": Status.UNDELIVERED,
    "rejected": Status.UNDELIVERED,
}


class ReceiptError(ValueError):
    pass


def apply_receipts(gateway_name: str, receipts: list[dict]) -> dict[str, int]:
    """Statuses from a gateway's delivery receipts. A status only moves
    forward, a final one is never left; duplicates and late receipts are
    ignored and logged."""
    counts = Counter()
    fallback = []
    for receipt in receipts:
        status = _RECEIPT_STATUS.get(str(receipt.get("status")))
        ref = str(receipt.get("ref", ""))
        if status is None or not ref.isdigit():
            # Not an outbox row (a phone or signing code sent directly has a
            # "direct-" ref) or a receipt we cannot read: logged and
            # skipped. Refusing the whole batch would make the gateway send
            # it again forever, holding back the good receipts in it.
            logger.warning(
                "receipt skipped ref=%r status=%r gateway=%s",
                ref[:40],
                str(receipt.get("status"))[:20],
                gateway_name,
            )
            counts["skipped"] += 1
            continue
        with transaction.atomic():
            notification = (
                Notification.objects.select_for_update()
                .filter(pk=int(ref), channel=Channel.SMS)
                .first()
            )
            if notification is None:
                logger.warning(
                    "receipt for unknown ref=%s gateway=%s", ref, gateway_name
                )
                counts["unknown"] += 1
                continue
            if notification.gateway and notification.gateway != gateway_name:
                # One gateway's token does not speak for another's messages.
                logger.warning(
                    "receipt from another gateway ignored id=%s gateway=%s",
                    notification.pk,
                    gateway_name,
                )
                counts["ignored"] += 1
                continue
            current = notification.status
            if current in FINAL_STATUSES or STATUS_RANK[status] <= STATUS_RANK[current]:
                logger.info(
                    "receipt ignored id=%s current=%s receipt=%s gateway=%s",
                    notification.pk,
                    current,
                    status,
                    gateway_name,
                )
                counts["ignored"] += 1
                continue
            notification.status = status
            notification.gateway = notification.gateway or gateway_name
            if receipt.get("id") and not notification.provider_message_id:
                notification.provider_message_id = str(receipt["id"])[:128]
            notification.sent_at = notification.sent_at or timezone.now()
            notification.status_changed_at = timezone.now()
            notification.save(
                update_fields=[
                    "status",
                    "gateway",
                    "provider_message_id",
                    "sent_at",
                    "status_changed_at",
                ]
            )
            counts["applied"] += 1
            if status == Status.UNDELIVERED:
                fallback.append(notification)
    if fallback:
        with transaction.atomic():
            fall_back_to_email(fallback)
    return dict(counts)


@transaction.atomic
def mark_email_unusable(address: str, reason: str) -> int:
    """A hard bounce: no more email to this address until it changes."""
    from cabinet.models import Citizen

    count = 0
    for citizen in Citizen.objects.filter(email__iexact=address):
        profile, _ = DeliveryProfile.objects.get_or_create(citizen=citizen)
        profile.email_unusable_at = timezone.now()
        profile.email_unusable_reason = reason[:200]
        profile.save(update_fields=["email_unusable_at", "email_unusable_reason"])
        count += 1
    logger.info("email address marked unusable citizens=%d", count)
    return count


@transaction.atomic
def mark_phone_unusable(citizen_id: int, reason: str) -> None:
    profile, _ = DeliveryProfile.objects.get_or_create(citizen_id=citizen_id)
    profile.phone_unusable_at = timezone.now()
    profile.save(update_fields=["phone_unusable_at"])
    logger.info("phone marked unusable citizen=%s reason=%s", citizen_id, reason)


def apply_bounces(bounces: list[dict]) -> dict[str, int]:
    """Bounce reports from the email provider: a hard bounce marks the
    address unusable and the notification undelivered; a soft one is
    only logged."""
    counts = Counter()
    for bounce in bounces:
        kind = bounce.get("type")
        if kind not in ("hard", "soft") or "@" not in str(bounce.get("email", "")):
            raise ReceiptError("bounce needs an email and type hard|soft")
        if kind == "soft":
            counts["soft"] += 1
            continue
        mark_email_unusable(bounce["email"], str(bounce.get("reason", "hard bounce")))
        message_id = str(bounce.get("message_id", "")).strip("<>")
        if message_id:
            Notification.objects.filter(
                channel=Channel.EMAIL, provider_message_id=message_id
            ).exclude(status__in=[Status.UNDELIVERED, Status.FAILED]).update(
                status=Status.UNDELIVERED, status_changed_at=timezone.now()
            )
        counts["hard"] += 1
    return dict(counts)


# The citizen's side ------------------------------------------------------


@transaction.atomic
def mark_read(citizen, notification_id: int) -> None:
    Notification.objects.filter(
        pk=notification_id, citizen=citizen, read_at__isnull=True
    ).update(read_at=timezone.now())


def mark_offer_notices_read(citizen, offer_id: int) -> int:
    """The citizen opened or confirmed the offer: its cabinet notices (new
    offer, reminder) have done their job. One UPDATE, safe to repeat."""
    return Notification.objects.filter(
        citizen=citizen,
        offer_id=offer_id,
        channel=Notification.Channel.CABINET,
        read_at__isnull=True,
    ).update(read_at=timezone.now())


@transaction.atomic
def save_preferences(
    citizen,
    *,
    disabled: dict[str, list[str]],
    quiet_hours: bool,
    quiet_start: datetime.time,
    quiet_end: datetime.time,
    daily_cap: int,
) -> DeliveryProfile:
    profile, _ = DeliveryProfile.objects.select_for_update().get_or_create(
        citizen=citizen
    )
    profile.disabled = {
        topic: sorted(set(channels) - {Channel.CABINET})
        for topic, channels in disabled.items()
        if channels
    }
    profile.quiet_hours = quiet_hours
    profile.quiet_start = quiet_start
    profile.quiet_end = quiet_end
    profile.daily_cap = daily_cap
    profile.save()
    logger.info("notification preferences saved citizen=%s", citizen.pk)
    return profile


@transaction.atomic
def subscribe_push(citizen, endpoint: str, p256dh: str, auth: str) -> PushSubscription:
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={"citizen": citizen, "p256dh": p256dh, "auth": auth},
    )
    logger.info(
        "push subscribed citizen=%s subscription=%s", citizen.pk, subscription.pk
    )
    return subscription


@transaction.atomic
def stop_proactive_mode(citizen) -> None:
    """The citizen answered "СТОП": no more proactive offers."""
    from cabinet.models import Citizen

    Citizen.objects.filter(pk=citizen.pk).update(proactive_mode=False)
    logger.info("proactive mode turned off by sms citizen=%s", citizen.pk)


# Officials' side ---------------------------------------------------------


@transaction.atomic
def retry_notifications(ids: list[int]) -> int:
    """An official sends failed or unknown notifications again."""
    count = Notification.objects.filter(
        pk__in=ids,
        status__in=[Status.FAILED, Status.UNKNOWN, Status.UNDELIVERED],
    ).update(
        status=Status.PENDING,
        attempts=0,
        not_before=None,
        last_error="",
        status_changed_at=timezone.now(),
    )
    logger.info("notifications retried by an official count=%d", count)
    if count:
        _queue_dispatch(count)
    return count


def delivery_figures() -> list[dict]:
    """Per channel: how many notices in each status, and the share
    delivered of those that went out."""
    rows = Notification.objects.values("channel", "status").annotate(n=Count("id"))
    figures: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        figures[row["channel"]][row["status"]] += row["n"]
    result = []
    for channel, label in Channel.choices:
        counts = figures.get(channel, Counter())
        out = sum(
            counts[s] for s in (Status.SENT, Status.DELIVERED, Status.UNDELIVERED)
        )
        share = counts[Status.DELIVERED] / out if out else None
        result.append(
            {
                "channel": channel,
                "label": label,
                "counts": dict(counts),
                "total": sum(counts.values()),
                "delivered_share": None
                if share is None
                else math.floor(share * 1000) / 10,
            }
        )
    return result


def send_direct_sms(phone: str, text: str) -> bool:
    """Send one SMS at once, outside the outbox, and say whether a gateway
    accepted it. For one-time codes only: a code must not be kept in a
    notification row, and an undelivered one is simply asked for again."""
    from .backends import sms

    client = sms.GatewayClient()
    try:
        outcomes = client.send(
            [{"ref": f"direct-{uuid.uuid4().hex}", "to": phone, "text": text}]
        )
    finally:
        client.close()
    accepted = all(o.status == sms.ACCEPTED for o in outcomes.values())
    if not accepted:
        statuses = [outcome.status for outcome in outcomes.values()]
        logger.warning("direct sms not accepted outcomes=%s", statuses)
    return accepted
