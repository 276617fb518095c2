"""Maternity capital is granted once in a lifetime (256-FZ, art. 3): the
service carries the flag, so no second child is offered it once the right
is in use."""

from django.db import migrations, models


def grant_maternity_capital_once(apps, schema_editor):
    Service = apps.get_model("offers", "Service")
    Service.objects.filter(code="maternity-capital").update(granted_once=True)


class Migration(migrations.Migration):

    dependencies = [
        ("offers", "0013_merge_birth_registration"),
    ]

    operations = [
        migrations.AddField(
            model_name="service",
            name="granted_once",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text=(
                    "Новое предложение не делается, если у гражданина уже есть "
                    "открытое предложение этой услуги или заявление на неё "
                    "(кроме заявления, по которому отказано)."
                ),
                verbose_name="предоставляется гражданину один раз",
            ),
        ),
        migrations.RunPython(grant_maternity_capital_once, migrations.RunPython.noop),
    ]
