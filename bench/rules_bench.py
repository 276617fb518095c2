"""Rule evaluation against hand-written SQL.

    .venv/bin/python bench/rules_bench.py [--citizens 1000000] [--events 100000]

Builds its own embedded PostgreSQL under .data/bench (never the demo's or
the tests'), generates citizens, consents and one batch of new events with
generate_series, approves ten rules, then times in the same run:

- ``evaluation``: ``events.services.evaluate_batch`` as the worker runs it
  (ORM-built INSERT ... SELECT of offers per rule, then the outbox rows);
- ``raw_sql``: per rule one hand-written INSERT ... SELECT doing the same
  joins and writing the same offers and outbox rows, and the payment
  notices of the batch's payments (which evaluation writes too).

The payment notices alone are timed the same way: ``notify_payments``
against the hand-written INSERT ... SELECT of the same rows.

Each is run in a transaction that is rolled back, twice, alternating; the
best time of each counts. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PORTAL_DATA_DIR", str(ROOT / ".data" / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proactive_portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from events.models import TriggerRule  # noqa: E402
from events.services import approve_rule, evaluate_batch  # noqa: E402
from offers.models import Service  # noqa: E402
from offers.payments import NOTICE_MAX_AGE_DAYS, notify_payments  # noqa: E402

BATCH_ID = "00000000-0000-0000-0000-00000000b0b0"

# (code, event type, service, conditions, hand-written SQL of the same
# conditions over e = events_lifeevent, c = cabinet_citizen).
RULES = [
    (
        "b-maternity",
        "birth",
        "maternity-capital",
        [
            {"field": "event.role", "op": "eq", "value": "mother"},
            {"field": "event.birth_order", "op": "gte", "value": 2},
            {"field": "event.stillborn", "op": "eq", "value": False},
        ],
        "e.role = 'mother' AND (e.data->>'birth_order')::int >= 2 "
        "AND (e.data->>'stillborn')::boolean = false",
    ),
    (
        "b-registration",
        "birth",
        "birth-registration",
        [
            {"field": "event.role", "op": "in", "value": ["mother", "father"]},
            {"field": "event.act_number", "op": "empty"},
        ],
        "e.role IN ('mother', 'father') "
        "AND (e.data->>'act_number' IS NULL OR e.data->>'act_number' = '')",
    ),
    (
        "b-young-mother",
        "birth",
        "maternity-capital",
        [
            {"field": "event.birth_order", "op": "eq", "value": 1},
            {"field": "citizen.age_on_event", "op": "between", "value": [18, 30]},
        ],
        "(e.data->>'birth_order')::int = 1 "
        "AND date_part('year', age(e.occurred_on, c.birth_date))::int BETWEEN 18 AND 30",
    ),
    (
        "b-large-family",
        "birth",
        "maternity-capital",
        [
            {"field": "event.birth_order", "op": "gte", "value": 3},
            {"field": "citizen.region_code", "op": "in", "value": ["77", "50", "69"]},
        ],
        "(e.data->>'birth_order')::int >= 3 AND c.region_code IN ('77', '50', '69')",
    ),
    (
        "d-group",
        "disability",
        "disability-reexamination",
        [{"field": "event.group", "op": "in", "value": ["1", "2"]}],
        "e.data->>'group' IN ('1', '2')",
    ),
    (
        "d-term-ends",
        "disability",
        "disability-reexamination",
        [{"field": "days_until:event.valid_until", "op": "between", "value": [0, 365]}],
        "(NULLIF(e.data->>'valid_until', '')::date - %(today)s::date) BETWEEN 0 AND 365",
    ),
    (
        "p-clarify",
        "payment",
        "disability-reexamination",
        [{"field": "event.status", "op": "eq", "value": "needs_clarification"}],
        "e.data->>'status' = 'needs_clarification'",
    ),
    (
        "p-large",
        "payment",
        "disability-reexamination",
        [{"field": "event.amount", "op": "gt", "value": "10000"}],
        "NULLIF(e.data->>'amount', '')::numeric > 10000",
    ),
    (
        "t-property",
        "tax_notice",
        "tax-payment",
        [
            {"field": "event.amount", "op": "gt", "value": "1000"},
            {"field": "event.period_year", "op": "eq", "value": 2025},
        ],
        "NULLIF(e.data->>'amount', '')::numeric > 1000 "
        "AND (e.data->>'period_year')::int = 2025",
    ),
    (
        "t-senior",
        "tax_notice",
        "tax-payment",
        [
            {"field": "event.tax_type", "op": "eq", "value": "property"},
            {"field": "citizen.age", "op": "gte", "value": 60},
        ],
        "e.data->>'tax_type' = 'property' "
        "AND date_part('year', age(%(today)s::date, c.birth_date))::int >= 60",
    ),
]

PREFILL_SQL = {
    "applicant_last_name": "c.last_name::text",
    "applicant_first_name": "c.first_name::text",
    "applicant_middle_name": "c.middle_name::text",
    "applicant_birth_date": "c.birth_date::text",
    "applicant_snils": "c.snils::text",
    "applicant_passport_series": "c.passport_series::text",
    "applicant_passport_number": "c.passport_number::text",
    "applicant_address": "c.address::text",
}


def sql(statement: str, params=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def generate(citizens: int, events: int) -> None:
    sql(
        "TRUNCATE notifications_notification, offers_applicationstatuschange, "
        "offers_application, offers_offer, offers_serviceoptout, "
        "events_lifeevent, events_registryrecord, events_rejectedrow, "
        "consents_consent, cabinet_profilechange, cabinet_citizen CASCADE"
    )
    sql("DELETE FROM events_importbatch")
    sql(
        f"""
        INSERT INTO cabinet_citizen (snils, last_name, first_name, middle_name,
            birth_date, sex, inn, passport_series, passport_number, address,
            region_code, phone, phone_is_mobile, email, death_date, proactive_mode,
            source_record_id, created_at, updated_at)
        SELECT lpad(i::text, 11, '0'), 'Иванова', 'Мария', 'Петровна',
               DATE '1940-01-01' + (i::bigint * 7919 % 30000)::int, CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END,
               '', '4510', lpad((i % 1000000)::text, 6, '0'), 'г. Москва',
               lpad((i % 89 + 1)::text, 2, '0'),
               CASE WHEN i % 3 = 0 THEN '' ELSE '+7916' || lpad((i % 10000000)::text, 7, '0') END,
               i % 3 <> 0, CASE WHEN i % 2 = 0 THEN 'c' || i || '@example.org' ELSE '' END,
               CASE WHEN i % 100 = 0 THEN DATE '2025-01-01' END, i % 20 <> 0,
               'P' || i, now(), now()
        FROM generate_series(1, {citizens}) AS i
        """
    )
    sql(
        """
        INSERT INTO consents_consent (citizen_id, purpose, text_version, given_at,
            valid_until, user_agent)
        SELECT id, 'proactive', '2026-1', now(), now() + interval '1 year', ''
        FROM cabinet_citizen WHERE id % 10 < 7
        """
    )
    sql(
        "INSERT INTO events_importbatch (id, source, file_format, file_name, "
        "file_sha256, status, error, read, stored, updated, duplicates, rejected, "
        "report_path, started_at) VALUES (%s, 'births', 'csv', 'bench', '', "
        "'completed', '', 0, 0, 0, 0, 0, '', now())",
        [BATCH_ID],
    )
    # Four kinds of events, a quarter each; citizens spread over the table.
    sql(
        """
        INSERT INTO events_registryrecord (source, record_id, content_hash, data,
            version, batch_id, created_at, updated_at)
        SELECT 'bench', 'R' || i, md5(i::text), '{}'::jsonb, 1, %s, now(), now()
        FROM generate_series(1, %s) AS i
        """,
        [BATCH_ID, events],
    )
    sql(
        f"""
        INSERT INTO events_lifeevent (event_type, role, source, record_id,
            subject_snils, citizen_id, occurred_on, data, registry_record_id,
            batch_id, created_at, updated_at)
        SELECT t.event_type,
               CASE WHEN t.event_type = 'birth' AND i % 3 = 0 THEN 'father'
                    WHEN t.event_type = 'birth' THEN 'mother' ELSE 'self' END,
               'bench', r.record_id, c.snils, c.id,
               CURRENT_DATE - (i % 30), t.data, r.id, '{BATCH_ID}', now(), now()
        FROM generate_series(1, {events}) AS i
        JOIN events_registryrecord r ON r.record_id = 'R' || i
        JOIN cabinet_citizen c ON c.id = (SELECT min(id) FROM cabinet_citizen)
             + (i::bigint * 7907 % {citizens})
        CROSS JOIN LATERAL (SELECT
            (ARRAY['birth', 'disability', 'payment', 'tax_notice'])[i % 4 + 1] AS event_type,
            CASE i % 4
              WHEN 0 THEN jsonb_build_object('birth_order', i % 4 + 1 + (i / 4) % 3,
                   'stillborn', i % 97 = 0,
                   'act_number', CASE WHEN i % 5 = 0 THEN '' ELSE 'A' || i END,
                   'child_first_name', 'Фёдор', 'child_last_name', 'Петров',
                   'child_middle_name', 'Ильич', 'child_birth_date', CURRENT_DATE::text,
                   'child_sex', 'M', 'place_of_birth', 'г. Тверь',
                   'act_date', CURRENT_DATE::text)
              WHEN 1 THEN jsonb_build_object('group', ((i / 4) % 4 + 1)::text,
                   'established_on', CURRENT_DATE::text,
                   'valid_until', CASE WHEN i % 3 = 0 THEN ''
                        ELSE (CURRENT_DATE + (i % 700))::text END,
                   'next_examination', '')
              WHEN 2 THEN jsonb_build_object('payment_type', 'pension',
                   'amount', ((i % 300) * 100)::text || '.00',
                   'scheduled_on', CURRENT_DATE::text,
                   'status', (ARRAY['scheduled', 'credited', 'needs_clarification'])[i % 3 + 1])
              ELSE jsonb_build_object('inn', '', 'tax_type',
                   CASE WHEN i % 2 = 0 THEN 'property' ELSE 'transport' END,
                   'amount', ((i % 50) * 100)::text, 'due_on', (CURRENT_DATE + 60)::text,
                   'period_year', 2024 + i % 2)
            END AS data) t
        """
    )
    sql("ANALYZE")


def install_rules() -> None:
    users = get_user_model().objects
    author, _ = users.get_or_create(username="bench-author")
    approver, _ = users.get_or_create(username="bench-approver")
    TriggerRule.objects.exclude(code__in=[r[0] for r in RULES]).update(
        current_version=None
    )
    for code, event_type, service, conditions, _sql in RULES:
        rule, _ = TriggerRule.objects.get_or_create(
            code=code,
            defaults={
                "name": code,
                "event_type": event_type,
                "service": Service.objects.get(code=service),
                "conditions": conditions,
                "is_active": True,
                "changed_by": author,
            },
        )
        if rule.has_pending_change:
            approve_rule(rule.pk, approver)


def raw_evaluation() -> int:
    """The same work, written by hand: per rule one INSERT ... SELECT of
    offers with the outbox rows in the same statement."""
    made = 0
    rules = TriggerRule.objects.filter(code__in=[r[0] for r in RULES]).select_related(
        "current_version__service"
    )
    by_code = {rule.code: rule for rule in rules}
    today = timezone.localdate()
    for code, event_type, _service, _conditions, where in RULES:
        rule = by_code[code]
        version = rule.current_version
        prefill = ", ".join(
            f"'{key}', {PREFILL_SQL.get(key, f'e.data->>{chr(39)}{key}{chr(39)}')}"
            for key in version.service.prefill_fields
        )
        # A service granted once: not while the right is in use, and one
        # event per citizen, the earliest.
        once_distinct, once_where, once_order = "", "", ""
        if version.service.granted_once:
            once_distinct = "DISTINCT ON (e.citizen_id)"
            once_where = """
                      AND NOT EXISTS (SELECT 1 FROM offers_offer o
                                      WHERE o.citizen_id = e.citizen_id
                                        AND o.service_id = %(service)s
                                        AND o.status IN ('offered', 'reminded'))
                      AND NOT EXISTS (SELECT 1 FROM offers_application a
                                      WHERE a.citizen_id = e.citizen_id
                                        AND a.service_id = %(service)s
                                        AND a.status <> 'rejected')"""
            once_order = "ORDER BY e.citizen_id, e.occurred_on, e.id"
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH made AS (
                    INSERT INTO offers_offer (citizen_id, service_id, rule_id,
                        rule_version_id, attempt, event_id, status, prefill,
                        created_at, expires_at)
                    SELECT {once_distinct}
                           e.citizen_id, %(service)s, %(rule)s, %(version)s, 1, e.id,
                           'offered', jsonb_build_object({prefill}), %(now)s,
                           %(now)s + make_interval(days => %(days)s)
                    FROM events_lifeevent e
                    JOIN cabinet_citizen c ON c.id = e.citizen_id
                    WHERE e.batch_id = %(batch)s AND e.event_type = %(type)s
                      AND c.proactive_mode AND c.death_date IS NULL
                      AND EXISTS (SELECT 1 FROM consents_consent s
                                  WHERE s.citizen_id = e.citizen_id
                                    AND s.purpose = 'proactive'
                                    AND s.revoked_at IS NULL
                                    AND s.valid_until > %(now)s)
                      AND NOT EXISTS (SELECT 1 FROM offers_serviceoptout x
                                      WHERE x.citizen_id = e.citizen_id
                                        AND x.service_id = %(service)s)
                      AND {where}{once_where}
                    {once_order}
                    ON CONFLICT DO NOTHING
                    RETURNING id, citizen_id
                )
                INSERT INTO notifications_notification (citizen_id, kind, channel,
                    object_key, offer_id, status, subject, body, attempts,
                    last_error, provider_message_id, created_at)
                SELECT m.citizen_id, 'offer_created', ch.channel, 'offer:' || m.id,
                       m.id, 'pending', '', '', 0, '', '', now()
                FROM made m JOIN cabinet_citizen c ON c.id = m.citizen_id
                CROSS JOIN (VALUES ('cabinet'), ('email'), ('sms')) AS ch(channel)
                WHERE ch.channel = 'cabinet'
                   OR (ch.channel = 'email' AND c.email <> '')
                   OR (ch.channel = 'sms' AND c.phone <> '' AND c.phone_is_mobile)
                ON CONFLICT (kind, object_key, channel) DO NOTHING
                """,
                {
                    "service": version.service_id,
                    "rule": rule.pk,
                    "version": version.pk,
                    "now": timezone.now(),
                    "days": version.offer_valid_days,
                    "batch": BATCH_ID,
                    "type": event_type,
                    "today": today,
                },
            )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM offers_offer WHERE rule_id = %s", [rule.pk]
            )
            made += cursor.fetchone()[0]
    return made


