"""Registration, email confirmation, the second factor, sessions and the
limits on guessing, through the HTTP interface."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from cabinet.models import Citizen
from tests.factories import CitizenFactory, second_factor_code
from tests.helpers import PASSWORD, login, turn_back

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Kalina-malina-2026"
NOT_FOUND = "Не удалось зарегистрироваться с этими данными"


def register(client, citizen, **overrides):
    data = {
        "snils": f"{citizen.snils[:3]}-{citizen.snils[3:6]}-{citizen.snils[6:9]} "
        f"{citizen.snils[9:]}",
        "passport_series": citizen.passport_series,
        "passport_number": citizen.passport_number,
        "birth_date": citizen.birth_date.strftime("%d.%m.%Y"),
        "email": "maria@example.org",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    data.update(overrides)
    return client.post(reverse("cabinet:register"), data)


def confirmation_link(message) -> str:
    return re.search(r"http://testserver(/register/confirm/\S+/)", message.body)[1]


def totp_code(device, offset=0) -> str:
    code = totp(
        device.bin_key, step=device.step, t0=device.t0, digits=device.digits,
        drift=offset,
    )
    return f"{code:06d}"


# Email and SMS leave on commit: these tests commit. Serialized rollback
# restores the data the migrations ship, as the worker tests expect.
commits = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@commits
def test_registering_matches_the_registry_and_confirms_email_by_a_link(client):
    citizen = CitizenFactory()

    response = register(client, citizen)

    assert response.status_code == 302
    citizen.refresh_from_db()
    assert citizen.user is not None and not citizen.user.is_active
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["maria@example.org"]
    link = confirmation_link(mail.outbox[0])
    assert citizen.snils not in link and "maria" not in link

    assert (
        client.post(
            reverse("cabinet:login"),
            {"username": "maria@example.org", "password": NEW_PASSWORD},
        ).status_code
        == 200
    ), "an unconfirmed account cannot sign in"
    client.get(link)
    citizen.user.refresh_from_db()
    assert citizen.user.is_active


@pytest.mark.parametrize(
    "change",
    [
        {"passport_number": "999999"},
        {"birth_date": "01.01.1970"},
        {"snils": "112-233-445 95"},
    ],
)
def test_a_mismatch_gives_the_same_answer_as_an_unknown_person(client, change):
    citizen = CitizenFactory()
    response = register(client, citizen, **change)
    assert response.status_code == 200
    assert NOT_FOUND in response.content.decode()
    assert not mail.outbox and Citizen.objects.get(pk=citizen.pk).user is None


def test_a_snils_with_a_wrong_check_number_is_told_so(client):
    """Regression: a SNILS of 11 digits with a wrong check number was
    answered "it has 11 digits", which the person had typed."""
    citizen = CitizenFactory()
    check = int(citizen.snils[9:])
    wrong = f"{citizen.snils[:9]}{(check + 1) % 100:02d}"

    response = register(client, citizen, snils=wrong)

    page = response.content.decode()
    assert response.status_code == 200
    assert "контрольное число" in page and "в нём 11 цифр" not in page
    assert Citizen.objects.get(pk=citizen.pk).user is None

    client.post(reverse("set_language"), {"language": "en"})
    page = register(client, citizen, snils=wrong).content.decode()
    assert "check number" in page and "it has 11 digits" not in page


def test_a_snils_of_ten_digits_is_told_to_have_eleven(client):
    citizen = CitizenFactory()
    response = register(client, citizen, snils=citizen.snils[:10])
    assert "Проверьте СНИЛС: в нём 11 цифр." in response.content.decode()


def test_an_early_snils_carries_no_check_number_and_registers(client):
    """SNILS up to 001-001-998 were issued before check numbers: the
    registry stores them with any last two digits, and so does the form."""
    citizen = CitizenFactory(snils="00100100017")

    response = register(client, citizen)

    assert response.status_code == 302
    assert Citizen.objects.get(pk=citizen.pk).user is not None


def test_registering_twice_gives_the_same_answer(client):
    citizen = CitizenFactory(with_account=True)
    response = register(client, citizen)
    assert NOT_FOUND in response.content.decode()


def test_a_weak_password_is_refused_by_djangos_validators(client):
    citizen = CitizenFactory()
    response = register(client, citizen, password1="12345678", password2="12345678")
    assert response.status_code == 200
    assert Citizen.objects.get(pk=citizen.pk).user is None


@commits
def test_a_forged_confirmation_link_does_nothing(client):
    citizen = CitizenFactory()
    register(client, citizen)
    link = confirmation_link(mail.outbox[0])
    client.get(link[:-3] + "xx/")
    citizen.refresh_from_db()
    assert not citizen.user.is_active


def test_the_first_login_sets_up_totp_before_anything_else(client):
    citizen = CitizenFactory(with_account=True, consenting=True)
    client.post(
        reverse("cabinet:login"),
        {"username": citizen.user.username, "password": PASSWORD},
    )

    response = client.get(reverse("cabinet:dashboard"))
    assert response["Location"] == reverse("cabinet:otp-setup")
    assert client.get(reverse("cabinet:applications"))["Location"] == reverse(
        "cabinet:otp-setup"
    )

    page = client.get(reverse("cabinet:otp-setup")).content.decode()
    assert "data:image/svg+xml" in page
    device = TOTPDevice.objects.get(user=citizen.user)
    response = client.post(reverse("cabinet:otp-setup"), {"token": totp_code(device)})

    assert response.status_code == 200
    assert "backup-codes" in response.content.decode()
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(reverse("cabinet:dashboard")).status_code == 200


def _password_step(client, citizen) -> str:
    response = client.post(
        reverse("cabinet:login"),
        {"username": citizen.user.username, "password": PASSWORD},
    )
    assert response.status_code == 302
    return client.cookies["sessionid"].value


def test_the_second_factor_starts_a_new_session(client):
    """Someone who knows only the password signs in, plants the session
    key in the victim's browser and waits for the victim to enter a code:
    the key they hold must not become a signed-in session."""
    citizen = CitizenFactory(with_account=True)
    planted = _password_step(Client(), citizen)
    client.cookies["sessionid"] = planted

    response = client.post(
        reverse("cabinet:otp-verify"), {"token": second_factor_code(citizen.user)}
    )

    assert response.status_code == 302
    assert client.cookies["sessionid"].value != planted
    assert client.get(reverse("cabinet:dashboard")).status_code == 200
    attacker = Client()
    attacker.cookies["sessionid"] = planted
    assert attacker.get(reverse("cabinet:dashboard"))["Location"].startswith(
        reverse("cabinet:login")
    )


def test_setting_up_the_app_starts_a_new_session(client):
    citizen = CitizenFactory(with_account=True)
    before = _password_step(client, citizen)
    client.get(reverse("cabinet:otp-setup"))
    device = TOTPDevice.objects.get(user=citizen.user)

    client.post(reverse("cabinet:otp-setup"), {"token": totp_code(device)})

    assert client.cookies["sessionid"].value != before
    assert client.get(reverse("cabinet:dashboard")).status_code == 200


def test_the_page_asked_for_before_login_opens_after_the_second_factor(client):
    citizen = CitizenFactory(with_account=True)
    code = second_factor_code(citizen.user)
    profile = reverse("cabinet:profile")
    response = client.post(
        f"{reverse('cabinet:login')}?next={profile}",
        {"username": citizen.user.username, "password": PASSWORD, "next": profile},
    )
    assert response["Location"] == profile

    response = client.get(profile)
    assert response.status_code == 302
    code_page = response["Location"]
    assert code_page == f"{reverse('cabinet:otp-verify')}?next={profile}"

    response = client.post(code_page, {"token": code})
    assert response["Location"] == profile


def test_a_new_authenticator_after_a_while_asks_for_a_fresh_login(client, settings):
    """Not the sign-in code prompt, which would take a code and give
    nothing: the fresh login, then back to set-up."""
    citizen = CitizenFactory(with_account=True)
    login(client, citizen)
    turn_back(client, "cabinet_reauth_at", settings.CABINET_REAUTH_MAX_AGE)

    for page in ("cabinet:otp-setup", "cabinet:otp-setup-sms"):
        response = client.get(reverse(page))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("cabinet:reauth"))

    response = client.post(
        response["Location"],
        {"password": PASSWORD, "token": second_factor_code(citizen.user)},
    )
    assert response["Location"] == reverse("cabinet:otp-setup-sms")


def test_the_public_document_check_opens_between_password_and_code(client):
    citizen = CitizenFactory(with_account=True)
    second_factor_code(citizen.user)
    _password_step(client, citizen)

    assert client.get(reverse("offers:verify")).status_code == 200


def test_a_returning_user_enters_a_code_from_the_app(client):
    citizen = CitizenFactory(with_account=True)
    device = TOTPDevice.objects.create(user=citizen.user, confirmed=True)
    client.post(
        reverse("cabinet:login"),
        {"username": citizen.user.username, "password": PASSWORD},
    )
    assert client.get(reverse("cabinet:dashboard"))["Location"] == reverse(
        "cabinet:otp-verify"
    )
    client.post(reverse("cabinet:otp-verify"), {"token": totp_code(device)})
    assert client.get(reverse("cabinet:dashboard")).status_code == 200


def test_a_thousand_otp_guesses_get_nowhere(client):
    """Even the right code, sent after the wrong ones, is refused: the app
    device is throttled by its failures."""
    citizen = CitizenFactory(with_account=True)
    device = TOTPDevice.objects.create(user=citizen.user, confirmed=True)
    client.post(
        reverse("cabinet:login"),
        {"username": citizen.user.username, "password": PASSWORD},
    )
    right = {totp_code(device, offset) for offset in (-1, 0, 1)}
    guesses = [f"{n:06d}" for n in range(1000, 10_000_000) if f"{n:06d}" not in right]
    successes = 0
    for guess in guesses[:999] + [totp_code(device)]:
        response = client.post(reverse("cabinet:otp-verify"), {"token": guess})
        successes += response.status_code == 302
    assert client.get(reverse("cabinet:dashboard")).status_code == 302
    assert successes == 0


def test_a_thousand_password_guesses_get_nowhere_and_the_owner_still_gets_in():
    citizen = CitizenFactory(with_account=True)
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    successes = 0
    for n in range(999):
        attacker.post(
            reverse("cabinet:login"),
            {"username": citizen.user.username, "password": f"guess-{n}"},
        )
    response = attacker.post(
        reverse("cabinet:login"),
        {"username": citizen.user.username, "password": PASSWORD},
    )
    successes += response.status_code == 302
    assert successes == 0 and response.status_code == 429

    # The lock is on the pair (login, address): the owner elsewhere signs in
    # and can still use the second factor.
    owner = login(Client(REMOTE_ADDR="198.51.100.7"), citizen)
    assert owner.get(reverse("cabinet:dashboard")).status_code == 200


@pytest.mark.parametrize("page", ["cabinet:login", "admin:login"])
def test_a_login_name_longer_than_any_account_is_refused_by_the_form(client, page):
    """Not passed on to the lockout's record of failures, which cannot hold
    it (it answered 500)."""
    response = client.post(reverse(page), {"username": "z" * 300, "password": "x"})

    assert response.status_code == 200
    assert "username" in response.context["form"].errors


def test_login_starts_a_new_session_and_logout_ends_it_on_the_server(client):
    citizen = CitizenFactory(with_account=True)
    client.get(reverse("cabinet:login"))
    client.cookies["sessionid"] = "attacker-chosen-session-key"
    login(client, citizen)
    key = client.cookies["sessionid"].value
    assert key != "attacker-chosen-session-key"

    client.post(reverse("cabinet:logout"))

    replay = Client()
    replay.cookies["sessionid"] = key
    assert replay.get(reverse("cabinet:dashboard")).status_code == 302


def test_an_idle_session_ends(client, settings):
    citizen = CitizenFactory(with_account=True)
    login(client, citizen)
    turn_back(client, "cabinet_seen_at", settings.CABINET_IDLE_TIMEOUT)
    response = client.get(reverse("cabinet:dashboard"))
    assert response.status_code == 302
    assert client.get(reverse("cabinet:dashboard"))["Location"].startswith(
        reverse("cabinet:login")
    )


def test_a_session_ends_after_the_absolute_timeout_even_when_busy(client, settings):
    citizen = CitizenFactory(with_account=True)
    login(client, citizen)
    turn_back(client, "cabinet_login_at", settings.CABINET_ABSOLUTE_TIMEOUT)
    assert client.get(reverse("cabinet:dashboard")).status_code == 302


def test_changing_the_phone_needs_a_fresh_login(client, settings):
    citizen = CitizenFactory(with_account=True, consenting=True)
    login(client, citizen)
    turn_back(client, "cabinet_reauth_at", settings.CABINET_REAUTH_MAX_AGE)

    response = client.get(reverse("cabinet:settings-phone"))
    assert response["Location"].startswith(reverse("cabinet:reauth"))
    before = client.cookies["sessionid"].value

    response = client.post(
        reverse("cabinet:reauth") + "?next=/settings/phone/",
        {
            "password": PASSWORD,
            "token": second_factor_code(citizen.user),
            "next": "/settings/phone/",
        },
    )
    assert response["Location"] == "/settings/phone/"
    assert client.cookies["sessionid"].value != before
    assert client.get(reverse("cabinet:settings-phone")).status_code == 200


# Phone codes ----------------------------------------------------------------


class _GatewayLog:
    """What the local SMS gateway received, one "to text" line a message."""

    def __init__(self, gateway):
        self.gateway = gateway

    def read_text(self, encoding="utf-8") -> str:
        return "\n".join(f"{m['to']} {m['text']}" for m in self.gateway.state.messages)


@pytest.fixture
def sms_log(sms_gateway):
    return _GatewayLog(sms_gateway)


def last_code(sms_log) -> str:
    return re.findall(r"(\d{6})", sms_log.read_text(encoding="utf-8"))[-1]


def ask_code(client, phone="+7 916 555-12-34"):
    return client.post(reverse("cabinet:settings-phone"), {"send": "1", "phone": phone})


def enter_code(client, code):
    return client.post(
        reverse("cabinet:settings-phone"), {"confirm": "1", "token": code}
    )


@pytest.fixture
def maria(client, sms_log):
    citizen = CitizenFactory(
        with_account=True, consenting=True, phone="", phone_is_mobile=False
    )
    login(client, citizen)
    return citizen


@commits
def test_a_phone_is_verified_by_the_code_sent_to_it(client, maria, sms_log):
    ask_code(client)
    response = enter_code(client, last_code(sms_log))
    assert response.status_code == 302
    maria.refresh_from_db()
    assert maria.phone == "+79165551234" and maria.phone_verified_at is not None
    assert "+79165551234" in sms_log.read_text()


@commits
def test_a_phone_code_works_once(client, maria, sms_log):
    ask_code(client)
    code = last_code(sms_log)
    enter_code(client, code)
    type(maria).objects.filter(pk=maria.pk).update(phone_verified_at=None)
    enter_code(client, code)
    maria.refresh_from_db()
    assert maria.phone_verified_at is None


@commits
def test_a_phone_code_is_tied_to_the_session_that_asked_for_it(client, maria, sms_log):
    ask_code(client)
    other = login(Client(), maria)
    enter_code(other, last_code(sms_log))
    maria.refresh_from_db()
    assert maria.phone_verified_at is None


@commits
def test_a_phone_code_expires_after_ten_minutes(client, maria, sms_log):
    from cabinet.models import PhoneCode
    from django.utils import timezone

    ask_code(client)
    PhoneCode.objects.update(expires_at=timezone.now())
    enter_code(client, last_code(sms_log))
    maria.refresh_from_db()
    assert maria.phone_verified_at is None


@commits
def test_a_thousand_phone_code_guesses_get_nowhere(client, maria, sms_log):
    """Five wrong tries kill the code; the right one afterwards is refused."""
    ask_code(client)
    right = last_code(sms_log)
    wrong = (f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" != right)
    for guess in [next(wrong) for _ in range(999)] + [right]:
        enter_code(client, guess)
    maria.refresh_from_db()
    assert maria.phone_verified_at is None


@commits
def test_at_most_three_codes_in_fifteen_minutes_and_ten_a_day(client, maria, sms_log):
    from cabinet.models import PhoneCode
    from django.utils import timezone

    for _ in range(5):
        ask_code(client)
    assert len(sms_log.read_text().splitlines()) == 3

    PhoneCode.objects.update(created_at=timezone.now() - timezone.timedelta(hours=1))
    for _ in range(10):
        ask_code(client)
        PhoneCode.objects.update(
            created_at=timezone.now() - timezone.timedelta(hours=1)
        )
    assert len(sms_log.read_text().splitlines()) == 10
