from django.db import migrations, models

# The names the shipped services' SMS carry.
SHORT_TITLES = {
    "maternity-capital": "Материнский капитал",
    "birth-registration": "Регистрация рождения",
    "passport-replacement": "Замена паспорта",
    "tax-payment": "Уплата налога",
    "disability-reexamination": "Переосвидетельствование (МСЭ)",
}


def add_short_titles(apps, schema_editor):
    Service = apps.get_model("offers", "Service")
    for code, short_title in SHORT_TITLES.items():
        Service.objects.filter(code=code, short_title="").update(
            short_title=short_title
        )


class Migration(migrations.Migration):
    # After the events app's migrations that ship services of their own.
    dependencies = [
        ("offers", "0008_offer_short_code"),
        ("events", "0008_merge_import_and_rules"),
    ]

    operations = [
        migrations.AddField(
            model_name="service",
            name="short_title",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                max_length=40,
                verbose_name="краткое название (для SMS)",
            ),
        ),
        migrations.RunPython(add_short_titles, migrations.RunPython.noop),
    ]
