"""Approve the shipped rules as their first versions, and ship the services
and rules of the age and time triggers.

The shipped rules were reviewed with this code, so their first version is
recorded with no author and no approver: "shipped by a migration".
"""

import datetime

from django.db import migrations

APPLICANT = [
    "applicant_last_name",
    "applicant_first_name",
    "applicant_middle_name",
    "applicant_birth_date",
    "applicant_snils",
    "applicant_passport_series",
    "applicant_passport_number",
    "applicant_address",
]

SERVICES = [
    {
        "code": "passport-replacement",
        "title": "Замена паспорта гражданина РФ при достижении 20 и 45 лет",
        "agency": "МВД России",
        "description": (
            "Паспорт нужно заменить в течение 90 дней после того, как Вам "
            "исполнилось 20 или 45 лет."
        ),
        "prefill_fields": APPLICANT,
    },
    {
        "code": "tax-payment",
        "title": "Уплата налога по налоговому уведомлению",
        "agency": "ФНС России",
        "description": "Оплата налога онлайн до срока, указанного в уведомлении.",
        "prefill_fields": APPLICANT,
    },
    {
        "code": "disability-reexamination",
        "title": "Запись на переосвидетельствование (МСЭ)",
        "agency": "Социальный фонд России",
        "description": (
            "Запись на медико-социальную экспертизу до окончания срока, на "
            "который установлена инвалидность."
        ),
        "prefill_fields": APPLICANT,
    },
]

RULES = [
    {
        "code": "passport-replacement-20-45",
        "name": "Замена паспорта в 20 и 45 лет",
        "description": (
            "Паспорт гражданина РФ действует до 20 лет, затем до 45 лет "
            "(Постановление Правительства РФ № 828)."
        ),
        "event_type": "age_milestone",
        "service": "passport-replacement",
        "conditions": [{"field": "event.age", "op": "in", "value": [20, 45]}],
        "offer_valid_days": 90,
        "lookback_days": 90,
        "reminder_days_before": 14,
    },
    {
        "code": "tax-due-soon",
        "name": "Срок уплаты налога через 14 дней",
        "description": "По налоговому уведомлению скоро наступает срок уплаты.",
        "event_type": "tax_notice",
        "service": "tax-payment",
        "conditions": [{"field": "event.amount", "op": "gt", "value": 0}],
        "trigger_date_field": "event.due_on",
        "days_before": 14,
        "offer_valid_days": 14,
        "reminder_days_before": 3,
    },
    {
        "code": "disability-reexamination-soon",
        "name": "Переосвидетельствование через 30 дней",
        "description": (
            "Срок переосвидетельствования по решению МСЭ наступает через месяц."
        ),
        "event_type": "disability",
        "service": "disability-reexamination",
        "conditions": [{"field": "event.next_examination", "op": "not_empty"}],
        "trigger_date_field": "event.next_examination",
        "days_before": 30,
        "offer_valid_days": 30,
        "reminder_days_before": 7,
        "reoffer_after_days": 7,
        "reoffer_limit": 1,
    },
]

VERSION_FIELDS = (
    "name",
    "description",
    "event_type",
    "service_id",
    "conditions",
    "is_active",
    "valid_from",
    "valid_until",
    "offer_valid_days",
    "trigger_date_field",
    "days_before",
    "lookback_days",
    "reminder_days_before",
    "reoffer_after_days",
    "reoffer_limit",
)


def forward(apps, schema_editor):
    Service = apps.get_model("offers", "Service")
    TriggerRule = apps.get_model("events", "TriggerRule")
    RuleVersion = apps.get_model("events", "RuleVersion")
    Offer = apps.get_model("offers", "Offer")

    for data in SERVICES:
        Service.objects.update_or_create(code=data["code"], defaults=data)
    for data in RULES:
        data = dict(data, service=Service.objects.get(code=data["service"]))
        TriggerRule.objects.update_or_create(
            code=data["code"], defaults={**data, "is_active": True}
        )

    now = datetime.datetime.now(datetime.UTC)
    for rule in TriggerRule.objects.filter(current_version__isnull=True):
        version = RuleVersion.objects.create(
            rule=rule,
            number=1,
            approved_at=now,
            **{name: getattr(rule, name) for name in VERSION_FIELDS},
        )
        rule.current_version = version
        rule.save(update_fields=["current_version"])
        Offer.objects.filter(rule=rule, rule_version__isnull=True).update(
            rule_version=version
        )


def backward(apps, schema_editor):
    TriggerRule = apps.get_model("events", "TriggerRule")
    RuleVersion = apps.get_model("events", "RuleVersion")
    Offer = apps.get_model("offers", "Offer")
    Service = apps.get_model("offers", "Service")
    Offer.objects.update(rule_version=None)
    TriggerRule.objects.update(current_version=None)
    RuleVersion.objects.all().delete()
    TriggerRule.objects.filter(code__in=[r["code"] for r in RULES]).delete()
    Service.objects.filter(code__in=[s["code"] for s in SERVICES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0005_rule_versions_history_time_triggers"),
        ("offers", "0004_offer_lifecycle_attempts_opt_out"),
    ]
    operations = [migrations.RunPython(forward, backward)]
