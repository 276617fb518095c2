"""Benchmark: import_registry against PostgreSQL's own COPY of the same rows.

    .venv/bin/python bench/import_bench.py [N]      (default N = 1,000,000)

Generates N population rows and N birth records whose mothers are those
people, loads the population with the command (not timed), then times

- the real command: ``manage.py import_registry births FILE`` in a child
  process, whose peak memory (ru_maxrss of that child) is reported too;
- a raw ``COPY ... FROM STDIN (FORMAT csv)`` of the same births file into a
  bare table of text columns, on the same database in the same run;
- a floor under any importer: a COPY of the rows the command stored for the
  births (registry record and life event) into copies of their tables,
  bare and with the tables' indexes, as a share of the raw COPY's rate.

It runs against its own embedded PostgreSQL under ``.data/bench`` (or
``DATABASE_URL``/``REDIS_URL`` when set), emptied first. The last line of
output is one JSON object with both rates, their ratio and the peak memory.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "proactive_portal.settings",
    "PORTAL_DATA_DIR": os.environ.get("PORTAL_DATA_DIR", str(ROOT / ".data" / "bench")),
}
os.environ.update(ENV)

POPULATION = [
    "record_id",
    "snils",
    "last_name",
    "first_name",
    "middle_name",
    "birth_date",
    "sex",
    "inn",
    "passport_series",
    "passport_number",
    "passport_issued_on",
    "address",
    "region_code",
    "phone",
    "email",
    "death_date",
]
BIRTHS = [
    "record_id",
    "child_last_name",
    "child_first_name",
    "child_middle_name",
    "child_birth_date",
    "child_sex",
    "child_snils",
    "mother_snils",
    "father_snils",
    "birth_order",
    "place_of_birth",
    "act_number",
    "act_date",
    "stillborn",
]


def snils(number: int) -> str:
    from events.values import snils_check_number

    nine = f"{number:09d}"
    return nine + f"{snils_check_number(nine):02d}"


def generate(folder: Path, n: int) -> tuple[Path, Path]:
    rng = random.Random(3)
    population, births = folder / "population.csv", folder / "births.csv"
    base = datetime.date(2026, 1, 1)
    with (
        open(population, "w", newline="", encoding="utf-8") as p_handle,
        open(births, "w", newline="", encoding="utf-8") as b_handle,
    ):
        p_rows, b_rows = (
            csv.writer(p_handle, delimiter=";"),
            csv.writer(b_handle, delimiter=";"),
        )
        p_rows.writerow(POPULATION)
        b_rows.writerow(BIRTHS)
        for i in range(n):
            mother = snils(2_000_000 + i)
            born = datetime.date(1975 + i % 25, 1 + i % 12, 1 + i % 28)
            p_rows.writerow(
                [
                    f"P{i}",
                    mother,
                    "Петрова",
                    "Алёна",
                    "Игоревна",
                    born.strftime("%d.%m.%Y"),
                    "Ж",
                    "",
                    "4512",
                    f"{i % 1_000_000:06d}",
                    "2012-04-01",
                    "г. Тверь, ул. Советская, д. 5",
                    "69",
                    f"+7912{i % 10_000_000:07d}",
                    "",
                    "",
                ]
            )
            child_born = base + datetime.timedelta(days=rng.randrange(300))
            b_rows.writerow(
                [
                    f"B{i}",
                    "Петров",
                    "Фёдор",
                    "Ильич",
                    child_born.isoformat(),
                    "M",
                    "",
                    mother,
                    "",
                    str(1 + i % 3),
                    "г. Тверь",
                    f"1202690{i:07d}",
                    (child_born + datetime.timedelta(days=3)).isoformat(),
                    "",
                ]
            )
    return population, births


def run_command(*args: str) -> tuple[dict, float, int]:
    """Run manage.py in a child; (JSON summary, seconds, peak RSS in MiB)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "manage.py", *args, "--json", "--no-progress"],
            cwd=ROOT,
            env=ENV,
            stdout=out,
            stderr=err,
            text=True,
        )
        # wait4 gives this child's own resource usage (not the other runs').
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        log = err.read()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"command failed: {log}")
        for line in log.splitlines():
            if "phase=" in line:  # where the time went, step by step
                print("  " + line.split("import phase ", 1)[-1])
        return (
            json.loads(out.read().strip().splitlines()[-1]),
            elapsed,
            usage.ru_maxrss // 1024,
        )


