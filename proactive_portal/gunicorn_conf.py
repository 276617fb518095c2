"""gunicorn's settings, one file for every way the site is served (Docker,
compose, the cabinet benchmark), so what is measured is what runs.

A worker process per core, two threads in each. A signed-in page waits on
one PostgreSQL round trip (cabinet.identity), which a second thread fills;
more threads only queue for the interpreter's lock (measured with
bench/cabinet_bench.py on two cores: 2 x 8 threads served the dashboard
about 10% slower, at a p95 half as high again, than 2 x 2). Deployments
with many slow pages (large uploads, PDF statements) can raise
WEB_THREADS; both can be set from the environment (WEB_WORKERS,
WEB_THREADS).

Each worker listens on its own socket (SO_REUSEPORT), so the kernel spreads
new connections evenly across them. On one shared socket the first worker
to wake took most of a burst of keep-alive connections and left the other
core idle for as long as those connections lived.
"""

import os

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS") or os.cpu_count() or 2)
threads = int(os.environ.get("WEB_THREADS") or 2)
keepalive = 5
reuse_port = True
