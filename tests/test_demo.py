"""The README's demo command, run as a person runs it."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.demo


def _free_port_pair() -> int:
    """A port P with P+1 free too (the demo's local SMS gateway)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of ports")


def _processes_of(data_dir: str) -> list[psutil.Process]:
    """Every process the demo started: they carry its data folder in their
    environment, and the servers name it on their command lines."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if process.pid == os.getpid():
                continue
            command = " ".join(process.info["cmdline"] or [])
            environ = process.environ()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if data_dir in command or environ.get("PORTAL_DATA_DIR") == data_dir:
            found.append(process)
    return found


def test_the_demo_serves_the_portal_and_make_stop_ends_all_of_it(tmp_path):
    """Regression: ``make stop`` during a running demo stopped only the
    database and Redis, leaving the web server, the worker, beat and the
    gateway running against servers that were gone."""
    data_dir = str(tmp_path / "data")
    port = _free_port_pair()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(PORTAL_DATA_DIR=data_dir, PORT=str(port))
    log_path = tmp_path / "demo.out"

    with open(log_path, "w") as log:
        demo = subprocess.Popen(
            [sys.executable, "scripts/demo.py"], cwd=ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while "Portal is running" not in log_path.read_text():
            assert demo.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(1)

        output = log_path.read_text()
        assert f"http://127.0.0.1:{port}/admin/" in output
        assert "'offered':" in output
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/") as page:
            assert page.status == 200
        assert len(_processes_of(data_dir)) >= 5  # servers, worker, beat, web

        stop = subprocess.run(
            ["make", "stop"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert stop.returncode == 0, stop.stderr

        assert demo.wait(timeout=60) == 0
        deadline = time.monotonic() + 30
        while _processes_of(data_dir) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _processes_of(data_dir) == []
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        for process in _processes_of(data_dir):
            process.kill()
