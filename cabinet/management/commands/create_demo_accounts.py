"""Demo only: accounts for the demo's cast, an official, and consents.

    python manage.py create_demo_accounts samples/demo_accounts.json

Each cast member gets a cabinet login and an active consent; a share of the
other citizens (every third, by id) gets a consent too, so the sample births
make offers for some of them. Running it again changes nothing.
"""

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cabinet.models import Citizen
from consents.models import Consent
from consents.services import give_consent

DEMO_PASSWORD = "demo-password-2026"
ADMIN_LOGIN = "official"


class Command(BaseCommand):
    help = "Демо: учётные записи героев демонстрации, сотрудника и согласия."

    def add_arguments(self, parser):
        parser.add_argument("accounts", type=Path)
        parser.add_argument("--password", default=DEMO_PASSWORD)

    @transaction.atomic
    def handle(self, accounts, password, **options):
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
            user.save()
            if citizen.user_id != user.pk:
                citizen.user = user
                citizen.save(update_fields=["user"])

        official, _ = User.objects.get_or_create(username=ADMIN_LOGIN)
        official.is_staff = official.is_superuser = True
        official.set_password(password)
        official.save()

        without_consent = Citizen.objects.exclude(
            consents__purpose=Consent.Purpose.PROACTIVE
        )
        cast_snils = [entry["snils"] for entry in cast]
        given = 0
        for citizen in without_consent.only("id", "snils"):
            if citizen.snils in cast_snils or citizen.pk % 3 == 0:
                give_consent(citizen, user_agent="demo set-up")
                given += 1
        self.stdout.write(f"{len(cast)} demo accounts, {given} consents given")
