"""Benchmark: the dashboard of a logged-in citizen against a bare page.

    .venv/bin/python bench/cabinet_bench.py [--citizens 1000000] [--seconds 20]

1. creates (once) a database ``portal_bench_<N>`` on the embedded
   PostgreSQL, migrates it and fills it set-based with N citizens and one
   offer each (INSERT ... SELECT generate_series);
2. gives one citizen an account with both factors and a few offers,
   applications and upcoming payments, and signs in over HTTP (password,
   then a one-time backup code); the load sends the cookies the browser
   then holds (session and CSRF);
3. serves the portal with gunicorn under the production settings
   (proactive_portal/gunicorn_conf.py: gthread, a worker per core x 2
   threads, a listening socket per worker; --workers/--threads to try
   others);
4. loads ``/health/`` (the bare page) and ``/`` (the dashboard) in turn with
   16 concurrent keep-alive connections, with ``wrk`` when it is installed
   (``apt-get install wrk``), otherwise with a small threaded Python client;
5. prints the figures; the LAST line is one JSON object, with ``ratio`` =
   dashboard requests/s / bare requests/s.

Targets (issue 6): ratio >= 0.4 and dashboard p95 < 50 ms. Query count per
page is checked by tests/test_cabinet_pages.py (at most 6).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
HOST, PORT = "127.0.0.1", int(os.environ.get("BENCH_PORT", "8961"))
CONNECTIONS = 16
PASSWORD = "bench-password-2026"
# The production defaults, from the file production serves with.
from proactive_portal import gunicorn_conf  # noqa: E402

WORKERS, THREADS = gunicorn_conf.workers, gunicorn_conf.threads


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_env(citizens: int) -> dict:
    from proactive_portal import embedded

    services = embedded.ensure_running(embedded.data_dir())
    url = urllib.parse.urlsplit(services.database_url)
    bench_url = urllib.parse.urlunsplit(url._replace(path=f"/portal_bench_{citizens}"))
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "proactive_portal.settings",
        "DATABASE_URL": bench_url,
        "REDIS_URL": services.redis_url,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "_ADMIN_URL": services.database_url,
    }


def ensure_database(env: dict, citizens: int) -> None:
    import psycopg

    admin = env["_ADMIN_URL"]
    name = urllib.parse.urlsplit(env["DATABASE_URL"]).path.lstrip("/")
    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [PY, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def _libpq(url: str) -> str:
    # The embedded server's URL carries its socket folder as ?host=...
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    kwargs = {
        "dbname": parts.path.lstrip("/") or "postgres",
        "user": parts.username or "postgres",
        "host": query.get("host") or parts.hostname or "",
    }
    if parts.port:
        kwargs["port"] = str(parts.port)
    if parts.password:
        kwargs["password"] = parts.password
    return " ".join(f"{k}='{v}'" for k, v in kwargs.items() if v)


FILL = """
import datetime, json, sys
from django.db import connection, transaction
from django.utils import timezone
from cabinet.models import Citizen
from consents.services import give_consent
from django.contrib.auth import get_user_model
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from events.models import ImportBatch, LifeEvent, RegistryRecord, TriggerRule
from offers import services as offer_services
from offers.models import Offer

