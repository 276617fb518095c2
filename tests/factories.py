"""Factories for the test cast. Traits name the states tests need."""

import datetime
import itertools

import factory
from django.contrib.auth import get_user_model

from cabinet.models import Citizen
from consents.services import give_consent
from events.values import snils_check_number

_numbers = itertools.count(2_000_000)


def next_snils() -> str:
    nine = f"{next(_numbers):09d}"
    return nine + f"{snils_check_number(nine):02d}"


def second_factor_code(user) -> str:
    """A fresh single-use backup code for ``user`` (django-otp's static
    device), as a person would read it from their printed list."""
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    device, _ = StaticDevice.objects.get_or_create(user=user, name="backup")
    token = StaticToken.random_token()
    device.token_set.create(token=token)
    return token


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct-horse-battery")


class CitizenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Citizen
        skip_postgeneration_save = True

    snils = factory.LazyFunction(next_snils)
    last_name = "Иванова"
    first_name = "Мария"
    middle_name = "Петровна"
    birth_date = datetime.date(1990, 5, 17)
    sex = Citizen.Sex.FEMALE
    region_code = "77"
    address = "г. Москва, ул. Тверская, д. 1, кв. 2"
    passport_series = "4510"
    passport_number = "123456"
    phone = "+79161234567"
    phone_is_mobile = True
    email = factory.Sequence(lambda n: f"citizen{n}@example.org")

    class Params:
        with_account = factory.Trait(user=factory.SubFactory(UserFactory))
        consenting = factory.Trait(
            consent=factory.PostGeneration(
                lambda citizen, create, extracted, **kw: give_consent(citizen)
            )
        )
        male = factory.Trait(sex=Citizen.Sex.MALE, last_name="Иванов", first_name="Пётр")