def raw_copy(path: Path) -> float:
    import django

    django.setup()
    from django.db import connection

    columns = ", ".join(f"{name} text" for name in BIRTHS)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_births")
        cursor.execute(f"CREATE TABLE bench_raw_births ({columns})")
        started = time.perf_counter()
        with (
            cursor.copy(
                "COPY bench_raw_births FROM STDIN (FORMAT csv, HEADER true, DELIMITER ';')"
            ) as copy,
            open(path, "rb") as handle,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_raw_births")
    connection.close()
    return elapsed


# The rows a birth leaves stored: its registry record and its life event.
STORED = ("events_registryrecord", "events_lifeevent")


def stored_rows_copy(tmp: Path) -> dict[str, float]:
    """A floor under any importer: the seconds to COPY the births' finished
    rows (record and event, as the command stored them) into copies of
    their tables, bare and with the tables' indexes. No parsing, checking
    or merging; only what storing them costs."""
    import django

    django.setup()
    from django.db import connection

    seconds = {"bare": 0.0, "indexed": 0.0}
    with connection.cursor() as cursor:
        for table in STORED:
            dump = tmp / f"{table}.copy"
            with (
                cursor.copy(
                    f"COPY (SELECT * FROM {table} WHERE source = 'births') TO STDOUT"
                ) as copy,
                open(dump, "wb") as handle,
            ):
                for data in copy:
                    handle.write(data)
            for kind, like in (("bare", "INCLUDING DEFAULTS"), ("indexed", "INCLUDING ALL")):
                cursor.execute(f"DROP TABLE IF EXISTS bench_stored_{kind}")
                cursor.execute(f"CREATE TABLE bench_stored_{kind} (LIKE {table} {like})")
                started = time.perf_counter()
                with (
                    cursor.copy(f"COPY bench_stored_{kind} FROM STDIN") as copy,
                    open(dump, "rb") as handle,
                ):
                    while chunk := handle.read(1 << 20):
                        copy.write(chunk)
                seconds[kind] += time.perf_counter() - started
                cursor.execute(f"DROP TABLE bench_stored_{kind}")
            dump.unlink()
    connection.close()
    return seconds


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=ENV,
        check=True,
    )
    subprocess.run(
        [sys.executable, "manage.py", "flush", "--no-input"],
        cwd=ROOT,
        env=ENV,
        check=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        population, births = generate(Path(tmp), n)
        print(f"generated {n} population rows and {n} births", flush=True)
        summary, seconds, _ = run_command(
            "import_registry", "population", str(population)
        )
        print(f"population: {summary['stored']} stored in {seconds:.1f} s", flush=True)

        copy_seconds = raw_copy(births)
        summary, seconds, peak_mib = run_command(
            "import_registry", "births", str(births)
        )
        if summary["stored"] != n:
            raise SystemExit(f"expected {n} stored, got {summary}")
        floor = stored_rows_copy(Path(tmp))

    command_rate = n / seconds
    copy_rate = n / copy_seconds
    print(
        f"import_registry births: {n} rows in {seconds:.1f} s = {command_rate:,.0f} rows/s, "
        f"peak memory {peak_mib} MiB"
    )
    print(f"raw COPY of the same rows: {copy_seconds:.1f} s = {copy_rate:,.0f} rows/s")
    for kind in ("bare", "indexed"):
        print(
            f"floor: COPY of the stored record and event rows into {kind} copies "
            f"of their tables: {floor[kind]:.1f} s = {n / floor[kind]:,.0f} births/s, "
            f"{n / floor[kind] / copy_rate:.3f} of the raw COPY"
        )
    print(
        json.dumps(
            {
                "n": n,
                "command_seconds": round(seconds, 2),
                "command_rows_per_s": round(command_rate),
                "copy_seconds": round(copy_seconds, 2),
                "copy_rows_per_s": round(copy_rate),
                "ratio": round(command_rate / copy_rate, 3),
                "peak_memory_mib": peak_mib,
                "floor_bare_ratio": round(n / floor["bare"] / copy_rate, 3),
                "floor_indexed_ratio": round(n / floor["indexed"] / copy_rate, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
