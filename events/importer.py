"""Loading one registry dump: stream, validate, COPY, merge set-based.

The steps, all in one transaction so that a failure leaves nothing half
stored:

1. Records are read one at a time and validated; valid ones are written with
   COPY into a temporary staging table, rejected ones to the CSV report.
2. Repeats of a record_id inside the file are settled in SQL: the same
   content again is a duplicate, other content is rejected.
3. Each staged record is classified against ``RegistryRecord``: new, a
   duplicate (same content hash), or a correction (other hash; the earlier
   content is kept as a version).
4. The source's own merge writes citizens or life events, set-based.

Memory stays flat: nothing holds more than one record in Python.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import schemas
from .models import ImportBatch, RejectedRow, Source
from .parsers import DumpError, RawRecord, read_csv, read_rogd, sniff_format

logger = logging.getLogger(__name__)

FORMATS = {
    Source.POPULATION: ("csv",),
    Source.BIRTHS: ("csv", "rogd"),
}


@dataclass
class ImportSummary:
    batch_id: str
    source: str
    file_format: str
    read: int
    stored: int
    updated: int
    duplicates: int
    rejected: int
    report: str
    elapsed: float
    event_count: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        return (
            f"Загрузка {self.batch_id}: прочитано {self.read}, сохранено "
            f"{self.stored}, исправлено {self.updated}, повторов "
            f"{self.duplicates}, отклонено {self.rejected} "
            f"({self.elapsed:.1f} с)"
        )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for item in files:
        with open(item, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _content_hash(data: dict) -> str:
    canonical = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def detect_format(source: str, path: Path, named: str | None) -> str:
    allowed = FORMATS[source]
    if named:
        if named not in allowed:
            raise DumpError(
                f"источник {source} не принимает формат {named}; "
                f"допустимы: {', '.join(allowed)}"
            )
        return named
    sniffed = sniff_format(path)
    if sniffed == "csv":
        return "csv"
    if "rogd" in allowed:
        return "rogd"
    raise DumpError(f"{path.name}: источник {source} принимает только CSV")


def _records(source: str, path: Path, file_format: str) -> Iterator[RawRecord]:
    if file_format == "rogd":
        return read_rogd(path)
    return read_csv(path, schemas.required_columns(source))


class _Report:
    """The rejected-rows CSV: line, record_id, column, reason."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handle = open(path, "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(["file", "line", "record_id", "column", "reason"])
        self.count = 0

    def reject(self, file_name, line, record_id, problems) -> None:
        self.count += 1
        for column, reason in problems:
            self._writer.writerow([file_name, line, record_id, column, reason])

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


_STAGE_DDL = """
CREATE TEMP TABLE import_stage (
    file_name text NOT NULL,
    line integer NOT NULL,
    record_id text NOT NULL,
    content_hash text NOT NULL,
    data jsonb NOT NULL,
    outcome text
) ON COMMIT DROP
"""


