"""gunicorn's settings, one file for every way the site is served (Docker,
compose, the cabinet benchmark), so what is measured is what runs.

A worker process per core, and threads within it: a cabinet page spends
most of its time waiting on PostgreSQL and Redis round trips, which other
threads fill; more processes than cores only fight for the CPU. Both can be
set from the environment (WEB_WORKERS, WEB_THREADS).
"""

import os

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS") or os.cpu_count() or 2)
threads = int(os.environ.get("WEB_THREADS") or 8)
keepalive = 5
