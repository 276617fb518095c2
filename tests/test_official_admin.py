"""What officials may change in admin, and what they may not: a citizen's
identity and contacts come from the registries and from the citizen, and
are never edited by hand."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cabinet.models import Citizen
from notifications import inbound
from notifications.models import PushSubscription
from offers.models import Offer
from tests.factories import CitizenFactory
from tests.helpers import login

pytestmark = pytest.mark.django_db

OFFICIALS_PHONE = "+79990000000"


@pytest.fixture
def anna():
    return CitizenFactory(
        with_account=True,
        consenting=True,
        first_name="Анна",
        last_name="Смирнова",
        phone="+79161234567",
        phone_is_mobile=True,
        phone_verified_at=timezone.now(),
    )


def citizen_form(citizen, **changes):
    """The citizen's change form as the admin page posts it."""
    verified = timezone.localtime(citizen.phone_verified_at)
    data = {
        "user": citizen.user_id or "",
        "snils": citizen.snils,
        "last_name": citizen.last_name,
        "first_name": citizen.first_name,
        "middle_name": citizen.middle_name,
        "birth_date": citizen.birth_date.isoformat(),
        "sex": citizen.sex,
        "inn": citizen.inn,
        "passport_series": citizen.passport_series,
        "passport_number": citizen.passport_number,
        "passport_issued_on": "",
        "address": citizen.address,
        "region_code": citizen.region_code,
        "phone": citizen.phone,
        "phone_is_mobile": "on",
        "phone_verified_at_0": verified.date().isoformat(),
        "phone_verified_at_1": verified.strftime("%H:%M:%S"),
        "email": citizen.email,
        "death_date": "",
        "proactive_mode": "on",
        "_save": "Сохранить",
    }
    return {**data, **changes}


def test_an_official_cannot_change_a_citizen_s_phone_or_name(
    admin_client, anna, offer_for
):
    """Regression: an official changed a citizen's phone in admin; the
    verification stayed, the cabinet called the new number «Подтверждён
    Вами по SMS», and «ДА <code>» from it confirmed the citizen's offer.
    The surname edited there showed as the population registry's."""
    offer = offer_for(anna)
    before = Citizen.objects.values().get(pk=anna.pk)
    url = reverse("admin:cabinet_citizen_change", args=[anna.pk])

    page = admin_client.get(url)
    response = admin_client.post(
        url, citizen_form(anna, phone=OFFICIALS_PHONE, last_name="Подменова")
    )

    assert page.status_code == 200
    assert 'name="phone"' not in page.content.decode()
    assert 'name="last_name"' not in page.content.decode()
    assert response.status_code == 403
    assert Citizen.objects.values().get(pk=anna.pk) == before

    assert inbound.handle_reply(OFFICIALS_PHONE, f"ДА {offer.short_code}") == (
        inbound.UNKNOWN_NUMBER
    )
    offer.refresh_from_db()
    assert offer.status == Offer.Status.OFFERED

    profile = login(Client(), anna).get(reverse("cabinet:profile")).content.decode()
    assert OFFICIALS_PHONE not in profile and "Подменова" not in profile


def test_citizens_and_their_push_subscriptions_are_not_made_or_removed_by_hand(
    admin_client, anna
):
    subscription = PushSubscription.objects.create(
        citizen=anna, endpoint="https://push.example/anna", p256dh="k", auth="a"
    )

    refused = [
        admin_client.post(reverse("admin:cabinet_citizen_add"), citizen_form(anna)),
        admin_client.post(
            reverse("admin:cabinet_citizen_delete", args=[anna.pk]), {"post": "yes"}
        ),
        admin_client.post(
            reverse("admin:notifications_pushsubscription_add"),
            {"citizen": anna.pk, "endpoint": "https://push.example/official",
             "p256dh": "k", "auth": "a"},
        ),
        admin_client.post(
            reverse(
                "admin:notifications_pushsubscription_change", args=[subscription.pk]
            ),
            {"citizen": anna.pk, "endpoint": "https://push.example/official",
             "p256dh": "k", "auth": "a"},
        ),
    ]

    assert [response.status_code for response in refused] == [403] * 4
    assert Citizen.objects.filter(pk=anna.pk).exists()
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [
        "https://push.example/anna"
    ]
