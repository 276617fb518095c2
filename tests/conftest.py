import csv
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
def celery_worker(transactional_db, django_db_serialized_rollback, tmp_path):
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
        "SMS_FILE_PATH": str(outbox / "sms.log"),
        "DATABASE_CONN_MAX_AGE": "0",
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
        yield {"email_dir": outbox / "email", "sms_log": outbox / "sms.log", "log": log_path}
    finally:
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


@pytest.fixture
def admin_client(client, django_user_model):
    """An official signed in to the admin with both factors (the admin is
    an OTPAdminSite: a password alone does not open it)."""
    from tests.helpers import PASSWORD, official_login

    official = django_user_model.objects.create_superuser(
        "admin", "admin@example.org", PASSWORD
    )
    return official_login(client, official)
