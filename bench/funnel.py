"""Benchmark: the take-up funnel report, set-based, against a per-offer loop.

    .venv/bin/python bench/funnel.py --births 20000

Builds a throwaway database on the embedded server (data under
.data/bench/), imports N mothers and N second-child births through the real
importer, evaluates the rules, then moves the offers along the funnel in SQL
(all notified, half opened, a fifth confirmed, a tenth completed). It then
times ``offers.funnel.build_report`` and, as the baseline, the same counts
computed one offer at a time through the ORM, checks both agree, and issues
and verifies result PDFs. The last line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PORTAL_DATA_DIR", str(ROOT / ".data" / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proactive_portal.settings_test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

RULE = "maternity-capital-since-2020"


def write_dumps(folder: Path, births: int) -> tuple[Path, Path]:
    from tests.factories import next_snils
    from tests.helpers import BIRTHS_HEADER, POPULATION_HEADER, birth, person

    population, births_path = folder / "population.csv", folder / "births.csv"
    with (
        open(population, "w", newline="") as p,
        open(births_path, "w", newline="") as b,
    ):
        people, events = csv.writer(p, delimiter=";"), csv.writer(b, delimiter=";")
        people.writerow(POPULATION_HEADER)
        events.writerow(BIRTHS_HEADER)
        for i in range(births):
            snils = next_snils()
            people.writerow(person(f"P{i}", snils, sex="Ж"))
            events.writerow(birth(f"B{i}", snils))
    return population, births_path


def move_along_the_funnel() -> None:
    """All offers notified, every 2nd opened, every 5th confirmed, every
    10th completed: set-based, so the data set is built fast."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE notifications_notification SET status = 'sent', "
            "sent_at = created_at + interval '30 seconds'"
        )
        cursor.execute(
            "UPDATE offers_offer SET opened_at = created_at + interval '2 hours' "
            "WHERE id % 2 = 0"
        )
        cursor.execute(
            "UPDATE offers_offer SET status = 'confirmed', "
            "decided_at = created_at + interval '3 hours' WHERE id % 10 IN (0, 5)"
        )
        cursor.execute(
            """
            INSERT INTO offers_application (offer_id, citizen_id, service_id, number,
                status, data, submitted_at, updated_at, due_on)
            SELECT id, citizen_id, service_id, 'BENCH-' || id,
                   CASE WHEN id % 10 = 0 THEN 'completed' ELSE 'submitted' END,
                   prefill, decided_at, decided_at,
                   (decided_at + interval '10 days')::date
            FROM offers_offer WHERE status = 'confirmed'
            """
        )
        cursor.execute(
            """
            INSERT INTO offers_applicationstatuschange (application_id, status, note,
                changed_at)
            SELECT id, 'completed', '', submitted_at + interval '2 days'
            FROM offers_application WHERE status = 'completed'
            """
        )


def per_offer_counts(rule) -> dict[str, int]:
    """The baseline: the offer steps computed one offer at a time."""
    from notifications.models import Notification
    from offers.models import Application, Offer

    counts = dict.fromkeys(
        ("offers", "notified", "opened", "confirmed", "completed"), 0
    )
    for offer in Offer.objects.filter(rule=rule):
        counts["offers"] += 1
        sent = Notification.objects.filter(
            offer=offer, kind="offer_created", status="sent"
        ).exists()
        counts["notified"] += sent
        counts["opened"] += offer.opened_at is not None
        counts["confirmed"] += offer.status == "confirmed"
        counts["completed"] += Application.objects.filter(
            offer=offer, status="completed"
        ).exists()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--births", type=int, default=20000)
    parser.add_argument("--documents", type=int, default=200)
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if not os.environ.get("DATABASE_URL"):
            from django.conf import settings

            from proactive_portal import embedded

            connection.close()
            embedded.stop(Path(settings.DATA_DIR))


def run(args) -> None:
    from events.models import TriggerRule
    from events.services import evaluate_batch, import_registry
    from offers import funnel, services
    from offers.models import Application

    with tempfile.TemporaryDirectory() as folder:
        population, births = write_dumps(Path(folder), args.births)
        import_registry("population", population)
        from cabinet.models import Citizen
        from consents.models import Consent

        now = time.time()
        Consent.objects.bulk_create(
            Consent(
                citizen_id=pk,
                text_version="bench",
                valid_until=django.utils.timezone.now()
                + django.utils.timezone.timedelta(days=365),
            )
            for pk in Citizen.objects.values_list("pk", flat=True)[
                : args.births * 9 // 10
            ]
        )
        started = time.perf_counter()
        summary = import_registry("births", births)
        evaluate_batch(summary.batch_id)
        import_and_evaluate = time.perf_counter() - started
    move_along_the_funnel()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # freshly loaded tables: give the planner stats
    rule = TriggerRule.objects.get(code=RULE)

    started = time.perf_counter()
    report = funnel.build_report()
    report_seconds = time.perf_counter() - started
    row = next(item["row"] for item in report.rules if item["rule"].code == RULE)

    started = time.perf_counter()
    baseline = per_offer_counts(rule)
    baseline_seconds = time.perf_counter() - started
    assert {k: row.counts[k] for k in baseline} == baseline, (row.counts, baseline)

    # Result PDFs: issue and verify a sample through the services.
    pks = list(
        Application.objects.filter(status="submitted").values_list("pk", flat=True)[
            : args.documents
        ]
    )
    started = time.perf_counter()
    documents = []
    for pk in pks:
        services.approve_application(pk)
        documents.append(services.complete_application(pk))
    issue_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for document in documents:
        with document.file.open("rb") as handle:
            assert services.verify_document(
                document.verification_code, handle.read()
            ).genuine
    verify_seconds = time.perf_counter() - started

    figures = {
        "births": args.births,
        "offers": row.counts["offers"],
        "held_back_no_consent": row.held_back["no_consent"],
        "import_and_evaluate_s": round(import_and_evaluate, 3),
        "funnel_report_s": round(report_seconds, 3),
        "per_offer_baseline_s": round(baseline_seconds, 3),
        "ratio": round(baseline_seconds / report_seconds, 1),
        "documents": len(documents),
        "documents_issued_per_s": round(len(documents) / issue_seconds, 1),
        "documents_verified_per_s": round(len(documents) / verify_seconds, 1),
        "setup_s": round(time.time() - now, 1),
    }
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
