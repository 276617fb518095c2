"""Demo only: accounts for the demo's cast, an official (staff in the
officials' group, cabinet.officials), and consents.

    python manage.py create_demo_accounts samples/demo_accounts.json

Each cast member gets a cabinet login and an active consent; a share of the
other citizens (every third, by id) gets a consent too, so the sample births
make offers for some of them. Running it again changes nothing but the
one-time codes.

Sign-in needs a second factor: every demo account (and the official) gets
a set of single-use backup codes (django-otp's static device), printed
here and written to ``--codes-file`` so the person trying the demo can
type them at the code prompt. Each run replaces the codes.
"""

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from cabinet.models import Citizen
from cabinet.officials import officials_group
from consents.models import Consent
from consents.services import give_consent

DEMO_PASSWORD = "demo-password-2026"
ADMIN_LOGIN = "official"


class Command(BaseCommand):
    help = "Демо: учётные записи героев демонстрации, сотрудника и согласия."

    def add_arguments(self, parser):
        parser.add_argument("accounts", type=Path)
        parser.add_argument("--password", default=DEMO_PASSWORD)
        parser.add_argument("--codes", type=int, default=10)
        parser.add_argument("--codes-file", type=Path, default=None)

    @transaction.atomic
    def handle(self, accounts, password, codes, codes_file, **options):
        User = get_user_model()
        cast = json.loads(accounts.read_text(encoding="utf-8"))

        for entry in cast:
            try:
                citizen = Citizen.objects.get(snils=entry["snils"])
            except Citizen.DoesNotExist:
                raise CommandError(
                    f"{accounts}: citizen {entry['login']} is not in the population "
                    "registry; import samples/population.csv first"
                ) from None
            user, _ = User.objects.get_or_create(username=entry["login"])
            user.set_password(password)
            user.email = user.email or citizen.email
            user.save()
            citizen.user = user
            # The cast's phones count as verified, so that an SMS reply
            # ("ДА 123456") from the local gateway acts on their offers.
            if citizen.phone_is_mobile and citizen.phone_verified_at is None:
                citizen.phone_verified_at = timezone.now()
            citizen.save(update_fields=["user", "phone_verified_at"])

        # An official, not an administrator: staff in the officials' group,
        # with the permissions of the work and no more (an earlier demo's
        # superuser is made one too).
        official, _ = User.objects.get_or_create(username=ADMIN_LOGIN)
        official.is_staff = True
        official.is_superuser = False
        official.set_password(password)
        official.save()
        official.groups.set([officials_group()])

        without_consent = Citizen.objects.exclude(
            consents__purpose=Consent.Purpose.PROACTIVE
        )
        cast_snils = [entry["snils"] for entry in cast]
        given = 0
        for citizen in without_consent.only("id", "snils"):
            if citizen.snils in cast_snils or citizen.pk % 3 == 0:
                give_consent(citizen, user_agent="demo set-up")
                given += 1
        lines = []
        for login in [entry["login"] for entry in cast] + [ADMIN_LOGIN]:
            user = User.objects.get(username=login)
            lines.append(f"    {login:<9} {' '.join(_fresh_codes(user, codes))}")
        table = "\n".join(lines)
        if codes_file is not None:
            codes_file.parent.mkdir(parents=True, exist_ok=True)
            codes_file.write_text(table + "\n", encoding="utf-8")
        self.stdout.write(f"{len(cast)} demo accounts, {given} consents given")
        self.stdout.write("One-time codes (each works once):\n" + table)


def _fresh_codes(user, count: int) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="demo backup codes")
    tokens = [StaticToken.random_token() for _ in range(count)]
    StaticToken.objects.bulk_create(
        [StaticToken(device=device, token=token) for token in tokens]
    )
    return tokens
