"""The command as separate processes: killed half-way and run again, and
two imports of different sources at once."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings

from cabinet.models import Citizen
from events.models import ImportBatch, LifeEvent, RegistryRecord
from tests.conftest import ROOT, _database_url
from tests.factories import next_snils
from tests.helpers import BIRTHS_HEADER, POPULATION_HEADER, birth, person


@pytest.fixture
def command(transactional_db, django_db_serialized_rollback, tmp_path):
    """Start ``manage.py import_registry`` in a child process against the
    test database (the test's data is committed, so the child sees it)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "proactive_portal.settings_test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": django_settings.CELERY_BROKER_URL,
        "IMPORT_REPORT_DIR": str(tmp_path / "reports"),
        "DATABASE_CONN_MAX_AGE": "0",
    }

    def start(source, path, stderr=subprocess.PIPE):
        return subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "import_registry",
                source,
                str(path),
                "--json",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )

    return start


def write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def summary_of(process):
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_a_killed_import_stores_nothing_and_a_rerun_stores_every_record_once(
    command, tmp_path
):
    n = 60_000
    path = write(
        tmp_path / "population.csv",
        POPULATION_HEADER,
        [person(f"P{i}") for i in range(n)],
    )

    process = command("population", path)
    deadline = time.monotonic() + 60
    while not ImportBatch.objects.filter(status=ImportBatch.Status.RUNNING).exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)  # well into reading and COPY
    assert process.poll() is None, "the import ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert Citizen.objects.count() == 0 and RegistryRecord.objects.count() == 0
    killed = ImportBatch.objects.get()

    summary = summary_of(command("population", path))

    assert (summary["read"], summary["stored"], summary["duplicates"]) == (n, n, 0)
    assert Citizen.objects.count() == n
    assert RegistryRecord.objects.filter(source="population").count() == n
    killed.refresh_from_db()
    assert killed.status == ImportBatch.Status.FAILED and "прервана" in killed.error


def test_two_imports_of_different_sources_run_at_once(command, tmp_path):
    n = 5_000
    people = write(
        tmp_path / "population.csv",
        POPULATION_HEADER,
        [person(f"P{i}") for i in range(n)],
    )
    births = write(
        tmp_path / "births.csv",
        BIRTHS_HEADER,
        [birth(f"B{i}", next_snils()) for i in range(n)],
    )

    first, second = command("population", people), command("births", births)
    population_summary, births_summary = summary_of(first), summary_of(second)

    assert population_summary["stored"] == n and births_summary["stored"] == n
    assert Citizen.objects.count() == n
    assert LifeEvent.objects.filter(event_type="birth").count() == n
    assert set(ImportBatch.objects.values_list("status", flat=True)) == {"completed"}


def test_a_progress_bar_on_a_terminal(command, tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    path = write(
        tmp_path / "p.csv", POPULATION_HEADER, [person(f"P{i}") for i in range(50)]
    )
    controller, terminal = pty.openpty()
    # A terminal of 24 x 100 characters (a new pty has none, and tqdm would
    # draw a bar of zero width).
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = command("population", path, stderr=terminal)
    os.close(terminal)
    summary_of(process)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)

    text = shown.decode("utf-8", "replace")
    assert "Загрузка" in text and "50" in text and "\r" in text


def test_exit_status_is_non_zero_only_when_the_file_cannot_be_used(command, tmp_path):
    good = write(tmp_path / "p.csv", POPULATION_HEADER, [person("P1", birth_date="x")])
    process = command("population", good)
    summary = summary_of(process)  # exit 0 though its one row is rejected
    assert summary["rejected"] == 1

    bad = tmp_path / "empty.csv"
    bad.write_bytes(b"")
    process = command("population", bad)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "Файл не принят" in err and "empty.csv" in err
