"""Names of the usual payment codes, and the tax reminder's pre-filled
data: the tax, its year, amount and due date from the notice."""

from django.db import migrations

SOCIAL_FUND = "Социальный фонд России"
SOCIAL_PROTECTION = "Орган социальной защиты населения"

PAYMENT_TYPES = [
    ("child_benefit", "Единое пособие на детей", SOCIAL_FUND),
    ("birth_allowance", "Единовременное пособие при рождении ребёнка", SOCIAL_FUND),
    ("childcare_allowance", "Пособие по уходу за ребёнком", SOCIAL_FUND),
    ("maternity_capital", "Материнский (семейный) капитал", SOCIAL_FUND),
    ("pension", "Пенсия", SOCIAL_FUND),
    ("old_age_pension", "Страховая пенсия по старости", SOCIAL_FUND),
    ("disability_pension", "Пенсия по инвалидности", SOCIAL_FUND),
    ("edv", "Ежемесячная денежная выплата", SOCIAL_FUND),
    (
        "housing_subsidy",
        "Субсидия на оплату жилого помещения и коммунальных услуг",
        SOCIAL_PROTECTION,
    ),
    (
        "utilities_compensation",
        "Компенсация расходов на оплату жилищно-коммунальных услуг",
        SOCIAL_PROTECTION,
    ),
]

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
TAX = ["tax_type", "tax_period_year", "tax_amount", "tax_due_on", "tax_inn"]


def forward(apps, schema_editor):
    PaymentType = apps.get_model("offers", "PaymentType")
    Service = apps.get_model("offers", "Service")
    for code, title, agency in PAYMENT_TYPES:
        PaymentType.objects.update_or_create(
            code=code, defaults={"title": title, "agency": agency}
        )
    Service.objects.filter(code="tax-payment").update(
        prefill_fields=TAX + APPLICANT[:3] + ["applicant_snils"]
    )


def backward(apps, schema_editor):
    PaymentType = apps.get_model("offers", "PaymentType")
    Service = apps.get_model("offers", "Service")
    PaymentType.objects.filter(code__in=[code for code, *_ in PAYMENT_TYPES]).delete()
    Service.objects.filter(code="tax-payment").update(prefill_fields=APPLICANT)


class Migration(migrations.Migration):
    dependencies = [
        ("offers", "0009_payments_receipts_bank_details_statements"),
        # The tax-payment service is shipped there.
        ("events", "0006_shipped_versions_age_and_time_rules"),
    ]
    operations = [migrations.RunPython(forward, backward)]
