"""Rows of the registry formats for tests, with valid identifiers."""

from tests.factories import next_snils

POPULATION_HEADER = [
    "record_id", "snils", "last_name", "first_name", "middle_name", "birth_date",
    "sex", "inn", "passport_series", "passport_number", "passport_issued_on",
    "address", "region_code", "phone", "email", "death_date",
]
BIRTHS_HEADER = [
    "record_id", "child_last_name", "child_first_name", "child_middle_name",
    "child_birth_date", "child_sex", "child_snils", "mother_snils", "father_snils",
    "birth_order", "place_of_birth", "act_number", "act_date", "stillborn",
]


def person(record_id, snils=None, **overrides):
    row = {
        "record_id": record_id,
        "snils": snils or next_snils(),
        "last_name": "Петрова",
        "first_name": "Алёна",
        "middle_name": "Игоревна",
        "birth_date": "15.03.1992",
        "sex": "Ж",
        "inn": "500100732259",
        "passport_series": "4512",
        "passport_number": "654321",
        "passport_issued_on": "2012-04-01",
        "address": "г. Тверь, ул. Советская, д. 5",
        "region_code": "69",
        "phone": "8 (912) 345-67-89",
        "email": "alyona@example.org",
        "death_date": "",
    }
    row.update(overrides)
    return [row[name] for name in POPULATION_HEADER]


def birth(record_id, mother_snils, **overrides):
    row = {
        "record_id": record_id,
        "child_last_name": "Петров",
        "child_first_name": "Фёдор",
        "child_middle_name": "Ильич",
        "child_birth_date": "2026-10-01",
        "child_sex": "M",
        "child_snils": "",
        "mother_snils": mother_snils,
        "father_snils": "",
        "birth_order": "2",
        "place_of_birth": "г. Тверь",
        "act_number": "120269000123",
        "act_date": "2026-10-05",
        "stillborn": "",
    }
    row.update(overrides)
    return [row[name] for name in BIRTHS_HEADER]


PASSWORD = "correct-horse-battery"


def login(client, citizen_or_user):
    """Password, then a one-time backup code: both factors, as a person
    signs in. Returns the client."""
    from django.urls import reverse

    from tests.factories import second_factor_code

    user = getattr(citizen_or_user, "user", citizen_or_user)
    response = client.post(
        reverse("cabinet:login"), {"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    response = client.post(
        reverse("cabinet:otp-verify"), {"token": second_factor_code(user)}
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def turn_back(client, clock: str, limit: float) -> None:
    """Puts one of the session's clocks (``cabinet_login_at``,
    ``cabinet_seen_at``, ``cabinet_reauth_at``) just past ``limit`` seconds
    ago, as if that long had passed."""
    import time

    session = client.session
    session[clock] = time.time() - limit - 5
    session.save()


def official_login(client, user):
    """An official signs in to the admin: password and a one-time code from
    a backup-code device, through the admin's own login form."""
    from tests.factories import second_factor_code

    token = second_factor_code(user)
    device = user.staticdevice_set.get()
    response = client.post(
        "/admin/login/?next=/admin/",
        {
            "username": user.username,
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": token,
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return client
DISABILITY_HEADER = [
    "record_id", "snils", "group", "established_on", "valid_until", "cause", "office",
]
DEATHS_HEADER = [
    "record_id", "snils", "last_name", "first_name", "middle_name", "birth_date",
    "passport_series", "passport_number", "death_date",
]
PAYMENTS_HEADER = ["record_id", "snils", "payment_type", "amount", "scheduled_on", "status"]
TAX_HEADER = ["record_id", "inn", "tax_type", "amount", "due_on", "period_year"]


def death(record_id, snils="", **overrides):
    row = {
        "record_id": record_id,
        "snils": snils,
        "last_name": "Иванова",
        "first_name": "Мария",
        "middle_name": "Петровна",
        "birth_date": "17.05.1990",
        "passport_series": "",
        "passport_number": "",
        "death_date": "2026-11-20",
    }
    row.update(overrides)
    return [row[name] for name in DEATHS_HEADER]
