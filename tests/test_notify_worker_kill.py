"""A real Celery worker killed in the middle of a batch: the gateway gets
no message twice, and every message still arrives."""

import os
import signal
import time
from collections import Counter

import pytest
from django.core.management import call_command

from notifications import services
from notifications.models import DeliveryProfile, Notification
from tests.conftest import wait_until
from tests.factories import CitizenFactory
from tests.helpers import BIRTHS_HEADER, birth

pytestmark = [pytest.mark.worker]

CITIZENS = 15


@pytest.fixture
def worker_env(sms_gateway, smtp_server):
    # Small requests to a slow gateway: the batch takes seconds, so the
    # kill lands in its middle.
    return {
        "SMS_GATEWAY_CHUNK": "2",
        "NOTIFY_BATCH_SIZE": "100",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
    }


def test_a_worker_killed_mid_batch_sends_no_sms_twice(
    celery_worker, write_csv, sms_gateway, smtp_server
):
    sms_gateway.control(mode="slow", delay=0.3)
    mothers = [
        CitizenFactory(consenting=True, phone=f"+7916000{n:04d}")
        for n in range(CITIZENS)
    ]
    # The worker runs on the real clock: without quiet hours its SMS go at
    # whatever hour the suite runs (quiet hours have tests of their own).
    DeliveryProfile.objects.bulk_create(
        DeliveryProfile(citizen=m, quiet_hours=False) for m in mothers
    )
    rows = [birth(f"K{n}", m.snils) for n, m in enumerate(mothers)]
    path = write_csv("births.csv", BIRTHS_HEADER, rows)

    call_command("import_registry", "births", str(path), "--json")
    wait_until(
        lambda: len(sms_gateway.state.messages) >= 4,
        seconds=60,
        what="the first SMS of the batch",
    )
    os.kill(celery_worker["process"].pid, signal.SIGKILL)
    celery_worker["process"].wait()

    got = len(sms_gateway.state.messages)
    assert 4 <= got < CITIZENS, "the kill must land mid-batch"
    assert Notification.objects.filter(channel="sms", status="sending").exists()

    # A request the dead worker had in flight may still land: the grace
    # period of the sweeper covers that; here, one second is plenty.
    time.sleep(1)
    sms_gateway.control(mode="ok")
    services.sweep(lease_seconds=0, grace_seconds=0)
    services.dispatch_pending()

    refs = Counter(m["ref"] for m in sms_gateway.state.messages)
    assert len(refs) == CITIZENS
    assert max(refs.values()) == 1
    statuses = Counter(
        Notification.objects.filter(channel="sms").values_list("status", flat=True)
    )
    assert statuses == {"sent": CITIZENS}
