"""Model-level factories for life events and rules, independent of the
import: tests of evaluation create exactly the events they need."""

import datetime
import hashlib
import itertools

import factory

from events.models import ImportBatch, LifeEvent, RegistryRecord, Source, TriggerRule
from events.services import approve_rule
from offers.models import Service
from tests.factories import CitizenFactory, UserFactory

_records = itertools.count(1)

SOURCE_OF = {
    "birth": Source.BIRTHS,
    "disability": Source.DISABILITY,
    "death": Source.DEATHS,
    "payment": Source.PAYMENTS,
    "tax_notice": Source.TAX,
    "age_milestone": Source.POPULATION,
}


class ImportBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportBatch

    source = Source.BIRTHS
    file_format = "csv"
    file_name = "test.csv"
    file_sha256 = factory.Sequence(
        lambda n: hashlib.sha256(str(n).encode()).hexdigest()
    )
    status = ImportBatch.Status.COMPLETED


def make_event(
    citizen=None,
    event_type="birth",
    role="mother",
    occurred_on=None,
    batch=None,
    **data,
) -> LifeEvent:
    """One life event with its registry record, as the import would store it."""
    source = SOURCE_OF[event_type]
    batch = batch or ImportBatchFactory(source=source)
    record_id = f"T{next(_records)}"
    record = RegistryRecord.objects.create(
        source=source,
        record_id=record_id,
        content_hash=record_id,
        data=data,
        batch=batch,
    )
    return LifeEvent.objects.create(
        event_type=event_type,
        role=role,
        source=source,
        record_id=record_id,
        subject_snils=citizen.snils if citizen else "00000000000",
        citizen=citizen,
        occurred_on=occurred_on or datetime.date(2026, 10, 1),
        data=data,
        registry_record=record,
        batch=batch,
    )


def birth_data(**overrides) -> dict:
    data = {
        "child_last_name": "Петров",
        "child_first_name": "Фёдор",
        "child_middle_name": "Ильич",
        "child_birth_date": "2026-10-01",
        "child_sex": "M",
        "child_snils": "",
        "mother_snils": "",
        "father_snils": "",
        "birth_order": 2,
        "place_of_birth": "г. Тверь",
        "act_number": "1",
        "act_date": "2026-10-05",
        "stillborn": False,
    }
    data.update(overrides)
    return data


def make_rule(author=None, approver=None, approve=True, **fields) -> TriggerRule:
    """A rule saved by ``author`` and, unless ``approve`` is False, approved
    by a second official."""
    author = author or UserFactory(username="author", is_staff=True)
    defaults = {
        "name": "Тестовое правило",
        "code": f"test-{next(_records)}",
        "event_type": "birth",
        "service": Service.objects.get(code="maternity-capital"),
        "conditions": [],
        "is_active": True,
        "offer_valid_days": 10,
        "reminder_days_before": 3,
    }
    defaults.update(fields)
    rule = TriggerRule(changed_by=author, **defaults)
    rule.save()
    if approve:
        approve_rule(
            rule.pk, approver or UserFactory(username="approver", is_staff=True)
        )
        rule.refresh_from_db()
    return rule


__all__ = ["CitizenFactory", "make_event", "make_rule", "birth_data"]