RAW_PAYMENT_NOTICES = """
INSERT INTO notifications_notification (citizen_id, kind, channel, object_key,
    status, subject, body, attempts, last_error, provider_message_id, created_at)
SELECT e.citizen_id, 'payment_notice', ch.channel,
       'payment:' || e.id || ':' || (e.data->>'status'),
       'pending', '', '', 0, '', '', now()
FROM events_lifeevent e JOIN cabinet_citizen c ON c.id = e.citizen_id
CROSS JOIN (VALUES ('cabinet'), ('email'), ('sms')) AS ch(channel)
WHERE e.batch_id = %(batch)s AND e.event_type = 'payment'
  AND c.death_date IS NULL AND e.occurred_on >= %(oldest)s
  AND (ch.channel = 'cabinet'
       OR (ch.channel = 'email' AND c.email <> '')
       OR (ch.channel = 'sms' AND c.phone <> '' AND c.phone_is_mobile))
ON CONFLICT (kind, object_key, channel) DO NOTHING
"""


def raw_payment_notices() -> int:
    """The payment notices evaluation writes for the batch's payments
    (``offers.payments.notify_payments``), written by hand."""
    oldest = timezone.localdate() - timezone.timedelta(days=NOTICE_MAX_AGE_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(RAW_PAYMENT_NOTICES, {"batch": BATCH_ID, "oldest": oldest})
        return cursor.rowcount


def raw_evaluation_with_notices() -> int:
    made = raw_evaluation()
    raw_payment_notices()
    return made


def timed(function) -> tuple[float, int]:
    """Run ``function`` in a transaction that is rolled back."""
    with transaction.atomic():
        started = time.perf_counter()
        result = function()
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    generate(args.citizens, args.events)
    print(
        f"generated {args.citizens} citizens, {args.events} events "
        f"in {time.perf_counter() - started:.1f} s"
    )
    install_rules()

    evaluation, raw = [], []
    notices, raw_notices = [], []
    made = raw_made = written = raw_written = 0
    for _ in range(args.rounds):
        seconds, raw_made = timed(raw_evaluation_with_notices)
        raw.append(seconds)
        seconds, made = timed(lambda: evaluate_batch(BATCH_ID))
        evaluation.append(seconds)
        print(
            f"raw_sql {raw[-1]:.3f} s ({raw_made} offers), "
            f"evaluation {evaluation[-1]:.3f} s ({made} offers)"
        )
        # The payment notices alone, the same way.
        seconds, raw_written = timed(raw_payment_notices)
        raw_notices.append(seconds)
        seconds, written = timed(lambda: notify_payments(BATCH_ID))
        notices.append(seconds)
        print(
            f"payment notices: raw_sql {raw_notices[-1]:.3f} s ({raw_written} rows), "
            f"notify_payments {notices[-1]:.3f} s ({written} rows)"
        )
    if made != raw_made:
        print(f"MISMATCH: evaluation made {made} offers, raw SQL {raw_made}")
    if written != raw_written:
        print(f"MISMATCH: {written} payment notices, raw SQL {raw_written}")

    figures = {
        "citizens": args.citizens,
        "events": args.events,
        "rules": len(RULES),
        "offers": made,
        "raw_offers": raw_made,
        "evaluation_s": round(min(evaluation), 3),
        "raw_sql_s": round(min(raw), 3),
        "ratio": round(min(evaluation) / min(raw), 3),
        "payment_notices": written,
        "payment_notices_s": round(min(notices), 3),
        "raw_payment_notices_s": round(min(raw_notices), 3),
        "payment_notices_ratio": round(min(notices) / min(raw_notices), 3),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
