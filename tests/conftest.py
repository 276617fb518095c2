import csv
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection

from proactive_portal import embedded
from proactive_portal.celery import app as celery_app
from proactive_portal.queues import QUEUES

ROOT = Path(__file__).resolve().parent.parent
REAL_SAMPLES = ROOT.parent / "shared" / "real-samples"


def pytest_sessionfinish(session, exitstatus):
    """Stop the embedded servers the test settings started."""
    if not os.environ.get("DATABASE_URL") and not os.environ.get("PORTAL_KEEP_SERVICES"):
        embedded.stop(Path(django_settings.DATA_DIR))


@pytest.fixture(autouse=True)
def _portal_language():
    """Each test starts and ends in the portal's language: a request in
    English through the test client leaves English active in the thread."""
    from django.utils import translation

    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture
def write_csv(tmp_path):
    """Write a CSV dump: header and rows, in the encoding and delimiter asked."""

    def write(name, header, rows, delimiter=";", encoding="utf-8", newline="\n"):
        path = tmp_path / name
        with open(path, "w", encoding=encoding, newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter, lineterminator=newline)
            writer.writerow(header)
            writer.writerows(rows)
        return path

    return write


@pytest.fixture
def offer_for(write_csv, run_import):
    """Import a second birth for ``citizen`` and evaluate: their offer."""
    from events.services import evaluate_batch
    from offers.models import Offer
    from tests.helpers import BIRTHS_HEADER, birth

    def make(citizen, record_id="B1", service="maternity-capital", **overrides):
        row = birth(record_id, citizen.snils, **overrides)
        path = write_csv(f"{record_id}.csv", BIRTHS_HEADER, [row])
        summary = run_import("births", path)
        evaluate_batch(summary["batch_id"])
        return Offer.objects.filter(
            citizen=citizen, event__record_id=record_id, service__code=service
        ).first()

    return make


@pytest.fixture
def run_import(capsys):
    """Run ``import_registry`` as an operator does, and return its JSON
    summary."""

    def run(source, path, *extra):
        capsys.readouterr()
        call_command("import_registry", source, str(path), "--json", *extra)
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    return run


def _database_url() -> str:
    db = connection.settings_dict
    host = db.get("HOST") or ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    url = f"postgresql://{db['USER']}{password}@{host}{port}/{db['NAME']}"
    socket = (db.get("OPTIONS") or {}).get("host")
    return f"{url}?host={socket}" if socket else url


@pytest.fixture
def afternoon():
    """A Moscow afternoon (14:00), outside the default quiet hours
    (22:00-08:00), for tests whose SMS must go whatever the hour the suite
    runs at. Time flows on from there."""
    import time_machine

    moment = datetime.datetime(2026, 12, 3, 11, 0, tzinfo=datetime.UTC)
    with time_machine.travel(moment):
        yield


@pytest.fixture
def worker_env():
    """Extra environment for the ``celery_worker`` process; a test module
    overrides this fixture to point the worker at its gateway or SMTP."""
    return {}


@pytest.fixture
def celery_worker(transactional_db, django_db_serialized_rollback, tmp_path, worker_env):
    """A real Celery worker process on every queue, against the test
    database and the test Redis. Yields where its email and SMS go.

    The data the migrations ship (services, rules) is restored after each
    such test, since committed transactions are flushed between tests."""
    outbox = tmp_path / "outbox"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "proactive_portal.settings_test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": django_settings.CELERY_BROKER_URL,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(outbox / "email"),
        "SMS_GATEWAYS": json.dumps(django_settings.SMS_GATEWAYS),
        "DATABASE_CONN_MAX_AGE": "0",
        **worker_env,
    }
    celery_app.control.purge()
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "proactive_portal", "worker",
                "-Q", ",".join(QUEUES), "-P", "solo", "--without-mingle",
                "--without-gossip", "-l", "INFO", "-n", f"test-{os.getpid()}@%h",
            ],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "ready." not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield {
            "email_dir": outbox / "email",
            "log": log_path,
            "process": process,
        }
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_until(check, seconds=30, what="condition"):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds} s")
        time.sleep(0.2)


def wait_worker_idle(seconds=30):
    """Wait until the test worker has nothing to do: its queues in Redis
    are empty and it reports no active or reserved task, twice in a row (a
    task it runs may queue a successor)."""

    def queued() -> int:
        with celery_app.connection_for_read() as connection:
            # kombu's Redis channel: each queue is a list named after it.
            client = connection.default_channel.client
            return sum(client.llen(queue) for queue in QUEUES)

    def idle():
        if queued():
            return False
        inspect = celery_app.control.inspect(timeout=1)
        active, reserved = inspect.active(), inspect.reserved()
        # A worker that does not answer is busy running a task (solo pool).
        if not active or reserved is None:
            return False
        return not any(active.values()) and not any(reserved.values())

    wait_until(lambda: idle() and idle(), seconds, what="an idle worker")


@pytest.fixture
def admin_client(client, django_user_model):
    """An official signed in to the admin with both factors (the admin is
    an OTPAdminSite: a password alone does not open it)."""
    from tests.helpers import PASSWORD, official_login

    official = django_user_model.objects.create_superuser(
        "admin", "admin@example.org", PASSWORD
    )
    return official_login(client, official)


@pytest.fixture
def sms_gateway(settings):
    """The local SMS gateway (the outside party), on a free port, and the
    portal's settings pointing at it as the only gateway."""
    from notifications.gateway import GatewayServer

    server = GatewayServer(name="primary", token="primary-token").start()
    settings.SMS_GATEWAYS = [
        {"name": "primary", "url": server.url, "token": "primary-token", "weight": 1}
    ]
    _clear_gateway_penalties()
    yield server
    server.stop()


@pytest.fixture
def backup_gateway(settings, sms_gateway):
    """A second local gateway, configured as the standby (weight 0: used
    only when the primary fails or is penalised)."""
    from notifications.gateway import GatewayServer

    server = GatewayServer(name="backup", token="backup-token").start()
    settings.SMS_GATEWAYS = [
        {"name": "primary", "url": sms_gateway.url, "token": "primary-token",
         "weight": 1},
        {"name": "backup", "url": server.url, "token": "backup-token", "weight": 0},
    ]
    yield server
    server.stop()


def _clear_gateway_penalties():
    from notifications.backends.sms import _redis

    client = _redis()
    for key in client.scan_iter("portal:sms:penalty:*"):
        client.delete(key)


class _Mailbox:
    def __init__(self):
        import threading

        self.messages = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        import email

        message = email.message_from_bytes(envelope.content)
        with self.arrived:
            self.messages.append(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "message": message,
                    "peer": session.peer,  # tells the client's connections apart
                }
            )
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, count=1, timeout=30):
        """The ``count``-th message, once it has arrived (a live server
        sends from another thread)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)
        assert len(self.messages) >= count, "no email arrived"
        return self.messages[count - 1]["message"]

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("bounce"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server (aiosmtpd) on a free port; the portal sends to it.
    Recipients starting with "bounce" are refused, as a provider does."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    mailbox.port = port
    yield mailbox
    controller.stop()
