"""The demo: set up, load the sample dumps, and serve the portal.

Run through ``make demo``. Steps:

1. start the embedded PostgreSQL and Redis (unless DATABASE_URL/REDIS_URL
   are set), migrate, collect static files;
2. start the local SMS gateway (``python -m notifications.gateway``), a
   Celery worker and beat;
3. import the population dump (and the record of the cast member who turned
   20 yesterday), create the demo accounts and consents, then import the
   births dumps (CSV and a hospital's FHIR document), the disability,
   payments and tax dumps (the last two with their dates moved to today,
   see ``dated``) and run the daily triggers: the worker evaluates the
   rules and delivers the notifications (email goes to files under
   .data/outbox/, SMS to the local gateway, whose message list the
   cabinet's demo banner links to);
4. serve the site with gunicorn at http://127.0.0.1:8000 until Ctrl-C,
   then stop everything it started.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proactive_portal.embedded import data_dir
from proactive_portal.queues import QUEUES
from samples.generate import write_birthdays

PY = sys.executable
DATA = data_dir()
LOGS = DATA / "logs"
OUTBOX = DATA / "outbox"
HOST, PORT = "127.0.0.1", int(os.environ.get("PORT", "8000"))
BASE_URL = f"http://{HOST}:{PORT}"
GATEWAY_PORT = int(os.environ.get("SMS_GATEWAY_PORT", PORT + 1))
GATEWAY_URL = f"http://{HOST}:{GATEWAY_PORT}"
GATEWAY_TOKEN = "demo-gateway-token"

ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "proactive_portal.settings",
    "PORTAL_DEMO": "true",
    "PORTAL_BASE_URL": BASE_URL,
    "EMAIL_BACKEND": os.environ.get(
        "EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend"
    ),
    "PYTHONUNBUFFERED": "1",
    "SMS_GATEWAYS": json.dumps(
        [{"name": "local", "url": GATEWAY_URL, "token": GATEWAY_TOKEN, "weight": 1}]
    ),
    "SMS_LOCAL_GATEWAY_URL": GATEWAY_URL,
    # The demo is tried at any hour: its SMS must not wait for the morning.
    "NOTIFY_QUIET_HOURS_BY_DEFAULT": os.environ.get(
        "NOTIFY_QUIET_HOURS_BY_DEFAULT", "false"
    ),
}


def manage(*args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [PY, "manage.py", *args],
        cwd=ROOT,
        # The commands' own summaries are what a person reads here; their
        # INFO logs (one line per consent given) would bury them.
        env={**ENV, "LOG_LEVEL": "WARNING"},
        check=True,
        text=True,
        capture_output=capture,
    )
    return result.stdout if capture else ""


def spawn(name: str, *args: str) -> subprocess.Popen:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"{name}.log", "a")
    return subprocess.Popen(
        list(args), cwd=ROOT, env=ENV, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for(check, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: {what} did not happen in {seconds:.0f} s; see {LOGS}")
        time.sleep(0.5)


# The day samples/generate.py writes the dumps for (its TODAY).
SAMPLES_DAY = datetime.date(2026, 11, 20)


def dated(name: str, column: str) -> Path:
    """A copy of samples/<name> whose dates in ``column`` are moved by the
    days between SAMPLES_DAY and today, under the data folder: a payment
    made "five days ago" and a tax "due in ten days" stay so on the day the
    demo runs, and the committed dumps stay as generated."""
    shift = datetime.date.today() - SAMPLES_DAY
    target = DATA / "demo-dumps" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(ROOT / "samples" / name, encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source, delimiter=";"))
    with open(target, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]), delimiter=";")
        writer.writeheader()
        for row in rows:
            when = datetime.date.fromisoformat(row[column]) + shift
            writer.writerow({**row, column: when.isoformat()})
    return target


def stats() -> dict:
    return json.loads(manage("portal_stats", "--json", capture=True))


PID_FILE = DATA / "demo.pid"


def stop_running_demo() -> int:
    """``make stop``: end a running demo (it stops its own processes and
    the embedded servers), then make sure the servers are down."""
    try:
        pid = int(PID_FILE.read_text())
        os.kill(pid, signal.SIGTERM)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        pid = 0
    deadline = time.monotonic() + 60
    while pid and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    subprocess.run([PY, "-m", "proactive_portal.embedded", "stop"], cwd=ROOT, env=ENV)
    return 0


def main() -> int:
    # Ctrl-C and SIGTERM (``make stop``) both end the demo cleanly, at any
    # step: the children and the embedded servers are stopped in ``finally``.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    DATA.mkdir(parents=True, exist_ok=True)
    PID_FILE.write_text(str(os.getpid()))
    try:
        return serve()
    except KeyboardInterrupt:
        print("\nStopping.")
        return 0
    finally:
        PID_FILE.unlink(missing_ok=True)


def serve() -> int:
    print("1/4 Embedded PostgreSQL and Redis, migrations, static files")
    manage("migrate", "--no-input", "-v", "0")
    manage("collectstatic", "--no-input", "-v", "0")

    print("2/4 Local SMS gateway, Celery worker and beat")
    children = [
        spawn(
            "sms-gateway", PY, "-m", "notifications.gateway", "--host", HOST,
            "--port", str(GATEWAY_PORT), "--token", GATEWAY_TOKEN,
            "--portal-url", BASE_URL,
        ),
        spawn(
            "worker", PY, "-m", "celery", "-A", "proactive_portal", "worker",
            "-Q", ",".join(QUEUES), "--concurrency", "2", "--loglevel", "INFO",
        ),
        spawn(
            "beat", PY, "-m", "celery", "-A", "proactive_portal", "beat",
            "--loglevel", "INFO", "--schedule", str(DATA / "celerybeat-schedule"),
        ),
    ]

    def stop(*_):
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        subprocess.run([PY, "-m", "proactive_portal.embedded", "stop"], cwd=ROOT, env=ENV)

    try:
        print("3/4 Registry dumps: population, demo accounts, births, disability, payments, tax")
        manage("import_registry", "population", "samples/population.csv")
        # The passport story needs a birthday the day before the demo runs.
        today = datetime.datetime.now(datetime.UTC).date()
        birthdays = write_birthdays(DATA / "demo-birthdays.csv", today)
        manage("import_registry", "population", str(birthdays))
        codes_file = DATA / "demo-codes.txt"
        manage(
            "create_demo_accounts", "samples/demo_accounts.json",
            "--codes-file", str(codes_file),
        )
        manage("import_registry", "births", "samples/births.csv")
        manage("import_registry", "births", "samples/hospital_births.ndjson")
        manage("import_registry", "disability", "samples/disability.csv")
        payments = dated("payments.csv", "scheduled_on")
        manage("import_registry", "payments", str(payments))
        manage("import_registry", "tax", str(dated("tax.csv", "due_on")))
        manage("run_daily_triggers")
        wait_for(
            lambda: stats()["offers_by_status"].get("offered", 0)
            + stats()["offers_by_status"].get("confirmed", 0)
            > 0,
            "rule evaluation by the Celery worker",
        )
        # SMS in a citizen's quiet hours wait for the morning: the cabinet
        # is what must be delivered before the site opens.
        wait_for(
            lambda: "pending"
            not in stats()["notifications_by_channel_and_status"].get("cabinet", {}),
            "notification delivery",
        )

        print("4/4 Serving the portal")
        children.append(
            spawn(
                # Production's settings (proactive_portal/gunicorn_conf.py)
                # on the demo's address.
                "web", PY, "-m", "gunicorn", "proactive_portal.wsgi",
                "--config", "python:proactive_portal.gunicorn_conf",
                "--bind", f"{HOST}:{PORT}", "--access-logfile", "-",
            )
        )
        current = stats()
        print(
            f"""
