"""Maternity capital as two dated versions of the rule.

Federal Law 35-FZ of 01.03.2020 changed 256-FZ from 2020-01-01: the first
child born since then gives the right, with its own amount. The child's
birth date (``event.occurred_on``) decides which version applies, so a birth
before 2020 that is reported late is still judged by the old law: the old
version keeps no end date of its own, and each version's conditions bound
the birth dates it covers. The amounts live in the description and in the
offer's pre-filled ``capital_amount`` (offers.prefill).
"""

import datetime

from django.db import migrations

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

BEFORE_2020 = {
    "code": "maternity-capital-second-child",
    "name": "Материнский капитал: второй и следующий ребёнок, рождённый до 2020 года",
    "description": (
        "Право на материнский капитал возникает при рождении второго или "
        "следующего ребёнка (Федеральный закон № 256-ФЗ в редакции до "
        "01.01.2020). Размер капитала — 453 026 руб."
    ),
    "conditions": [
        {"field": "event.role", "op": "eq", "value": "mother"},
        {"field": "event.birth_order", "op": "gte", "value": 2},
        {"field": "event.stillborn", "op": "eq", "value": False},
        {"field": "event.occurred_on", "op": "lt", "value": "2020-01-01"},
    ],
    "valid_from": datetime.date(2007, 1, 1),
}
SINCE_2020 = {
    "code": "maternity-capital-since-2020",
    "name": "Материнский капитал: ребёнок, рождённый с 2020 года, начиная с первого",
    "description": (
        "С 1 января 2020 года право на материнский капитал даёт рождение "
        "первого ребёнка (Федеральный закон № 256-ФЗ в редакции "
        "Федерального закона № 35-ФЗ). Размер капитала на первого ребёнка — "
        "466 617 руб., на второго, если на первого сертификат не выдавался, — "
        "616 617 руб.; с учётом ежегодной индексации сумму уточнит Социальный "
        "фонд."
    ),
    "event_type": "birth",
    "conditions": [
        {"field": "event.role", "op": "eq", "value": "mother"},
        {"field": "event.birth_order", "op": "gte", "value": 1},
        {"field": "event.stillborn", "op": "eq", "value": False},
        {"field": "event.occurred_on", "op": "gte", "value": "2020-01-01"},
    ],
    "valid_from": datetime.date(2020, 1, 1),
    "offer_valid_days": 60,
}
OLD_BEFORE_2020 = {
    "name": "Материнский капитал при рождении второго и следующего ребёнка",
    "description": (
        "Право на материнский капитал возникает при рождении второго или "
        "следующего ребёнка (Федеральный закон № 256-ФЗ)."
    ),
    "conditions": BEFORE_2020["conditions"][:3],
}


def add_versions(apps, schema_editor):
    Service = apps.get_model("offers", "Service")
    TriggerRule = apps.get_model("events", "TriggerRule")
    service = Service.objects.get(code="maternity-capital")
    if "capital_amount" not in service.prefill_fields:
        service.prefill_fields = [*service.prefill_fields, "capital_amount"]
        service.save(update_fields=["prefill_fields"])

    old = dict(BEFORE_2020)
    TriggerRule.objects.filter(code=old.pop("code")).update(**old)
    new = dict(SINCE_2020)
    TriggerRule.objects.update_or_create(
        code=new.pop("code"), defaults={**new, "service": service, "is_active": True}
    )

    # Rules take effect through approved versions: the law's change is
    # shipped reviewed, as version 2 of the old rule and 1 of the new one.
    RuleVersion = apps.get_model("events", "RuleVersion")
    now = datetime.datetime.now(datetime.UTC)
    for code in (BEFORE_2020["code"], SINCE_2020["code"]):
        rule = TriggerRule.objects.get(code=code)
        last = RuleVersion.objects.filter(rule=rule).order_by("-number").first()
        version = RuleVersion.objects.create(
            rule=rule,
            number=(last.number + 1) if last else 1,
            approved_at=now,
            **{name: getattr(rule, name) for name in VERSION_FIELDS},
        )
        rule.current_version = version
        rule.save(update_fields=["current_version"])


def remove_versions(apps, schema_editor):
    Service = apps.get_model("offers", "Service")
    TriggerRule = apps.get_model("events", "TriggerRule")
    RuleVersion = apps.get_model("events", "RuleVersion")
    old = TriggerRule.objects.get(code=BEFORE_2020["code"])
    old.current_version = (
        RuleVersion.objects.filter(rule=old, number=1).first()
    )
    old.save(update_fields=["current_version"])
    RuleVersion.objects.filter(rule=old, number__gt=1, offers__isnull=True).delete()
    TriggerRule.objects.filter(code=SINCE_2020["code"], offers__isnull=True).delete()
    TriggerRule.objects.filter(code=BEFORE_2020["code"]).update(**OLD_BEFORE_2020)
    service = Service.objects.get(code="maternity-capital")
    service.prefill_fields = [
        f for f in service.prefill_fields if f != "capital_amount"
    ]
    service.save(update_fields=["prefill_fields"])


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0006_shipped_versions_age_and_time_rules"),
        ("offers", "0005_merge_lifecycle_and_results"),
    ]
    operations = [migrations.RunPython(add_versions, remove_versions)]