N = int(sys.argv[1])
rule = TriggerRule.objects.get(code="maternity-capital-second-child")
with transaction.atomic():
    user, _ = get_user_model().objects.get_or_create(username="bench")
    user.set_password(%(password)r)
    user.save()
    me = Citizen.objects.filter(user=user).first()
    if me is None:
        me = Citizen.objects.create(
            user=user, snils="00000000000", last_name="Бенчмаркова",
            first_name="Анна", middle_name="Петровна",
            birth_date=datetime.date(1990, 5, 17), sex="F", region_code="77",
            passport_series="4510", passport_number="123456", email="bench@example.org",
        )
        give_consent(me)
    batch, _ = ImportBatch.objects.get_or_create(
        source="births", file_name="bench", defaults=dict(
            file_format="csv", file_sha256="0" * 64))
    events = []
    for n, (kind, days, data) in enumerate([
        ("birth", -30, {"birth_order": 2}),
        ("birth", -20, {"birth_order": 3}),
        ("payment", 5, {"payment_type": "Единое пособие", "amount": "12345.67"}),
        ("tax_notice", 25, {"tax_type": "Имущество", "amount": "812.00"}),
    ]):
        record, _ = RegistryRecord.objects.get_or_create(
            source="births", record_id=f"bench-{n}",
            defaults=dict(content_hash="0" * 64, data={}, batch=batch))
        event, _ = LifeEvent.objects.get_or_create(
            source="births", record_id=f"bench-{n}", role="mother", defaults=dict(
                event_type=kind, subject_snils=me.snils, citizen=me,
                occurred_on=timezone.localdate() + datetime.timedelta(days=days),
                data=data, registry_record=record, batch=batch))
        events.append(event)

    have = Citizen.objects.count()
    if have < N:
        with connection.cursor() as cursor:
            cursor.execute('''
                INSERT INTO cabinet_citizen (snils, last_name, first_name,
                    middle_name, birth_date, sex, inn, passport_series,
                    passport_number, address, region_code, phone,
                    phone_is_mobile, email, proactive_mode, source_record_id,
                    created_at, updated_at)
                SELECT lpad((10000000000 + i)::text, 11, '0'), 'Иванова',
                    'Мария', 'Петровна', date '1960-01-01' + (i %%%% 15000),
                    'F', '', '4510', lpad((i %%%% 1000000)::text, 6, '0'),
                    'г. Москва', '77', '', false, '', true, 'P' || i,
                    now(), now()
                FROM generate_series(%%s, %%s) AS i
            ''', [have, N - 1])
            cursor.execute('''
                INSERT INTO offers_offer (citizen_id, service_id, rule_id,
                    event_id, status, prefill, created_at, expires_at)
                SELECT c.id, %%s, %%s, %%s, 'offered', '{}'::jsonb, now(),
                    now() + interval '60 days'
                FROM cabinet_citizen c
                ON CONFLICT DO NOTHING
            ''', [rule.service_id, rule.pk, events[0].pk])
            cursor.execute("ANALYZE")
    # The bench citizen: one open offer, one application in progress.
    for event in events[:2]:
        Offer.objects.get_or_create(
            citizen=me, rule=rule, event=event, defaults=dict(
                service_id=rule.service_id, prefill={},
                expires_at=timezone.now() + datetime.timedelta(days=60)))
    confirmed = Offer.objects.filter(citizen=me, event=events[1], status="offered")
    if confirmed.exists():
        offer_services.accept_offer(me, confirmed.get().pk)

    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="bench")
    token = StaticToken.random_token()
    device.token_set.create(token=token)
print(json.dumps({"citizens": Citizen.objects.count(),
                  "offers": Offer.objects.count(), "token": token}))
