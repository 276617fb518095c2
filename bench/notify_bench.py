"""Benchmark of the notification outbox, end to end.

    .venv/bin/python bench/notify_bench.py [--offers 100000] [--latency-births 10000]

On its own embedded PostgreSQL and Redis (``.data/bench``, wiped first), it
starts the local SMS gateway, a local SMTP server (aiosmtpd, discarding
mail) and real Celery workers, then:

1. throughput: imports a births dump that makes ``--offers`` offers; each
   fans out to cabinet, SMS and email. Prints notices per second from the
   import's commit to the last notice delivered (and when all were
   written);
2. baseline, same run: the rate of a trivial batched Celery task
   (``notifications.noop_batch``, 1,000 items a task) over as many items,
   and the ratio of the two;
3. latency: a second births dump of ``--latency-births`` rows; for each
   SMS, the time from the import's commit to its arrival at the gateway;
   prints the first and the 95th percentile.

The machine may be shared: besides the wall-clock figures it prints the
CPU seconds each part (workers, PostgreSQL, Redis, the local gateway and
SMTP server, the bench's own import) spent on the throughput run, per
notice. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data" / "bench"
sys.path.insert(0, str(ROOT))
PY = sys.executable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def snils(n: int) -> str:
    from events.values import snils_check_number

    nine = f"{n:09d}"
    return nine + f"{snils_check_number(nine):02d}"


def write_dumps(folder: Path, first: int, count: int, tag: str) -> tuple[Path, Path]:
    from tests.helpers import BIRTHS_HEADER, POPULATION_HEADER, birth, person

    population = folder / f"population-{tag}.csv"
    births = folder / f"births-{tag}.csv"
    with open(population, "w", newline="") as p, open(births, "w", newline="") as b:
        pw = csv.writer(p, delimiter=";")
        bw = csv.writer(b, delimiter=";")
        pw.writerow(POPULATION_HEADER)
        bw.writerow(BIRTHS_HEADER)
        for n in range(first, first + count):
            number = snils(3_000_000 + n)
            phone = f"+7916{n:07d}"
            pw.writerow(person(f"P{n}", number, phone=phone, email=f"c{n}@example.org"))
            bw.writerow(birth(f"B{n}", number, act_number=f"{n:012d}"))
    return population, births


def cpu_seconds(roots: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds (user + system) of each named group of processes and
    their children, as far as they are alive. The bench's own process is
    counted alone: the others are its children."""
    import psutil

    spent = {}
    for name, pids in roots.items():
        total = 0.0
        for pid in pids:
            try:
                root = psutil.Process(pid)
                processes = [root]
                if pid != os.getpid():
                    processes += root.children(recursive=True)
            except psutil.NoSuchProcess:
                continue
            for process in processes:
                try:
                    times = process.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                total += times.user + times.system
        spent[name] = total
    return spent


def server_pid(pid_file: Path) -> int:
    return int(pid_file.read_text().split()[0])


