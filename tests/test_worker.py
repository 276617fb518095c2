"""The whole loop with a real Celery worker process and the real Redis:
import commits -> the worker evaluates -> the outbox is delivered."""

import pytest
from django.core.management import call_command

from notifications.models import DeliveryProfile, Notification
from offers.models import Offer
from tests.conftest import wait_until, wait_worker_idle
from tests.factories import CitizenFactory
from tests.helpers import BIRTHS_HEADER, birth

pytestmark = [pytest.mark.worker]


def mother_of(**fields):
    """A consenting citizen with quiet hours off: the worker runs on the
    real clock, and its SMS must go at whatever hour the suite runs."""
    mother = CitizenFactory(consenting=True, **fields)
    DeliveryProfile.objects.create(citizen=mother, quiet_hours=False)
    return mother


@pytest.fixture
def worker_env(sms_gateway, smtp_server):
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
    }


def test_an_import_reaches_the_citizen_through_the_worker(
    celery_worker, write_csv, sms_gateway, smtp_server
):
    mother = mother_of(first_name="Вера", email="vera@example.org")
    path = write_csv("births.csv", BIRTHS_HEADER, [birth("W1", mother.snils)])

    call_command("import_registry", "births", str(path), "--json")

    offer = wait_until(
        lambda: Offer.objects.filter(citizen=mother).first(),
        what="an offer made by the worker",
    )
    assert offer.service.code == "maternity-capital"
    wait_until(
        lambda: not Notification.objects.filter(offer=offer, status="pending").exists()
        and not Notification.objects.filter(offer=offer, status="sending").exists(),
        what="delivery of the offer's notifications",
    )
    statuses = dict(Notification.objects.filter(offer=offer).values_list("channel", "status"))
    assert statuses == {"cabinet": "sent", "email": "sent", "sms": "sent"}

    sms = sms_gateway.state.messages
    assert [(m["to"], m["text"]) for m in sms] == [
        (
            "+79161234567",
            f"Вера, Вам положена услуга «Материнский капитал». "
            f"Подать заявление: ответьте ДА {offer.short_code}",
        )
    ]
    assert sms[0]["parts"] == 2
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]["message"]
    assert smtp_server.messages[0]["to"] == ["vera@example.org"]
    assert {p.get_content_type() for p in message.walk()} >= {"text/plain", "text/html"}


def test_the_outbox_sweeper_delivers_rows_a_lost_task_left_behind(
    celery_worker, write_csv
):
    import time

    from django.utils import timezone

    from notifications.tasks import sweep_outbox

    mother = mother_of()
    path = write_csv("births.csv", BIRTHS_HEADER, [birth("W2", mother.snils)])
    call_command("import_registry", "births", str(path), "--json")
    offer = wait_until(lambda: Offer.objects.filter(citizen=mother).first())
    # Wait for the dispatchers to finish: they go on claiming while rows are
    # left (and queue successors), and would take the "lost" row below.
    wait_until(
        lambda: not Notification.objects.filter(status__in=["pending", "sending"]).exists()
    )
    wait_worker_idle()

    # A row whose dispatch task was lost: written long ago, never queued.
    Notification.objects.filter(offer=offer, channel="cabinet").delete()
    lost = Notification.objects.create(
        citizen=mother, kind="offer_created", channel="cabinet",
        object_key=f"offer:{offer.pk}", offer=offer,
    )
    Notification.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    time.sleep(1)
    assert Notification.objects.get(pk=lost.pk).status == "pending"

    sweep_outbox.delay()

    wait_until(
        lambda: Notification.objects.get(pk=lost.pk).status == "sent",
        what="the sweeper's dispatch",
    )


def test_an_auto_deciding_service_completes_through_the_worker(celery_worker, write_csv):
    from offers.models import Application, Service
    from offers.services import accept_offer

    Service.objects.filter(code="maternity-capital").update(auto_decide=True)
    mother = mother_of(first_name="Вера")
    path = write_csv("births.csv", BIRTHS_HEADER, [birth("W1", mother.snils)])
    call_command("import_registry", "births", str(path), "--json")
    offer = wait_until(
        lambda: Offer.objects.filter(citizen=mother).first(), what="an offer"
    )

    application = accept_offer(mother, offer.pk)

    wait_until(
        lambda: Application.objects.filter(pk=application.pk, status="completed").exists(),
        what="the automatic decision",
    )
    assert application.result_documents.get().kind == "certificate"
    wait_until(
        lambda: Notification.objects.filter(
            application=application, kind="application_status", status="sent"
        ).count() == 6,
        what="delivery of the approval and completion notices",
    )
