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
# No control socket (gunicornc): its default path is one per user, shared
# by every server on the machine (the demo, the benchmark, the tests'),
# each taking it from the last. The site is stopped and reloaded by signals.
control_socket_disable = True


def on_starting(server):
    """With SO_REUSEPORT a second server could bind a port another one
    already serves and quietly take half its connections: refuse to start
    when anything listens on the address."""
    import socket

    for address in server.cfg.address:
        if not isinstance(address, tuple):
            continue  # a Unix socket path: gunicorn checks it itself
        host, port = address[0], address[1]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # Ignores connections in TIME_WAIT, not a listening socket.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as error:
                raise SystemExit(f"cannot serve on {host}:{port}: {error}") from None