def main() -> int:
    # Stopped with SIGTERM: still stop the servers and workers it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--latency-births", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    subprocess.run(
        [PY, "-m", "proactive_portal.embedded", "stop"],
        cwd=ROOT,
        env={**os.environ, "PORTAL_DATA_DIR": str(DATA)},
        capture_output=True,
    )
    shutil.rmtree(DATA, ignore_errors=True)
    gateway_port, smtp_port = free_port(), free_port()
    os.environ.update(
        {
            "PORTAL_DATA_DIR": str(DATA),
            "DJANGO_SETTINGS_MODULE": "proactive_portal.settings",
            "SMS_GATEWAYS": json.dumps(
                [
                    {
                        "name": "bench",
                        "url": f"http://127.0.0.1:{gateway_port}",
                        "token": "bench-token",
                        "weight": 1,
                    }
                ]
            ),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from notifications.backends.sms import _redis
    from notifications.tasks import noop_batch

    call_command("migrate", "--no-input", "-v", "0")
    folder = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    n, m = args.offers, args.latency_births
    pop_a, births_a = write_dumps(folder, 0, n, "a")
    pop_b, births_b = write_dumps(folder, n, m, "b")

    children = []
    logs = DATA / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    def spawn(name, *command):
        log = open(logs / f"{name}.log", "w")
        children.append(
            subprocess.Popen(
                command,
                cwd=ROOT,
                env=os.environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    spawn(
        "gateway",
        PY,
        "-m",
        "notifications.gateway",
        "--port",
        str(gateway_port),
        "--token",
        "bench-token",
        "--name",
        "bench",
    )
    spawn(
        "smtp",
        PY,
        "-m",
        "aiosmtpd",
        "-n",
        "-l",
        f"127.0.0.1:{smtp_port}",
        "-c",
        "aiosmtpd.handlers.Sink",
    )

    def count(sql, params=()):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    def gateway_log(since=0):
        url = f"http://127.0.0.1:{gateway_port}/api/v1/log?since={since}"
        with urllib.request.urlopen(url) as r:
            return json.loads(r.read())

    try:
        print(f"population: {n + m} citizens", flush=True)
        call_command("import_registry", "population", str(pop_a), "-v", "0")
        call_command("import_registry", "population", str(pop_b), "-v", "0")
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO consents_consent (citizen_id, purpose, text_version,
                    given_at, valid_until, user_agent)
                SELECT id, 'proactive', 'bench', now(), now() + interval '1 year', ''
                FROM cabinet_citizen
                """
            )
            # Quiet hours off, so that the figures do not depend on the
            # hour the bench runs at (quiet hours have their own tests).
            cursor.execute(
                """
                INSERT INTO notifications_deliveryprofile (citizen_id, disabled,
                    quiet_hours, quiet_start, quiet_end, daily_cap,
                    email_unusable_reason)
                SELECT id, '{}', false, '22:00', '08:00', 5, '' FROM cabinet_citizen
                """
            )
        _redis().flushdb()  # the population imports' evaluations: nothing to do

        for w in range(args.workers):
            spawn(
                f"worker{w}",
                PY,
                "-m",
                "celery",
                "-A",
                "proactive_portal",
                "worker",
                "-Q",
                "events,notifications",
                "-c",
                str(args.concurrency),
                "--without-mingle",
                "--without-gossip",
                "-l",
                "WARNING",
                "-n",
                f"bench{w}@%h",
            )
        time.sleep(6)

        # 1. Throughput --------------------------------------------------
        print(f"throughput: {n} births -> offers -> {3 * n} notices", flush=True)
        groups = {
            "workers": [c.pid for c in children[2:]],
            "postgres": [server_pid(DATA / "pg" / "postmaster.pid")],
            "redis": [server_pid(DATA / "redis" / "redis.pid")],
            "gateway": [children[0].pid],
            "smtp": [children[1].pid],
            "bench": [os.getpid()],
        }
        cpu_before = cpu_seconds(groups)
        call_command("import_registry", "births", str(births_a), "-v", "0")
        committed = time.monotonic()
        written_at = None
        total = 3 * n
        while True:
            time.sleep(0.5)
            rows = count("SELECT count(*) FROM notifications_notification")
            if written_at is None and rows >= total:
                written_at = time.monotonic()
            open_rows = count(
                "SELECT count(*) FROM notifications_notification "
                "WHERE status IN ('pending', 'sending')"
            )
            if rows >= total and open_rows == 0:
                break
            if time.monotonic() - committed > 3600:
                raise SystemExit("throughput: not finished within an hour")
        finished = time.monotonic()
        cpu_after = cpu_seconds(groups)
        delivered = count(
            "SELECT count(*) FROM notifications_notification WHERE status = 'sent'"
        )
        elapsed = finished - committed
        rate = delivered / elapsed
        print(
            f"  {delivered} notices sent in {elapsed:.1f} s: {rate:.0f}/s; "
            f"all written after {written_at - committed:.1f} s",
            flush=True,
        )
        cpu = {k: cpu_after[k] - cpu_before[k] for k in groups}
        cpu_total = sum(cpu.values())
        print(
            "  CPU seconds: "
            + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
            + f"; {1000 * cpu_total / delivered:.3f} ms per notice, "
            f"{delivered / cpu_total:.0f} notices per CPU second",
            flush=True,
        )

        # 2. Baseline: a trivial batched task over as many items ------------
        key = "bench:noop"
        redis = _redis()
        redis.delete(key)
        started = time.monotonic()
        for start in range(0, total, 1000):
            noop_batch.delay(list(range(start, min(start + 1000, total))), key)
        while int(redis.get(key) or 0) < total:
            time.sleep(0.05)
        baseline = total / (time.monotonic() - started)
        print(f"baseline: trivial batched task {baseline:.0f} items/s", flush=True)

        # 3. Latency ---------------------------------------------------------
        print(f"latency: {m} births", flush=True)
        before = gateway_log(since=10**9)["state"]["messages"]  # the count only
        call_command("import_registry", "births", str(births_b), "-v", "0")
        commit_wall = time.time()
        offers_written = None
        sms_rows = "SELECT count(*) FROM notifications_notification WHERE channel = %s"
        while True:
            time.sleep(0.2)
            if offers_written is None and count(sms_rows, ["sms"]) >= n + m:
                # Evaluation has committed the offers and their outbox rows.
                offers_written = time.time() - commit_wall
            # Only the new ones: the whole log would be 100,000 records.
            messages = gateway_log(before)["messages"]
            if len(messages) >= m:
                break
            if time.time() - commit_wall > 600:
                raise SystemExit("latency: SMS did not all arrive in 10 minutes")
        delays = sorted(msg["received_monotonic"] - commit_wall for msg in messages[:m])
        offers_written = offers_written or float("nan")
        first = delays[0]
        p95 = delays[int(0.95 * (len(delays) - 1))]
        print(
            f"  offers and notices written after {offers_written:.2f} s; "
            f"first SMS after {first:.2f} s; p95 {p95:.2f} s",
            flush=True,
        )

        result = {
            "offers": n,
            "notices": delivered,
            "notices_per_second": round(rate),
            "written_seconds": round(written_at - committed, 2),
            "cpu_seconds": {k: round(v, 1) for k, v in cpu.items()},
            "cpu_ms_per_notice": round(1000 * cpu_total / delivered, 3),
            "baseline_items_per_second": round(baseline),
            "ratio": round(rate / baseline, 3),
            "latency_births": m,
            "latency_written_seconds": round(offers_written, 2),
            "first_sms_seconds": round(first, 2),
            "p95_sms_seconds": round(p95, 2),
            "workers": args.workers,
            "concurrency": args.concurrency,
            "cpus": os.cpu_count(),
        }
        print(json.dumps(result))
        return 0
    finally:
        for child in children:
            try:
                os.killpg(child.pid, 15)
            except ProcessLookupError:
                pass
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, 9)
        shutil.rmtree(folder, ignore_errors=True)
        connection.close()
        subprocess.run([PY, "-m", "proactive_portal.embedded", "stop"], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
