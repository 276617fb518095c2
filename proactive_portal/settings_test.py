"""Settings for the test suite: the same embedded mechanism, with its own
data folder, so tests never touch the demo's database or queues. pytest-
django creates and drops a throwaway database on that server."""

import os
from pathlib import Path

os.environ.setdefault(
    "PORTAL_DATA_DIR", str(Path(__file__).resolve().parent.parent / ".data" / "test")
)

from .settings import *  # noqa: E402,F403
from .settings import DATA_DIR, env  # noqa: E402

Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# A worker process started by the tests gets its outbox paths from the
# environment; the test process itself keeps mail in memory.
EMAIL_BACKEND = env(
    "EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend"
)
IMPORT_REPORT_DIR = DATA_DIR / "reports"
# Delivery must not depend on the hour the suite runs at (a worker process
# cannot have its clock frozen): citizens have no quiet hours unless a
# test gives them some, as the quiet-hours tests do.
NOTIFY_QUIET_HOURS_BY_DEFAULT = env.bool("NOTIFY_QUIET_HOURS_BY_DEFAULT", default=False)
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