"""


def fill(env: dict, citizens: int) -> dict:
    started = time.monotonic()
    result = subprocess.run(
        [
            PY,
            "-c",
            "import django, sys; django.setup(); exec(sys.stdin.read())",
            str(citizens),
        ],
        input=FILL % {"password": PASSWORD},
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise SystemExit(f"filling the database failed:\n{result.stderr[-3000:]}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    log(
        f"data: {data['citizens']} citizens, {data['offers']} offers "
        f"({time.monotonic() - started:.0f} s)"
    )
    return data


class Session:
    """A cookie jar over http.client, enough to sign in."""

    def __init__(self):
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None):
        conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            form = {**form, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")}
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://{HOST}:{PORT}{path}"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        content = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        conn.close()
        return response.status, response.getheader("Location"), content


def sign_in(token: str) -> str:
    session = Session()
    session.request("GET", "/login/")
    status, _, _ = session.request(
        "POST", "/login/", {"username": "bench", "password": PASSWORD}
    )
    assert status == 302, f"login answered {status}"
    status, _, _ = session.request("POST", "/2fa/", {"token": token})
    assert status == 302, f"second factor answered {status}"
    status, _, _ = session.request("GET", "/")
    assert status == 200, f"dashboard answered {status}"
    # Every cookie the browser now holds (session and CSRF), as it would
    # send them.
    return "; ".join(f"{k}={v}" for k, v in session.cookies.items())


def serve(env: dict, workers: int, threads: int) -> subprocess.Popen:
    # One server, one configuration, for the bare page and the dashboard:
    # the production settings (proactive_portal/gunicorn_conf.py).
    process = subprocess.Popen(
        [
            PY,
            "-m",
            "gunicorn",
            "proactive_portal.wsgi",
            "--config",
            "python:proactive_portal.gunicorn_conf",
            "--bind",
            f"{HOST}:{PORT}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**env, "WEB_WORKERS": str(workers), "WEB_THREADS": str(threads)},
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, PORT, timeout=2)
            conn.request("GET", "/health/")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    os.killpg(process.pid, signal.SIGTERM)
    raise SystemExit("gunicorn did not start")


WRK_SCRIPT = """
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE") or ""
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"requests\\": %d, \\"seconds\\": %f, \\"errors\\": %d, \\"p50_ms\\": %f, \\"p95_ms\\": %f, \\"p99_ms\\": %f}\\n",
    summary.requests, summary.duration / 1e6,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def load_wrk(path: str, cookie: str, seconds: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    result = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(CONNECTIONS),
            "-d",
            f"{seconds}s",
            "-s",
            script.name,
            f"http://{HOST}:{PORT}{path}",
        ],
        env={**os.environ, "BENCH_COOKIE": cookie},
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(script.name)
    line = next(l for l in result.stdout.splitlines() if l.startswith("JSON "))
    data = json.loads(line[5:])
    data["rps"] = data["requests"] / data["seconds"]
    return data


def load_python(path: str, cookie: str, seconds: int) -> dict:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker():
        conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
        mine = []
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Cookie": cookie})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors[0] += 1
            except OSError:
                errors[0] += 1
                conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
                continue
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "errors": errors[0],
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--citizens", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--threads", type=int, default=THREADS)
    args = parser.parse_args()

    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    load = load_wrk if client == "wrk" else load_python

    env = bench_env(args.citizens)
    log(f"database {urllib.parse.urlsplit(env['DATABASE_URL']).path}: migrating")
    ensure_database(env, args.citizens)
    data = fill(env, args.citizens)
    env.pop("_ADMIN_URL")

    server = serve(env, args.workers, args.threads)
    try:
        cookie = sign_in(data["token"])
        load("/health/", "", 3)  # warm-up
        load("/", cookie, 3)
        bare = load("/health/", "", args.seconds)
        dashboard = load("/", cookie, args.seconds)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    for name, figures in (("bare /health/", bare), ("dashboard /", dashboard)):
        log(
            f"{name:<14} {figures['rps']:8.1f} req/s  p50 {figures['p50_ms']:6.1f} ms"
            f"  p95 {figures['p95_ms']:6.1f} ms  p99 {figures['p99_ms']:6.1f} ms"
            f"  errors {figures['errors']}"
        )
    result = {
        "benchmark": "cabinet_dashboard",
        "client": client,
        "citizens": data["citizens"],
        "offers": data["offers"],
        "connections": CONNECTIONS,
        "workers": args.workers,
        "threads": args.threads,
        "seconds": args.seconds,
        "bare_rps": round(bare["rps"], 1),
        "dashboard_rps": round(dashboard["rps"], 1),
        "ratio": round(dashboard["rps"] / bare["rps"], 3),
        "dashboard_p50_ms": round(dashboard["p50_ms"], 1),
        "dashboard_p95_ms": round(dashboard["p95_ms"], 1),
        "bare_p95_ms": round(bare["p95_ms"], 1),
        "errors": bare["errors"] + dashboard["errors"],
        "target_met": dashboard["rps"] / bare["rps"] >= 0.4
        and dashboard["p95_ms"] < 50,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
