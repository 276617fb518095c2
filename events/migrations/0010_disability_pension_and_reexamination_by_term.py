"""The disability pension, offered from a ФГИС ФРИ record, and the
re-examination reminder counted down to the end of the disability term.

Shipped reviewed, as migrations 0006 and 0007 do: the pension rule's first
version and the reminder's next one are recorded as approved, with no
author ("shipped by a migration").

The reminder's version 1 counted down to ``next_examination`` only, which
CSV dumps of the register do not carry: a citizen whose record named just
the term's end was never reminded. The new version counts down to
``event.reexamination_due`` (the examination date, else the term's end)
and reminds once: no second message before expiry, no repeat after a
decline.
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
DISABILITY = [
    "disability_group",
    "disability_established_on",
    "disability_valid_until",
    "disability_cause",
    "disability_office",
]

SERVICE = {
    "code": "disability-pension",
    "title": "Пенсия по инвалидности",
    "agency": "Социальный фонд России",
    "description": (
        "Страховая или социальная пенсия по инвалидности. Заявление "
        "заполнено по сведениям ФГИС ФРИ; выберите, как получать пенсию, и "
        "подпишите заявление кодом из SMS."
    ),
    "prefill_fields": APPLICANT + DISABILITY,
    "processing_days": 10,
    "signature_required": True,
}

PENSION_RULE = {
    "code": "disability-pension-fri",
    "name": "Пенсия по инвалидности по сведениям ФГИС ФРИ",
    "description": (
        "Медико-социальная экспертиза установила Вам инвалидность: у Вас "
        "есть право на пенсию по инвалидности (Федеральные законы № 400-ФЗ "
        "и № 166-ФЗ). Пенсию можно назначить за время до двенадцати месяцев "
        "до подачи заявления."
    ),
    "event_type": "disability",
    "conditions": [
        {"field": "event.role", "op": "eq", "value": "self"},
        {"field": "event.group", "op": "in", "value": ["1", "2", "3"]},
    ],
    "offer_valid_days": 60,
    "lookback_days": 365,
    "reminder_days_before": 7,
}

REEXAMINATION = {
    "code": "disability-reexamination-soon",
    "name": "Переосвидетельствование: до конца срока инвалидности 30 дней",
    "description": (
        "Срок, на который установлена инвалидность, заканчивается через "
        "месяц: запишитесь на медико-социальную экспертизу заранее, чтобы "
        "выплаты не прервались."
    ),
    "conditions": [{"field": "event.reexamination_due", "op": "not_empty"}],
    "trigger_date_field": "event.reexamination_due",
    "days_before": 30,
    "offer_valid_days": 30,
    "reminder_days_before": 0,
    "reoffer_after_days": None,
    "reoffer_limit": 0,
}
REEXAMINATION_V1 = {
    "name": "Переосвидетельствование через 30 дней",
    "description": (
        "Срок переосвидетельствования по решению МСЭ наступает через месяц."
    ),
    "conditions": [{"field": "event.next_examination", "op": "not_empty"}],
    "trigger_date_field": "event.next_examination",
    "reminder_days_before": 7,
    "reoffer_after_days": 7,
    "reoffer_limit": 1,
}

# The fields a RuleVersion copies from its rule, as in migration 0006.
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


def _approve(apps, rule):
    RuleVersion = apps.get_model("events", "RuleVersion")
    last = RuleVersion.objects.filter(rule=rule).order_by("-number").first()
    version = RuleVersion.objects.create(
        rule=rule,
        number=(last.number + 1) if last else 1,
        approved_at=datetime.datetime.now(datetime.UTC),
        **{name: getattr(rule, name) for name in VERSION_FIELDS},
    )
    rule.current_version = version
    rule.save(update_fields=["current_version"])


def forward(apps, schema_editor):
    Service = apps.get_model("offers", "Service")
    TriggerRule = apps.get_model("events", "TriggerRule")

    data = dict(SERVICE)
    service, _ = Service.objects.update_or_create(code=data.pop("code"), defaults=data)
    data = dict(PENSION_RULE)
    TriggerRule.objects.update_or_create(
        code=data.pop("code"),
        defaults={**data, "service": service, "is_active": True},
    )
    _approve(apps, TriggerRule.objects.get(code=PENSION_RULE["code"]))

    data = dict(REEXAMINATION)
    code = data.pop("code")
    TriggerRule.objects.filter(code=code).update(**data)
    _approve(apps, TriggerRule.objects.get(code=code))


def backward(apps, schema_editor):
    Service = apps.get_model("offers", "Service")
    TriggerRule = apps.get_model("events", "TriggerRule")
    RuleVersion = apps.get_model("events", "RuleVersion")

    rule = TriggerRule.objects.get(code=REEXAMINATION["code"])
    rule.current_version = RuleVersion.objects.filter(rule=rule, number=1).first()
    rule.save(update_fields=["current_version"])
    RuleVersion.objects.filter(rule=rule, number__gt=1, offers__isnull=True).delete()
    TriggerRule.objects.filter(pk=rule.pk).update(**REEXAMINATION_V1)

    pension = TriggerRule.objects.filter(code=PENSION_RULE["code"], offers__isnull=True)
    TriggerRule.objects.filter(pk__in=pension.values("pk")).update(current_version=None)
    RuleVersion.objects.filter(rule__in=pension).delete()
    pension.delete()
    Service.objects.filter(code=SERVICE["code"], offers__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0009_alter_trigger_date_field_reexamination_due"),
        ("offers", "0009_signature_and_pension_award"),
    ]
    operations = [migrations.RunPython(forward, backward)]
