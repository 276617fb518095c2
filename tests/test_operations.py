"""What operators run: portal_stats, and the queues every deployment serves."""

import json
import re

import pytest
from django.core.management import call_command

from proactive_portal.queues import QUEUES
from tests.conftest import ROOT
from tests.factories import CitizenFactory


@pytest.mark.django_db
def test_portal_stats_prints_the_counts_as_json(capsys):
    CitizenFactory.create_batch(3)
    call_command("portal_stats", "--json")
    stats = json.loads(capsys.readouterr().out)
    assert stats["citizens"] == 3
    assert set(stats) == {
        "citizens",
        "events_by_type",
        "offers_by_status",
        "applications_by_status",
        "notifications_by_channel_and_status",
    }


def test_every_queue_has_a_worker_in_docker_compose():
    compose = (ROOT / "docker-compose.yml").read_text()
    listened = set()
    for match in re.finditer(r"-Q[ =]([\w,]+)", compose):
        listened |= set(match.group(1).split(","))
    assert set(QUEUES) <= listened


def test_every_task_is_routed_to_a_known_queue():
    from django.conf import settings

    from proactive_portal.celery import app

    app.loader.import_default_modules()
    ours = [name for name in app.tasks if not name.startswith("celery.")]
    assert ours
    for name in ours:
        prefix = name.split(".")[0] + ".*"
        assert settings.CELERY_TASK_ROUTES[prefix]["queue"] in QUEUES


def test_production_settings_pass_the_deployment_checks():
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "proactive_portal.settings",
        "DJANGO_SECURE": "true",
        "DJANGO_SECRET_KEY": "k" * 20 + "-a-long-random-production-secret-" + "z" * 20,
        "PORTAL_DATA_DIR": os.environ.get("PORTAL_DATA_DIR", str(ROOT / ".data" / "test")),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_a_second_web_server_refuses_a_port_already_served(tmp_path):
    """Each gunicorn worker listens on its own socket (SO_REUSEPORT), which
    would let a second server share a port in use: the configuration
    refuses to start instead, and the first keeps serving. Neither opens
    gunicorn's control socket, whose one path per user every server on the
    machine would otherwise share."""
    import http.client
    import os
    import socket
    import subprocess
    import sys
    import time

    from tests.conftest import _database_url

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "proactive_portal.settings_test",
        "DATABASE_URL": _database_url(),
        "WEB_WORKERS": "1",
        "HOME": str(tmp_path),
    }
    env.pop("XDG_RUNTIME_DIR", None)
    command = [
        sys.executable, "-m", "gunicorn", "proactive_portal.wsgi",
        "--config", "python:proactive_portal.gunicorn_conf",
        "--bind", f"127.0.0.1:{port}",
    ]
    first = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health/")
                assert conn.getresponse().status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "the first server did not start"
                time.sleep(0.3)

        second = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )

        assert second.returncode != 0
        assert f"cannot serve on 127.0.0.1:{port}" in second.stderr + second.stdout
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/health/")
        assert conn.getresponse().status == 200
        assert not (tmp_path / ".gunicorn").exists()
    finally:
        first.terminate()
        first.wait(timeout=30)
