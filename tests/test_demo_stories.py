"""The demo's stories, walked to their end on the demo's own data, as the
README tells a person to follow them: each cast member confirms, the
official acts in admin, the cast member downloads the PDF."""

import io
import json
import re

import pypdf
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from events.services import evaluate_batch
from offers.models import Application, Offer
from samples.generate import write_birthdays
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

DEMO_PASSWORD = "demo-password-2026"
SAMPLES = ROOT / "samples"


def load(source, path):
    out = io.StringIO()
    call_command("import_registry", source, str(path), "--json", stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["rejected"] == 0, summary
    return summary


@pytest.fixture
def demo(tmp_path):
    """The demo's step 3, with the rules evaluated in this process instead
    of by the worker. Returns a function that hands out each login's next
    one-time code from the codes file, as a person reads them."""
    load("population", SAMPLES / "population.csv")
    load("population", write_birthdays(tmp_path / "b.csv", timezone.localdate()))
    codes_file = tmp_path / "codes.txt"
    call_command(
        "create_demo_accounts",
        str(SAMPLES / "demo_accounts.json"),
        "--codes-file",
        str(codes_file),
        stdout=io.StringIO(),
    )
    for name in ("births.csv", "hospital_births.ndjson"):
        evaluate_batch(load("births", SAMPLES / name)["batch_id"])
    call_command("run_daily_triggers", stdout=io.StringIO())

    codes = {
        line.split()[0]: line.split()[1:]
        for line in codes_file.read_text().splitlines()
        if line.strip()
    }
    return lambda login: codes[login].pop()


def cabinet(demo, login) -> Client:
    client = Client()
    client.post(
        reverse("cabinet:login"), {"username": login, "password": DEMO_PASSWORD}
    )
    response = client.post(reverse("cabinet:otp-verify"), {"token": demo(login)})
    assert response.status_code == 302
    return client


def admin(demo) -> Client:
    from django.contrib.auth import get_user_model

    client = Client()
    official = get_user_model().objects.get(username="official")
    response = client.post(
        "/admin/login/?next=/admin/",
        {
            "username": "official",
            "password": DEMO_PASSWORD,
            "otp_device": official.staticdevice_set.get().persistent_id,
            "otp_token": demo("official"),
        },
    )
    assert response.status_code == 302
    return client


def confirm(client, login, service) -> Application:
    offer = Offer.objects.get(citizen__user__username=login, service__code=service)
    assert offer.status == Offer.Status.OFFERED
    client.post(reverse("cabinet:offer-confirm", args=[offer.pk]))
    return Application.objects.get(offer=offer)


def act(official, application, action, **data):
    url = reverse("admin:offers_application_act", args=[application.pk, action])
    official.post(url, data)


def downloads(client, application) -> list[str]:
    """The text of each result PDF the citizen downloads from the page."""
    page = client.get(
        reverse("cabinet:application-detail", args=[application.pk])
    ).content.decode()
    texts = []
    for pk in re.findall(r'href="/results/(\d+)/"', page):
        response = client.get(reverse("cabinet:result-document", args=[pk]))
        data = b"".join(response.streaming_content)
        reader = pypdf.PdfReader(io.BytesIO(data))
        texts.append(reader.pages[0].extract_text().replace("\u00a0", " "))
    return texts


def test_anna_receives_her_maternity_capital_certificate(demo):
    anna = cabinet(demo, "anna")
    application = confirm(anna, "anna", "maternity-capital")

    official = admin(demo)
    act(official, application, "approve", note="")
    act(official, application, "complete", kind="", note="")

    [certificate] = downloads(anna, application)
    assert "Сертификат на материнский капитал" in certificate
    assert "Смирнова Анна" in certificate and "616 617,00 руб." in certificate


@pytest.mark.parametrize(
    ("applicant", "other", "child"),
    [("dmitry", "elena", "Кузнецова"), ("irina", None, "Волков Артём")],
)
def test_a_hospital_record_ends_with_the_birth_certificate(
    demo, applicant, other, child
):
    client = cabinet(demo, applicant)
    application = confirm(client, applicant, "birth-registration")
    if other:
        closed = Offer.objects.get(
            citizen__user__username=other, service__code="birth-registration"
        )
        assert closed.status == Offer.Status.WITHDRAWN

    act(
        admin(demo),
        application,
        "register-birth",
        act_number="120269000901",
        act_date=timezone.localdate().isoformat(),
    )

    extract, certificate = sorted(downloads(client, application))  # В, С
    assert "Свидетельство о рождении" in certificate and child in certificate
    assert "Выписка из записи акта о рождении" in extract
    assert "120269000901" in certificate and "120269000901" in extract


def test_irina_is_offered_maternity_capital_for_her_second_child(demo):
    offer = Offer.objects.get(
        citizen__user__username="irina", service__code="maternity-capital"
    )
    assert offer.prefill["capital_amount"] == "616617.00"


def test_pavel_replaces_his_passport_at_20(demo):
    pavel = cabinet(demo, "pavel")
    application = confirm(pavel, "pavel", "passport-replacement")

    official = admin(demo)
    act(official, application, "approve", note="")
    act(official, application, "complete", kind="", note="")

    [decision] = downloads(pavel, application)
    assert "достижение возраста 20 лет" in decision
