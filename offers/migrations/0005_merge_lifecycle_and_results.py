from django.db import migrations


class Migration(migrations.Migration):
    """Joins the offer lifecycle (attempts, versions, opt-outs) and the
    agency side (due dates, results, funnel), built side by side."""

    dependencies = [
        ("offers", "0004_lifecycle_results_funnel"),
        ("offers", "0004_offer_lifecycle_attempts_opt_out"),
    ]
    operations = []
