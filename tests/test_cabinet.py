"""The citizen's cabinet through Django's test client."""

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from notifications.models import Notification
from offers.models import Application, Offer
from tests.factories import CitizenFactory
from tests.helpers import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna():
    return CitizenFactory(with_account=True, consenting=True, first_name="Анна")


def test_the_cabinet_asks_for_login(client):
    response = client.get(reverse("cabinet:dashboard"))
    assert response.status_code == 302
    assert reverse("cabinet:login") in response["Location"]


def test_a_citizen_sees_confirms_and_follows_an_offer(client, anna, offer_for):
    offer = offer_for(anna)
    login(client, anna)

    dashboard = client.get(reverse("cabinet:dashboard"))
    assert "Материнский (семейный) капитал" in dashboard.content.decode()

    page = client.get(reverse("cabinet:offer-detail", args=[offer.pk])).content.decode()
    assert anna.last_name in page and "Фёдор" in page
    assert "Почему Вы видите это предложение" in page
    assert "Реестр населения" in page

    response = client.post(reverse("cabinet:offer-confirm", args=[offer.pk]))

    application = Application.objects.get(offer=offer)
    assert response.status_code == 302
    assert response["Location"] == reverse("cabinet:application-detail", args=[application.pk])
    assert application.status == Application.Status.SUBMITTED
    assert application.data["applicant_snils"] == anna.snils
    offer.refresh_from_db()
    assert offer.status == Offer.Status.CONFIRMED

    page = client.get(response["Location"]).content.decode()
    assert application.number in page and "подано" in page.lower()
    kinds = set(
        Notification.objects.filter(application=application).values_list("channel", flat=True)
    )
    assert kinds == {"cabinet", "email", "sms"}


def test_an_offer_can_be_confirmed_only_once(client, anna, offer_for):
    offer = offer_for(anna)
    login(client, anna)
    client.post(reverse("cabinet:offer-confirm", args=[offer.pk]))

    response = client.post(reverse("cabinet:offer-confirm", args=[offer.pk]), follow=True)

    assert Application.objects.filter(offer=offer).count() == 1
    assert "уже нельзя подтвердить" in response.content.decode()


def test_declining_an_offer(client, anna, offer_for):
    offer = offer_for(anna)
    login(client, anna)
    client.post(reverse("cabinet:offer-decline", args=[offer.pk]))
    offer.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED
    assert not Application.objects.exists()


def test_a_citizen_cannot_open_or_confirm_another_citizens_offer(client, anna, offer_for):
    other = CitizenFactory(with_account=True, consenting=True)
    offer = offer_for(other, "B2")
    login(client, anna)

    assert client.get(reverse("cabinet:offer-detail", args=[offer.pk])).status_code == 404
    assert client.post(reverse("cabinet:offer-confirm", args=[offer.pk])).status_code == 404
    assert client.post(reverse("cabinet:offer-decline", args=[offer.pk])).status_code == 404
    offer.refresh_from_db()
    assert offer.status == Offer.Status.OFFERED


def test_a_citizen_cannot_open_another_citizens_application(client, anna, offer_for):
    other = CitizenFactory(with_account=True, consenting=True)
    offer = offer_for(other, "B2")
    login(Client(), other).post(reverse("cabinet:offer-confirm", args=[offer.pk]))
    application = Application.objects.get()
    login(client, anna)
    url = reverse("cabinet:application-detail", args=[application.pk])
    assert client.get(url).status_code == 404


def test_confirming_needs_a_csrf_token(anna, offer_for):
    offer = offer_for(anna)
    client = login(Client(enforce_csrf_checks=False), anna)
    client.handler.enforce_csrf_checks = True
    response = client.post(reverse("cabinet:offer-confirm", args=[offer.pk]))
    assert response.status_code == 403
    assert not Application.objects.exists()


def test_personal_pages_are_not_cached(client, anna):
    login(client, anna)
    response = client.get(reverse("cabinet:dashboard"))
    assert "no-store" in response["Cache-Control"]