def run_import(
    source: str,
    path: Path,
    file_format: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import one dump. Raises ``DumpError`` when the file cannot be used;
    the batch is then recorded as failed and nothing else is stored."""
    started = time.monotonic()
    if source not in FORMATS:
        raise DumpError(f"неизвестный источник {source!r}; допустимы: {', '.join(FORMATS)}")
    if not path.exists():
        raise DumpError(f"{path}: файл не найден")

    file_format = detect_format(source, path, file_format)
    batch = ImportBatch.objects.create(
        source=source,
        file_format=file_format,
        file_name=path.name,
        file_sha256=_file_sha256(path),
    )
    report = _Report(Path(settings.IMPORT_REPORT_DIR) / f"{batch.id}.csv")
    logger.info("import started batch=%s source=%s format=%s", batch.id, source, file_format)

    try:
        with transaction.atomic():
            counts = _load(batch, source, path, file_format, report, progress)
    except DumpError as error:
        report.close()
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.FAILED,
            error=str(error),
            finished_at=timezone.now(),
        )
        logger.warning("import failed batch=%s reason=%s", batch.id, error)
        raise
    report.close()

    summary = ImportSummary(
        batch_id=str(batch.id),
        source=source,
        file_format=file_format,
        report=str(report.path),
        elapsed=round(time.monotonic() - started, 3),
        **counts,
    )
    logger.info(
        "import finished batch=%s read=%d stored=%d updated=%d duplicates=%d rejected=%d",
        batch.id,
        summary.read,
        summary.stored,
        summary.updated,
        summary.duplicates,
        summary.rejected,
    )
    return summary


def _load(batch, source, path, file_format, report, progress) -> dict:
    read = 0
    with connection.cursor() as cursor:
        cursor.execute(_STAGE_DDL)
        with cursor.copy(
            "COPY import_stage (file_name, line, record_id, content_hash, data) "
            "FROM STDIN"
        ) as copy:
            for raw in _records(source, path, file_format):
                read += 1
                if progress and read % 10_000 == 0:
                    progress(read)
                record_id = raw.fields.get("record_id", "").strip()
                data, problems = schemas.validate(source, raw)
                if data is None:
                    report.reject(raw.file_name, raw.line, record_id, problems)
                    continue
                copy.write_row(
                    (
                        raw.file_name,
                        raw.line,
                        record_id,
                        _content_hash(data),
                        json.dumps(data, ensure_ascii=False),
                    )
                )
        if progress:
            progress(read)

        cursor.execute("CREATE INDEX ON import_stage (record_id, line)")
        cursor.execute("ANALYZE import_stage")
        in_file_duplicates = _settle_repeats(cursor, report)
        _CHECKS[source](cursor, report)
        stored, updated, duplicates = _classify(cursor, batch, source)
        event_count = _MERGES[source](cursor, batch)
        cursor.execute("DROP TABLE import_stage")

    report.flush()
    _store_rejections(batch, report.path)
    counts = {
        "read": read,
        "stored": stored,
        "updated": updated,
        "duplicates": duplicates + in_file_duplicates,
        "rejected": report.count,
        "event_count": event_count,
    }
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.COMPLETED,
        finished_at=timezone.now(),
        report_path=str(report.path),
        **{k: v for k, v in counts.items() if k != "event_count"},
    )
    if event_count:
        from .tasks import evaluate_batch

        batch_id = str(batch.id)
        transaction.on_commit(lambda: evaluate_batch.delay(batch_id))
    return counts


def _settle_repeats(cursor, report) -> int:
    """A record_id repeated inside the file: the same content again is a
    duplicate; other content is rejected, since the file cannot say which
    one the agency meant."""
    cursor.execute(
        """
        WITH first AS (
            SELECT DISTINCT ON (record_id) record_id, line, content_hash
            FROM import_stage ORDER BY record_id, line
        )
        UPDATE import_stage s
        SET outcome = CASE WHEN s.content_hash = f.content_hash
                           THEN 'repeat' ELSE 'conflict:' || f.line END
        FROM first f
        WHERE s.record_id = f.record_id AND s.line > f.line
        """
    )
    cursor.execute(
        "SELECT file_name, line, record_id, outcome FROM import_stage "
        "WHERE outcome LIKE 'conflict:%%' ORDER BY line"
    )
    for file_name, line, record_id, outcome in cursor.fetchall():
        first_line = outcome.split(":", 1)[1]
        report.reject(
            file_name,
            line,
            record_id,
            [("record_id", f"запись с этим record_id уже была в строке {first_line} с другим содержимым")],
        )
    cursor.execute("SELECT count(*) FROM import_stage WHERE outcome = 'repeat'")
    repeats = cursor.fetchone()[0]
    cursor.execute("DELETE FROM import_stage WHERE outcome IS NOT NULL")
    return repeats


def _classify(cursor, batch, source) -> tuple[int, int, int]:
    """Mark each staged record new, duplicate or correction, keep the earlier
    content of corrections, and upsert ``RegistryRecord``."""
    cursor.execute(
        """
        UPDATE import_stage s
        SET outcome = CASE WHEN r.content_hash = s.content_hash
                           THEN 'duplicate' ELSE 'correction' END
        FROM events_registryrecord r
        WHERE r.source = %s AND r.record_id = s.record_id
        """,
        [source],
    )
    cursor.execute("UPDATE import_stage SET outcome = 'new' WHERE outcome IS NULL")
    cursor.execute(
        """
        INSERT INTO events_registryrecordversion
            (record_id, version, content_hash, data, batch_id, replaced_at)
        SELECT r.id, r.version, r.content_hash, r.data, r.batch_id, now()
        FROM events_registryrecord r
        JOIN import_stage s ON s.record_id = r.record_id AND s.outcome = 'correction'
        WHERE r.source = %s
        """,
        [source],
    )
    cursor.execute(
        """
        INSERT INTO events_registryrecord
            (source, record_id, content_hash, data, version, batch_id,
             created_at, updated_at)
        SELECT %s, record_id, content_hash, data, 1, %s, now(), now()
        FROM import_stage WHERE outcome IN ('new', 'correction')
        ON CONFLICT (source, record_id) DO UPDATE
        SET content_hash = EXCLUDED.content_hash,
            data = EXCLUDED.data,
            version = events_registryrecord.version + 1,
            batch_id = EXCLUDED.batch_id,
            updated_at = now()
        """,
        [source, batch.id],
    )
    cursor.execute("SELECT outcome, count(*) FROM import_stage GROUP BY outcome")
    counts = dict(cursor.fetchall())
    cursor.execute("DELETE FROM import_stage WHERE outcome = 'duplicate'")
    return counts.get("new", 0), counts.get("correction", 0), counts.get("duplicate", 0)


def _check_population(cursor, report) -> None:
    """Two records of one file for the same SNILS: the later one is refused,
    as the file cannot say which one is right."""
    cursor.execute(
        """
        DELETE FROM import_stage s
        USING import_stage t
        WHERE s.data->>'snils' = t.data->>'snils' AND s.line > t.line
        RETURNING s.file_name, s.line, s.record_id, t.line
        """
    )
    for file_name, line, record_id, first_line in cursor.fetchall():
        report.reject(
            file_name,
            line,
            record_id,
            [("snils", f"этот СНИЛС уже есть в строке {first_line}")],
        )


def _merge_population(cursor, batch) -> int:
    """Create or update citizens by SNILS; link events that were waiting
    for their person."""
    cursor.execute(
        """
        INSERT INTO cabinet_citizen (
            snils, last_name, first_name, middle_name, birth_date, sex, inn,
            passport_series, passport_number, passport_issued_on, address,
            region_code, phone, phone_is_mobile, email, death_date,
            proactive_mode, source_record_id, created_at, updated_at)
        SELECT data->>'snils', data->>'last_name', data->>'first_name',
               data->>'middle_name', (data->>'birth_date')::date, data->>'sex',
               data->>'inn', data->>'passport_series', data->>'passport_number',
               NULLIF(data->>'passport_issued_on', '')::date, data->>'address',
               data->>'region_code', data->>'phone',
               (data->>'phone_is_mobile')::boolean, data->>'email',
               NULLIF(data->>'death_date', '')::date,
               true, record_id, now(), now()
        FROM import_stage
        ON CONFLICT (snils) DO UPDATE SET
            last_name = EXCLUDED.last_name,
            first_name = EXCLUDED.first_name,
            middle_name = EXCLUDED.middle_name,
            birth_date = EXCLUDED.birth_date,
            sex = EXCLUDED.sex,
            inn = EXCLUDED.inn,
            passport_series = EXCLUDED.passport_series,
            passport_number = EXCLUDED.passport_number,
            passport_issued_on = EXCLUDED.passport_issued_on,
            address = EXCLUDED.address,
            region_code = EXCLUDED.region_code,
            phone = EXCLUDED.phone,
            phone_is_mobile = EXCLUDED.phone_is_mobile,
            email = EXCLUDED.email,
            death_date = EXCLUDED.death_date,
            source_record_id = EXCLUDED.source_record_id,
            updated_at = now()
        """
    )
    cursor.execute(
        """
        UPDATE events_lifeevent e SET citizen_id = c.id, batch_id = %s
        FROM cabinet_citizen c, import_stage s
        WHERE e.citizen_id IS NULL AND e.subject_snils = c.snils
          AND c.snils = s.data->>'snils'
        """,
        [batch.id],
    )
    return cursor.rowcount


def _check_births(cursor, report) -> None:
    """A mother whom the population registry knows to be born no earlier
    than the child makes the record implausible: it is rejected."""
    cursor.execute(
        """
        DELETE FROM import_stage s
        USING cabinet_citizen c
        WHERE c.snils = s.data->>'mother_snils'
          AND c.birth_date >= (s.data->>'child_birth_date')::date
        RETURNING s.file_name, s.line, s.record_id
        """
    )
    for file_name, line, record_id in cursor.fetchall():
        reason = (
            "мать по реестру населения родилась не раньше ребёнка: "
            "запись неправдоподобна"
        )
        report.reject(file_name, line, record_id, [("mother_snils", reason)])


def _merge_births(cursor, batch) -> int:
    """A birth is a life event for the mother and, when known, the father."""
    cursor.execute(
        """
        INSERT INTO events_lifeevent (
            event_type, role, source, record_id, subject_snils, citizen_id,
            occurred_on, data, registry_record_id, batch_id, created_at, updated_at)
        SELECT 'birth', p.role, 'births', s.record_id, p.snils, c.id,
               (s.data->>'child_birth_date')::date, s.data, r.id, %s, now(), now()
        FROM import_stage s
        JOIN events_registryrecord r
          ON r.source = 'births' AND r.record_id = s.record_id
        CROSS JOIN LATERAL (VALUES
            ('mother', s.data->>'mother_snils'),
            ('father', NULLIF(s.data->>'father_snils', ''))
        ) AS p(role, snils)
        LEFT JOIN cabinet_citizen c ON c.snils = p.snils
        WHERE p.snils IS NOT NULL
        ON CONFLICT (source, record_id, role) DO UPDATE SET
            subject_snils = EXCLUDED.subject_snils,
            citizen_id = EXCLUDED.citizen_id,
            occurred_on = EXCLUDED.occurred_on,
            data = EXCLUDED.data,
            batch_id = EXCLUDED.batch_id,
            updated_at = now()
        """,
        [batch.id],
    )
    return cursor.rowcount


_CHECKS = {Source.POPULATION: _check_population, Source.BIRTHS: _check_births}
_MERGES = {Source.POPULATION: _merge_population, Source.BIRTHS: _merge_births}


def _store_rejections(batch, report_path: Path) -> None:
    """Copy the report into ``RejectedRow`` so officials see it in admin."""
    with open(report_path, newline="", encoding="utf-8") as handle, connection.cursor() as cursor:
        rows = csv.reader(handle)
        next(rows)
        with cursor.copy(
            "COPY events_rejectedrow (batch_id, file_name, line, record_id, "
            "\"column\", reason) FROM STDIN"
        ) as copy:
            for file_name, line, record_id, column, reason in rows:
                copy.write_row((batch.id, file_name, int(line), record_id, column, reason))
