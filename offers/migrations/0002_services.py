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
CHILD = [
    "child_last_name",
    "child_first_name",
    "child_middle_name",
    "child_birth_date",
    "child_sex",
]

SERVICES = [
    {
        "code": "maternity-capital",
        "title": "Материнский (семейный) капитал",
        "agency": "Социальный фонд России",
        "description": (
            "Сертификат на материнский (семейный) капитал: средства можно "
            "направить на жильё, образование детей или пенсию матери."
        ),
        "prefill_fields": APPLICANT + CHILD + ["birth_order", "act_number", "act_date"],
    },
    {
        "code": "birth-registration",
        "title": "Государственная регистрация рождения",
        "agency": "Органы ЗАГС",
        "description": (
            "Регистрация рождения ребёнка и выдача свидетельства о рождении "
            "без визита в ЗАГС."
        ),
        "prefill_fields": APPLICANT + CHILD + ["place_of_birth"],
    },
]


def add_services(apps, schema_editor):
    Service = apps.get_model("offers", "Service")
    for data in SERVICES:
        Service.objects.update_or_create(code=data["code"], defaults=data)


def remove_services(apps, schema_editor):
    Service = apps.get_model("offers", "Service")
    Service.objects.filter(code__in=[s["code"] for s in SERVICES]).delete()


class Migration(migrations.Migration):
    dependencies = [("offers", "0001_initial")]
    operations = [migrations.RunPython(add_services, remove_services)]
