"""Building submitted applications for the agency-side tests, through the
public path: a birth dump is imported, the rules evaluated, the offer
accepted."""

from django.core.management import call_command

from events.services import evaluate_batch
from offers.models import Application, Offer
from offers.services import accept_offer
from tests.helpers import BIRTHS_HEADER, birth

PASSWORD = "correct-horse-battery"


def import_births(write_csv, rows, name="births.csv"):
    """Import birth rows and evaluate the rules over the batch."""
    import io
    import json

    path = write_csv(name, BIRTHS_HEADER, rows)
    out = io.StringIO()
    call_command("import_registry", "births", str(path), "--json", stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    evaluate_batch(summary["batch_id"])
    return summary


def maternity_offer(write_csv, citizen, record_id="B1", **birth_fields) -> Offer:
    import_births(
        write_csv,
        [birth(record_id, citizen.snils, **birth_fields)],
        name=f"{record_id}.csv",
    )
    return Offer.objects.get(
        citizen=citizen, event__record_id=record_id, service__code="maternity-capital"
    )


def submitted_application(write_csv, citizen, record_id="B1") -> Application:
    offer = maternity_offer(write_csv, citizen, record_id)
    return accept_offer(citizen, offer.pk)
