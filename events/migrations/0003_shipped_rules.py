"""The two rules the portal ships with. Officials change them in admin."""

import datetime

from django.db import migrations

RULES = [
    {
        "code": "maternity-capital-second-child",
        "name": "Материнский капитал при рождении второго и следующего ребёнка",
        "description": (
            "Право на материнский капитал возникает при рождении второго или "
            "следующего ребёнка (Федеральный закон № 256-ФЗ)."
        ),
        "event_type": "birth",
        "service": "maternity-capital",
        "conditions": [
            {"field": "event.role", "op": "eq", "value": "mother"},
            {"field": "event.birth_order", "op": "gte", "value": 2},
            {"field": "event.stillborn", "op": "eq", "value": False},
        ],
        "valid_from": datetime.date(2007, 1, 1),
        "offer_valid_days": 60,
    },
    {
        "code": "birth-registration-without-act",
        "name": "Регистрация рождения по сведениям роддома",
        "description": (
            "Роддом сообщил о рождении ребёнка, а запись акта о рождении ещё "
            "не составлена: рождение можно зарегистрировать онлайн."
        ),
        "event_type": "birth",
        "service": "birth-registration",
        "conditions": [
            {"field": "event.role", "op": "in", "value": ["mother", "father"]},
            {"field": "event.act_number", "op": "empty"},
            {"field": "event.stillborn", "op": "eq", "value": False},
        ],
        "valid_from": None,
        "offer_valid_days": 30,
    },
]


def add_rules(apps, schema_editor):
    Service = apps.get_model("offers", "Service")
    TriggerRule = apps.get_model("events", "TriggerRule")
    for data in RULES:
        data = dict(data)
        data["service"] = Service.objects.get(code=data["service"])
        TriggerRule.objects.update_or_create(
            code=data["code"], defaults={**data, "is_active": True}
        )


def remove_rules(apps, schema_editor):
    TriggerRule = apps.get_model("events", "TriggerRule")
    TriggerRule.objects.filter(code__in=[r["code"] for r in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("events", "0002_initial"), ("offers", "0002_services")]
    operations = [migrations.RunPython(add_rules, remove_rules)]