def test_the_inbox_lists_what_was_sent(client, anna, offer_for):
    from notifications.services import dispatch_pending

    offer_for(anna)
    dispatch_pending()
    login(client, anna)

    page = client.get(reverse("cabinet:notifications")).content.decode()

    assert "Вам доступна услуга «Материнский (семейный) капитал»" in page
    assert "SMS" in page and "Электронная почта".lower() in page.lower()


def test_the_english_version_of_the_login_page(client):
    client.post(reverse("set_language"), {"language": "en"})
    page = client.get(reverse("cabinet:login")).content.decode()
    assert 'lang="en"' in page


# Corrections on the offer's page ------------------------------------------------

VOID = {"input", "br", "img", "meta", "link", "hr"}


class _Element(HTMLParser):
    """The attributes and text of the element with one id."""

    def __init__(self, element_id):
        super().__init__()
        self.element_id, self.attrs, self.text, self.depth = element_id, None, [], 0

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += tag not in VOID
        elif self.attrs is None and dict(attrs).get("id") == self.element_id:
            self.attrs = dict(attrs)
            self.depth = int(tag not in VOID)

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def element(page, element_id):
    found = _Element(element_id)
    found.feed(page)
    assert found.attrs is not None, f"no element #{element_id}"
    return found.attrs, " ".join("".join(found.text).split())


def described_by(page, field):
    """The texts the field's aria-describedby points at, joined."""
    ids = field.get("aria-describedby", "").split()
    return " ".join(element(page, element_id)[1] for element_id in ids)


def test_a_refused_correction_is_shown_at_its_field_with_what_was_typed(
    client, anna, offer_for
):
    """Regression: the refusal came as a banner at the top of the page and
    the field was reset to the registry's value."""
    offer = offer_for(
        anna, "H1", service="birth-registration", act_number="", act_date=""
    )
    login(client, anna)

    response = client.post(
        reverse("cabinet:offer-confirm", args=[offer.pk]),
        {
            "correct_child_first_name": "Dmitrievna42",
            "correct_child_middle_name": "Ильич",
        },
    )

    page = response.content.decode()
    assert response.status_code == 400
    field, _ = element(page, "correct_child_first_name")
    assert field["value"] == "Dmitrievna42"
    assert field["aria-invalid"] == "true"
    error = described_by(page, field)
    assert "Имя ребёнка" in error and "Dmitrievna42" in error
    other, _ = element(page, "correct_child_middle_name")
    assert other["value"] == "Ильич" and "aria-invalid" not in other
    assert 'class="messages"' not in page
    assert "<title>Ошибка:" in page
    offer.refresh_from_db()
    assert offer.is_open and not Application.objects.exists()


def test_an_emptied_correctable_field_is_refused_naming_it_and_the_registry_value(
    client, anna, offer_for
):
    """Regression: clearing the address filed the application with the
    registry's address, without a word."""
    offer = offer_for(anna)
    login(client, anna)
    url = reverse("cabinet:offer-confirm", args=[offer.pk])

    response = client.post(url, {"correct_applicant_address": ""})

    page = response.content.decode()
    assert response.status_code == 400
    field, _ = element(page, "correct_applicant_address")
    assert field["value"] == "" and field["aria-invalid"] == "true"
    error = described_by(page, field)
    assert "Адрес регистрации" in error and anna.address in error
    assert not Application.objects.exists()

    client.post(url, {"correct_applicant_address": anna.address})

    application = Application.objects.get(offer=offer)
    assert application.data["applicant_address"] == anna.address


def test_a_confirmation_without_the_correction_fields_keeps_the_registry_values(
    client, anna, offer_for
):
    """A form without the inputs (a closed offer's page, an SMS reply)
    corrects nothing."""
    offer = offer_for(anna)
    login(client, anna)

    client.post(reverse("cabinet:offer-confirm", args=[offer.pk]))

    assert Application.objects.get(offer=offer).data["applicant_address"] == (
        anna.address
    )
