"""The take-up funnel on a known data set: every step counted per rule,
service and channel, and everyone held back counted with the reason."""

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse

from notifications.services import dispatch_pending
from offers import funnel, services
from offers.models import Offer
from tests.applications import import_births
from tests.factories import CitizenFactory
from tests.helpers import birth, login

pytestmark = pytest.mark.django_db
RULE = "maternity-capital-since-2020"


@pytest.fixture
def known_data_set(write_csv, sms_gateway, afternoon):
    """Seven second-child births: three consenting mothers, one without
    consent, one with the proactive mode off, one deceased, one unknown to
    the population registry. Of the offers, two are opened, one confirmed
    and completed."""
    reached = [
        CitizenFactory(with_account=True, consenting=True, first_name=f"Мать{i}")
        for i in range(3)
    ]
    no_consent = CitizenFactory()
    mode_off = CitizenFactory(consenting=True, proactive_mode=False)
    deceased = CitizenFactory(consenting=True, death_date="2026-10-20")
    mothers = [*reached, no_consent, mode_off, deceased]
    rows = [birth(f"B{i}", m.snils) for i, m in enumerate(mothers)]
    rows.append(birth("B-unknown", "112-233-445 95"))
    import_births(write_csv, rows)
    dispatch_pending()

    opener, browser, _silent = reached
    for citizen in (opener, browser):
        client = Client()
        login(client, citizen)
        offer = Offer.objects.get(citizen=citizen)
        client.get(reverse("cabinet:offer-detail", args=[offer.pk]))
        client.get(reverse("cabinet:offer-detail", args=[offer.pk]))  # once counts
    application = services.accept_offer(opener, Offer.objects.get(citizen=opener).pk)
    services.approve_application(application.pk)
    services.complete_application(application.pk)
    return reached


def rule_item(report, code):
    return next(item for item in report.rules if item["rule"].code == code)


def test_the_funnel_counts_each_step_and_who_was_held_back(known_data_set):
    report = funnel.build_report()

    row = rule_item(report, RULE)["row"]
    assert row.counts == {
        "detected": 7,
        "offers": 3,
        "notified": 3,
        "opened": 2,
        "confirmed": 1,
        "completed": 1,
    }
    assert row.held_back == {
        "unknown": 1,
        "deceased": 1,
        "proactive_off": 1,
        "no_consent": 1,
        "other": 0,
    }
    assert all(
        isinstance(row.medians[step], datetime.timedelta)
        for step in ("notified", "opened", "confirmed", "completed")
    )
    assert row.medians["completed"] >= row.medians["confirmed"] >= datetime.timedelta(0)


def test_the_funnel_per_channel_and_per_service(known_data_set):
    report = funnel.build_report()

    channels = {c.label: c.counts for c in rule_item(report, RULE)["channels"]}
    expected = {"notified": 3, "opened": 2, "confirmed": 1, "completed": 1}
    assert channels == {
        "личный кабинет": expected,
        "электронная почта": expected,
        "SMS": expected,
    }

    service = next(
        s for s in report.services if s.label == "Материнский (семейный) капитал"
    )
    assert service.counts["offers"] == 3 and service.counts["completed"] == 1
    assert service.held_back["no_consent"] == 1
    # The pre-2020 version matches none of these 2026 births.
    assert (
        rule_item(report, "maternity-capital-second-child")["row"].counts["detected"]
        == 0
    )


def test_the_funnel_page_is_linked_from_the_admin_index_and_draws_charts(
    known_data_set, admin_client
):
    url = reverse("admin:offers_takeupfunnel_changelist")
    assert url in admin_client.get(reverse("admin:index")).content.decode()

    page = admin_client.get(url).content.decode()

    section = page[page.index("Материнский капитал: ребёнок, рождённый с 2020") :]
    counts = re.findall(
        r'data-step="(\w+)"><td>[^<]*</td><td class="count">(\d+)', section
    )
    assert counts[:6] == [
        ("detected", "7"),
        ("offers", "3"),
        ("notified", "3"),
        ("opened", "2"),
        ("confirmed", "1"),
        ("completed", "1"),
    ]
    assert (
        '<tr data-reason="no_consent"><td>нет действующего согласия</td>'
        '<td class="count">1'
        in section
    )
    assert "<svg" in page and "<rect" in page
    assert "http://" not in page.split("<body")[1].replace("http://www.w3.org", "")


def test_the_funnel_page_is_for_staff_only(client, known_data_set):
    citizen = known_data_set[0]
    login(client, citizen)
    response = client.get(reverse("admin:offers_takeupfunnel_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
