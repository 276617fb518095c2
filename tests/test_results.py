"""Result documents: a PDF with a verification code that anyone can check
on the public page, and that only its owner can download."""

import hashlib
import io

import pypdf
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from offers import services
from tests.applications import submitted_application
from tests.factories import CitizenFactory
from tests.helpers import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna():
    return CitizenFactory(
        with_account=True, consenting=True, first_name="Анна", last_name="Смирнова"
    )


@pytest.fixture
def certificate(write_csv, anna):
    application = submitted_application(write_csv, anna)
    services.approve_application(application.pk)
    return services.complete_application(application.pk)


def pdf_bytes(document) -> bytes:
    with document.file.open("rb") as handle:
        return handle.read()


def pdf_text(data: bytes) -> str:
    return "\n".join(
        page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages
    )


def verify(client, code, upload=None):
    data = {"code": code}
    if upload is not None:
        data["file"] = SimpleUploadedFile("document.pdf", upload, "application/pdf")
    return client.post(reverse("offers:verify"), data).content.decode()


def test_the_pdf_carries_its_code_and_its_hash_is_recorded(certificate):
    data = pdf_bytes(certificate)

    assert data.startswith(b"%PDF")
    assert hashlib.sha256(data).hexdigest() == certificate.sha256
    text = pdf_text(data)
    assert certificate.verification_code_display in text
    assert "Сертификат на материнский капитал" in text
    assert "Смирнова Анна" in text
    assert "616 617,00 руб." in text.replace("\u00a0", " ")  # a second child, 2026


def test_the_pdf_is_stored_outside_static_and_media(certificate):
    path = certificate.file.path
    assert path.startswith(str(settings.RESULT_DOCUMENTS_DIR))
    assert not path.startswith(str(settings.STATIC_ROOT))
    assert Client().get(f"/{certificate.file.name}").status_code == 404


def test_a_code_verifies_on_the_public_page_without_personal_data(certificate, anna):
    page = verify(Client(), certificate.verification_code_display.lower())

    assert "Документ подлинный" in page
    assert "Материнский (семейный) капитал" in page
    assert "Сертификат на материнский капитал" in page
    for personal in (anna.last_name, anna.first_name, anna.snils, anna.email):
        assert personal not in page
    assert certificate.application.number not in page


@pytest.mark.parametrize("alteration", ["one byte changed", "a revision appended"])
def test_the_original_file_verifies_and_an_altered_one_does_not(
    certificate, alteration
):
    original = pdf_bytes(certificate)
    if alteration == "one byte changed":
        middle = len(original) // 2
        altered = (
            original[:middle] + bytes([original[middle] ^ 1]) + original[middle + 1 :]
        )
    else:  # an incremental update: readers show the new revision
        altered = original + b"\n% edited\n%%EOF\n"

    assert "Документ подлинный" in verify(
        Client(), certificate.verification_code, original
    )
    page = verify(Client(), certificate.verification_code, altered)
    assert "Файл не совпадает с выданным документом" in page
    assert "Документ подлинный" not in page


def test_an_unknown_code_does_not_verify(certificate):
    page = verify(Client(), "AAAA-BBBB-CCCC-DDDD")
    assert "Документ с таким кодом не выдавался" in page
    assert "<dl>" not in page and "Материнский" not in page


def test_the_verify_page_needs_no_login_and_accepts_a_code_in_the_link(certificate):
    client = Client()
    assert client.get(reverse("offers:verify")).status_code == 200
    url = f"{reverse('offers:verify')}?code={certificate.verification_code_display}"
    assert "Документ подлинный" in client.get(url).content.decode()


def test_the_citizen_downloads_their_own_result_and_sees_it_listed(certificate, anna):
    client = Client()
    login(client, anna)

    detail = client.get(
        reverse("cabinet:application-detail", args=[certificate.application.pk])
    ).content.decode()
    url = reverse("cabinet:result-document", args=[certificate.pk])
    assert "Документы-результаты" in detail and url in detail
    assert certificate.verification_code_display in detail

    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == certificate.sha256


def test_another_citizen_gets_404_for_someone_elses_result(certificate):
    other = CitizenFactory(with_account=True, consenting=True)
    client = Client()
    login(client, other)

    url = reverse("cabinet:result-document", args=[certificate.pk])

    assert client.get(url).status_code == 404
    assert Client().get(url).status_code == 302  # anonymous: to the login page