Portal is running. Stop it with Ctrl-C.

  Cabinet:  {BASE_URL}/
  Admin:    {BASE_URL}/admin/

  Demo logins (password for all: demo-password-2026):
    anna      — Анна Смирнова: a maternity capital offer (second child)
    elena     — Елена Кузнецова: birth registration (no act yet), maternity capital (first child)
    dmitry    — Дмитрий Кузнецов: the same birth, as the father
    olga      — Ольга Соколова: maternity capital (third child)
    nina      — Нина Морозова: payments in every status, a tax due in ten days
    ivan      — Иван Волков: disability pension, signed with an SMS code
    irina     — Ирина Волкова: birth registration from a hospital's FHIR record, maternity capital
    pavel     — Павел Морозов: passport replacement (turned 20 yesterday)
    official  — an official, for the admin

  After the password the portal asks for a one-time code. Use one of
  these single-use codes (also in {codes_file}); a person can instead
  set up an authenticator app when registering:
{codes_file.read_text(encoding="utf-8")}
  Notifications sent by email: {OUTBOX / 'email'}/
  SMS gateway (messages, replies): {GATEWAY_URL}/
  Logs of worker, beat, web:   {LOGS}/

  Offers: {current['offers_by_status']}
  Notifications: {current['notifications_by_channel_and_status']}
""",
            flush=True,
        )
        while all(child.poll() is None for child in children):
            time.sleep(1)
        print("demo: a process ended; see the logs in", LOGS)
        return 1
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(stop_running_demo() if sys.argv[1:] == ["stop"] else main())
