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
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from . import parsers, schemas
from .models import ImportBatch, Source
from .parsers import FORMAT_NAMES, DumpError, RawRecord, sniff_format

logger = logging.getLogger(__name__)

# What each source accepts; the first formats of every source are the
# project's own CSV and JSON Lines.
FORMATS = {
    Source.POPULATION: ("csv", "jsonl"),
    Source.BIRTHS: ("csv", "jsonl", "rogd", "fhir"),
    Source.DISABILITY: ("csv", "jsonl", "fri"),
    Source.DEATHS: ("csv", "jsonl", "fatal"),
    Source.PAYMENTS: ("csv", "jsonl", "egisso"),
    Source.TAX: ("csv", "jsonl"),
}
ALL_FORMATS = tuple(FORMAT_NAMES)
WITHDRAW_REASON_DEATH = "Зарегистрирована смерть"


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
    unmatched: int = 0
    event_count: int = 0
    dry_run: bool = False
    # The batch that already loaded a file with the same content, when this
    # run recognised it and read nothing.
    same_file_as: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        if self.same_file_as:
            return (
                f"Этот файл уже загружен (загрузка {self.same_file_as}): "
                "ничего не изменено"
            )
        prefix = "Проверка без записи" if self.dry_run else "Загрузка"
        return (
            f"{prefix} {self.batch_id}: прочитано {self.read}, сохранено "
            f"{self.stored}, исправлено {self.updated}, повторов "
            f"{self.duplicates}, отклонено {self.rejected}, не сопоставлено "
            f"{self.unmatched} ({self.elapsed:.1f} с)"
        )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    files = (
        sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    )
    for item in files:
        with open(item, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def detect_format(source: str, path: Path, named: str | None) -> str:
    """The file's format, from its content; ``named`` (``--format``) must
    agree with the content where the content says it clearly."""
    allowed = FORMATS[source]
    if named and named not in allowed:
        raise DumpError(
            f"источник {source} не принимает формат {named}; "
            f"допустимы: {', '.join(allowed)}"
        )
    sniffed = sniff_format(path)
    if sniffed not in allowed:
        raise DumpError(
            f"{path.name}: это {FORMAT_NAMES[sniffed]}, а источник {source} "
            f"принимает: {', '.join(FORMAT_NAMES[name] for name in allowed)}"
        )
    if named and named != sniffed:
        raise DumpError(
            f"{path.name}: указан формат {named}, а по содержимому это "
            f"{FORMAT_NAMES[sniffed]}"
        )
    return named or sniffed


def _records(source: str, path: Path, file_format: str) -> Iterator[RawRecord]:
    if file_format == "csv":
        return parsers.read_csv(
            path, lambda columns: schemas.header_problem(source, columns, "столбцов")
        )
    if file_format == "jsonl":
        return parsers.read_jsonl(
            path, lambda columns: schemas.header_problem(source, columns, "полей")
        )
    if file_format == "fhir":
        systems = tuple(
            getattr(settings, "FHIR_SNILS_SYSTEMS", (parsers.SNILS_SYSTEM,))
        )
        return parsers.read_fhir(path, systems)
    return getattr(parsers, f"read_{file_format}")(path)


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
    dry_run: bool = False,
    force: bool = False,
) -> ImportSummary:
    """Import one dump. Raises ``DumpError`` when the file cannot be used.

    Every refused file is recorded the same way, whichever step refused it:
    a batch with status failed and the reason, and nothing else stored. A
    dry run records nothing, not even that. An unknown source is a mistake
    in the command, not a refused file: it records nothing either.

    ``dry_run`` reads and checks everything, writes the report, and rolls
    back, batch included. A file whose content a completed batch of the same
    source already loaded is recognised and not read again unless ``force``.
    """
    started = time.monotonic()
    if source not in FORMATS:
        raise DumpError(
            f"неизвестный источник {source!r}; допустимы: {', '.join(FORMATS)}"
        )
    try:
        if not path.exists():
            raise DumpError(f"{path}: файл не найден")
        file_format = detect_format(source, path, file_format)
    except DumpError as error:
        if not dry_run:
            _record_refusal(source, path, file_format or "", error)
        raise
    sha256 = _file_sha256(path)

    if not force and not dry_run:
        earlier = (
            ImportBatch.objects.filter(
                source=source, file_sha256=sha256, status=ImportBatch.Status.COMPLETED
            )
            .order_by("started_at")
            .first()
        )
        if earlier is not None:
            logger.info("import skipped: same file as batch=%s", earlier.id)
            return ImportSummary(
                batch_id=str(earlier.id),
                source=source,
                file_format=file_format,
                read=0,
                stored=0,
                updated=0,
                duplicates=0,
                rejected=0,
                report="",
                elapsed=round(time.monotonic() - started, 3),
                same_file_as=str(earlier.id),
            )

    if dry_run:
        with transaction.atomic():
            summary = _run_batch(
                source, path, file_format, sha256, progress, started, True
            )
            transaction.set_rollback(True)
        return summary
    return _run_batch(source, path, file_format, sha256, progress, started, False)


def _record_refusal(source, path: Path, file_format: str, error: DumpError) -> None:
    """A file refused before its batch began: the batch records it all the
    same, failed, so that admin shows every refusal with its reason."""
    try:
        sha256 = _file_sha256(path) if path.exists() else ""
    except OSError:
        sha256 = ""
    batch = ImportBatch.objects.create(
        source=source,
        file_format=file_format,
        file_name=path.name,
        file_sha256=sha256,
        status=ImportBatch.Status.FAILED,
        error=str(error),
        finished_at=timezone.now(),
    )
    logger.warning("import refused batch=%s reason=%s", batch.id, error)


def _run_batch(source, path, file_format, sha256, progress, started, dry_run):
    batch = ImportBatch.objects.create(
        source=source,
        file_format=file_format,
        file_name=path.name,
        file_sha256=sha256,
    )
    report = _Report(Path(settings.IMPORT_REPORT_DIR) / f"{batch.id}.csv")
    logger.info(
        "import started batch=%s source=%s format=%s", batch.id, source, file_format
    )
    phase = _Phases(batch, started)
    phase("start")

    try:
        with transaction.atomic():
            _take_source_lock(source, batch)
            phase("lock")
            counts = _load(batch, source, path, file_format, report, progress, phase)
    except DumpError as error:
        report.close()
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.FAILED,
            error=str(error),
            finished_at=timezone.now(),
        )
        logger.warning("import failed batch=%s reason=%s", batch.id, error)
        raise
    # The foreign keys (four a birth) are checked at commit, row by row:
    # checked at the end of each statement instead they cost as much at
    # 100,000 births and more at a million.
    phase("commit")
    report.close()

    summary = ImportSummary(
        batch_id=str(batch.id),
        source=source,
        file_format=file_format,
        report=str(report.path),
        elapsed=round(time.monotonic() - started, 3),
        dry_run=dry_run,
        **counts,
    )
    logger.info(
        "import finished batch=%s read=%d stored=%d updated=%d duplicates=%d "
        "rejected=%d unmatched=%d",
        batch.id,
        summary.read,
        summary.stored,
        summary.updated,
        summary.duplicates,
        summary.rejected,
        summary.unmatched,
    )
    return summary


_WRITE_CITIZENS = {Source.POPULATION, Source.DEATHS}


def _take_source_lock(source: str, batch) -> None:
    """One import at a time per source; imports of different sources run at
    once. Whoever holds the lock is the only live import of the source, so a
    batch of the source still marked running was killed: it is marked so
    (its transaction never committed, nothing of it is stored)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"import:{source}"]
        )
        if source in _WRITE_CITIZENS:
            # Population and deaths both change citizens and events, in
            # opposite orders: they run one after the other, not deadlock.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('import:citizens'))")
    ImportBatch.objects.filter(
        source=source, status=ImportBatch.Status.RUNNING
    ).exclude(pk=batch.pk).update(
        status=ImportBatch.Status.FAILED,
        error="загрузка прервана, ничего из неё не сохранено",
        finished_at=timezone.now(),
    )


def _tune_session(cursor) -> None:
    """Memory for this load's own work: the staging table is a temporary
    table, held in temp_buffers (8 MB by default, so a large file would go
    through the disk at every step; a million births take about 500 MB),
    and the set-based steps are hash joins over the whole file (work_mem).
    temp_buffers can only be set before a session's first temporary table;
    a session that had one keeps its size. The statements are plain joins
    and inserts that JIT compilation does not speed up: it only adds its
    compile time to each large one."""
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute("SET LOCAL jit = off")
    cursor.execute("SAVEPOINT tune_temp_buffers")
    try:
        cursor.execute("SET temp_buffers = '1GB'")
    except DatabaseError:
        cursor.execute("ROLLBACK TO SAVEPOINT tune_temp_buffers")
    else:
        cursor.execute("RELEASE SAVEPOINT tune_temp_buffers")


class _Phases:
    """Logs how long each step of a load took, for operators tuning it."""

    def __init__(self, batch, started: float):
        self.batch_id = batch.id
        self.started = started

    def __call__(self, name: str) -> None:
        now = time.monotonic()
        logger.info(
            "import phase batch=%s phase=%s seconds=%.2f",
            self.batch_id,
            name,
            now - self.started,
        )
        self.started = now


def _copy_text(value: str) -> str:
    """A value for COPY's text format."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def _load(batch, source, path, file_format, report, progress, phase) -> dict:
    read = 0
    sha256 = hashlib.sha256
    check = schemas.Checker(source, timezone.localdate()).check
    file_name, file_name_text = None, ""
    with connection.cursor() as cursor:
        _tune_session(cursor)
        cursor.execute(_STAGE_DDL)
        with cursor.copy(
            "COPY import_stage (file_name, line, record_id, content_hash, data) "
            "FROM STDIN"
        ) as copy:
            # Lines are built here and sent in blocks: one write_row() a
            # record costs more than the validation itself.
            block: list[str] = []
            for raw in _records(source, path, file_format):
                read += 1
                if read % 10_000 == 0:
                    copy.write("".join(block))
                    block.clear()
                    if progress:
                        progress(read)
                record_id = raw.fields.get("record_id", "")
                text, problems = check(raw)
                if text is None:
                    report.reject(raw.file_name, raw.line, record_id, problems)
                    continue
                if "\\u0000" in text:
                    # PostgreSQL text cannot hold NUL; the file is damaged here.
                    report.reject(
                        raw.file_name,
                        raw.line,
                        record_id,
                        [("", "в записи нулевой байт (NUL)")],
                    )
                    continue
                if raw.file_name is not file_name:
                    file_name = raw.file_name
                    file_name_text = _copy_text(file_name)
                # JSON text holds no tab or line break (they are escaped),
                # only backslashes to double for COPY.
                data = text.replace("\\", "\\\\") if "\\" in text else text
                block.append(
                    f"{file_name_text}\t{raw.line}\t{_copy_text(record_id)}\t"
                    f"{sha256(text.encode()).hexdigest()}\t{data}\n"
                )
            copy.write("".join(block))
        if progress:
            progress(read)

        phase("read and COPY")
        # What the joins need to be planned well; the JSON of the records
        # is not worth the sampling.
        cursor.execute("ANALYZE import_stage (record_id, line)")
        in_file_duplicates = _settle_repeats(cursor, report)
        phase("repeats")
        _CHECKS.get(source, _no_checks)(cursor, report)
        phase("checks")
        stored, updated, duplicates = _classify(cursor, batch, source)
        phase("classify")
        event_count, unmatched = _MERGES[source](cursor, batch)
        phase("merge")
        # Dropped here, not only on commit: the load may run inside a
        # longer transaction (a dry run, a test).
        cursor.execute("DROP TABLE import_stage, import_ids")

    report.flush()
    _store_rejections(batch, report.path)
    phase("rejections")
    counts = {
        "read": read,
        "stored": stored,
        "updated": updated,
        "duplicates": duplicates + in_file_duplicates,
        "rejected": report.count,
        "unmatched": unmatched,
        "event_count": event_count,
    }
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.COMPLETED,
        # A batch that waited for the lock may have been taken for a killed
        # one by the import before it; it was not.
        error="",
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
        "SELECT EXISTS (SELECT 1 FROM import_stage GROUP BY record_id HAVING count(*) > 1)"
    )
    if not cursor.fetchone()[0]:
        return 0  # the usual case: one aggregate instead of a sort and an update
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
            [
                (
                    "record_id",
                    f"запись с этим record_id уже была в строке {first_line} с другим содержимым",
                )
            ],
        )
    cursor.execute("SELECT count(*) FROM import_stage WHERE outcome = 'repeat'")
    repeats = cursor.fetchone()[0]
    cursor.execute("DELETE FROM import_stage WHERE outcome IS NOT NULL")
    return repeats


def _classify(cursor, batch, source) -> tuple[int, int, int]:
    """Sort staged records into new, duplicate (same content hash) and
    correction (other hash; the earlier content is kept as a version), and
    write ``RegistryRecord``.

    Leaves ``import_ids``: the registry record of each record stored or
    corrected, and whether it was known before, for the merges. Only the
    records already known are looked at twice; the staging table itself is
    never rewritten."""
    cursor.execute(
        """
        CREATE TEMP TABLE import_known ON COMMIT DROP AS
        SELECT s.record_id, r.id AS registry_record_id,
               r.content_hash = s.content_hash AS same
        FROM import_stage s
        JOIN events_registryrecord r ON r.source = %s AND r.record_id = s.record_id
        """,
        [source],
    )
    cursor.execute(
        "SELECT count(*) FILTER (WHERE same), count(*) FILTER (WHERE NOT same) "
        "FROM import_known"
    )
    duplicates, updated = cursor.fetchone()
    cursor.execute("SELECT count(*) FROM import_stage")
    stored = cursor.fetchone()[0] - duplicates - updated
    cursor.execute(
        """
        CREATE TEMP TABLE import_ids (
            record_id text NOT NULL,
            registry_record_id bigint NOT NULL,
            known boolean NOT NULL
        ) ON COMMIT DROP
        """
    )
    if duplicates:
        cursor.execute(
            "DELETE FROM import_stage s USING import_known k "
            "WHERE k.record_id = s.record_id AND k.same"
        )
    if updated:
        cursor.execute(
            """
            INSERT INTO events_registryrecordversion
                (record_id, version, content_hash, data, batch_id, replaced_at)
            SELECT r.id, r.version, r.content_hash, r.data, r.batch_id, now()
            FROM events_registryrecord r
            JOIN import_known k ON k.registry_record_id = r.id AND NOT k.same
            """
        )
        cursor.execute(
            """
            WITH corrected AS (
                UPDATE events_registryrecord r
                SET content_hash = s.content_hash, data = s.data,
                    version = r.version + 1, batch_id = %s, updated_at = now()
                FROM import_known k, import_stage s
                WHERE r.id = k.registry_record_id AND NOT k.same
                  AND s.record_id = k.record_id
                RETURNING r.record_id, r.id
            )
            INSERT INTO import_ids SELECT record_id, id, true FROM corrected
            """,
            [batch.id],
        )
    if stored:
        # New records only: a plain INSERT, without the per-row conflict
        # check of an upsert. The source's import lock keeps others from
        # adding the same record_id meanwhile; if anything did, the unique
        # index refuses it and the whole load rolls back.
        new = "TRUE"
        if updated:
            cursor.execute("ANALYZE import_known")
            new = (
                "NOT EXISTS (SELECT 1 FROM import_known k "
                "WHERE k.record_id = s.record_id)"
            )
        cursor.execute(
            f"""
            WITH added AS (
                INSERT INTO events_registryrecord
                    (source, record_id, content_hash, data, version, batch_id,
                     created_at, updated_at)
                SELECT %s, s.record_id, s.content_hash, s.data, 1, %s, now(), now()
                FROM import_stage s
                WHERE {new}
                RETURNING record_id, id
            )
            INSERT INTO import_ids SELECT record_id, id, false FROM added
            """,
            [source, batch.id],
        )
    cursor.execute("DROP TABLE import_known")
    cursor.execute("ANALYZE import_ids")
    return stored, updated, duplicates


def _check_population(cursor, report) -> None:
    """Two records of one file for the same SNILS: the later one is refused,
    as the file cannot say which one is right."""
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM import_stage GROUP BY data->>'snils' HAVING count(*) > 1)"
    )
    if not cursor.fetchone()[0]:
        return
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


# Profile fields a registry may change, as text for the history.
_PROFILE_FIELDS = (
    ("last_name", "c.last_name", "s.data->>'last_name'"),
    ("first_name", "c.first_name", "s.data->>'first_name'"),
    ("middle_name", "c.middle_name", "s.data->>'middle_name'"),
    ("birth_date", "c.birth_date::text", "s.data->>'birth_date'"),
    ("sex", "c.sex", "s.data->>'sex'"),
    ("inn", "c.inn", "s.data->>'inn'"),
    ("passport_series", "c.passport_series", "s.data->>'passport_series'"),
    ("passport_number", "c.passport_number", "s.data->>'passport_number'"),
    (
        "passport_issued_on",
        "COALESCE(c.passport_issued_on::text, '')",
        "s.data->>'passport_issued_on'",
    ),
    ("address", "c.address", "s.data->>'address'"),
    ("region_code", "c.region_code", "s.data->>'region_code'"),
    ("phone", "c.phone", "s.data->>'phone'"),
    ("email", "c.email", "s.data->>'email'"),
    # A death the deaths registry reported is not undone by a population
    # record that does not know of it.
    (
        "death_date",
        "COALESCE(c.death_date::text, '')",
        "COALESCE(NULLIF(s.data->>'death_date', ''), c.death_date::text, '')",
    ),
)


def _record_profile_changes(cursor, batch) -> None:
    """History of the values this batch changes on known citizens, written
    before the change, in one statement."""
    values = ",\n".join(
        f"('{field}', {old}, {new})" for field, old, new in _PROFILE_FIELDS
    )
    cursor.execute(
        f"""
        INSERT INTO cabinet_profilechange
            (citizen_id, field, old_value, new_value, source, record_id,
             batch_id, changed_at)
        SELECT c.id, f.field, f.old, f.new, 'population', s.record_id, %s, now()
        FROM import_stage s
        JOIN cabinet_citizen c ON c.snils = s.data->>'snils'
        CROSS JOIN LATERAL (VALUES {values}) AS f(field, old, new)
        WHERE f.old IS DISTINCT FROM f.new
        """,
        [batch.id],
    )


def _merge_population(cursor, batch) -> tuple[int, int]:
    """Create or update citizens by SNILS, keeping the history of changed
    values; link events that were waiting for their person."""
    _record_profile_changes(cursor, batch)
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
            -- The citizen proved the old number, not this one: SMS replies
            -- from it must not act on their offers until they prove it.
            phone_verified_at = CASE
                WHEN EXCLUDED.phone = cabinet_citizen.phone
                THEN cabinet_citizen.phone_verified_at
            END,
            email = EXCLUDED.email,
            death_date = COALESCE(EXCLUDED.death_date, cabinet_citizen.death_date),
            source_record_id = EXCLUDED.source_record_id,
            updated_at = now()
        """
    )
    # Events waiting for their person: by SNILS, and tax notices by INN.
    cursor.execute(
        """
        UPDATE events_lifeevent e SET citizen_id = c.id, batch_id = %s
        FROM cabinet_citizen c, import_stage s
        WHERE e.citizen_id IS NULL AND e.subject_snils = c.snils
          AND c.snils = s.data->>'snils'
        """,
        [batch.id],
    )
    linked = cursor.rowcount
    cursor.execute(
        """
        UPDATE events_lifeevent e SET citizen_id = c.id, batch_id = %s
        FROM cabinet_citizen c, import_stage s
        WHERE e.citizen_id IS NULL AND e.event_type = 'tax_notice'
          AND s.data->>'inn' <> '' AND e.data->>'inn' = s.data->>'inn'
          AND c.snils = s.data->>'snils'
        """,
        [batch.id],
    )
    linked += cursor.rowcount
    # A death that waited for its person now stops proactive work.
    cursor.execute(
        """
        SELECT DISTINCT e.citizen_id, e.occurred_on, e.record_id
        FROM events_lifeevent e
        WHERE e.batch_id = %s AND e.event_type = 'death'
          AND e.citizen_id IS NOT NULL
        """,
        [batch.id],
    )
    _apply_deaths(cursor, batch, cursor.fetchall())
    # A death the population registry itself reports for a known citizen
    # withdraws their open offers too (its history row was written above).
    cursor.execute(
        """
        SELECT citizen_id FROM cabinet_profilechange
        WHERE batch_id = %s AND field = 'death_date' AND old_value = ''
        """,
        [batch.id],
    )
    died = [row[0] for row in cursor.fetchall()]
    if died:
        from offers.services import withdraw_open_offers

        withdraw_open_offers(died, WITHDRAW_REASON_DEATH)
    return linked, 0


def _apply_deaths(cursor, batch, deaths) -> None:
    """Set the death date of matched citizens (with its history) and
    withdraw their open offers; the relatives are told nothing."""
    if not deaths:
        return
    cursor.execute(
        """
        CREATE TEMP TABLE IF NOT EXISTS import_deaths
            (citizen_id bigint, death_date date, record_id text) ON COMMIT DROP
        """
    )
    cursor.execute("TRUNCATE import_deaths")
    with cursor.copy("COPY import_deaths FROM STDIN") as copy:
        for row in deaths:
            copy.write_row(row)
    cursor.execute(
        """
        INSERT INTO cabinet_profilechange
            (citizen_id, field, old_value, new_value, source, record_id,
             batch_id, changed_at)
        SELECT c.id, 'death_date', COALESCE(c.death_date::text, ''),
               d.death_date::text, 'deaths', d.record_id, %s, now()
        FROM import_deaths d JOIN cabinet_citizen c ON c.id = d.citizen_id
        WHERE c.death_date IS DISTINCT FROM d.death_date
        """,
        [batch.id],
    )
    cursor.execute(
        """
        UPDATE cabinet_citizen c SET death_date = d.death_date, updated_at = now()
        FROM import_deaths d
        WHERE c.id = d.citizen_id AND c.death_date IS DISTINCT FROM d.death_date
        """
    )
    from offers.services import withdraw_open_offers

    withdraw_open_offers(sorted({row[0] for row in deaths}), WITHDRAW_REASON_DEATH)


def _check_births(cursor, report) -> None:
    """A parent whom the population registry knows to be born no earlier
    than the child makes the record implausible: it is rejected. Both
    parents are looked up in one pass over the citizens."""
    cursor.execute(
        """
        SELECT s.ctid::text, s.file_name, s.line, s.record_id,
               array_agg(p.role ORDER BY p.role DESC)
        FROM import_stage s
        CROSS JOIN LATERAL (VALUES
            ('mother', s.data->>'mother_snils'),
            ('father', NULLIF(s.data->>'father_snils', ''))
        ) AS p(role, snils)
        JOIN cabinet_citizen c ON c.snils = p.snils
        WHERE c.birth_date >= (s.data->>'child_birth_date')::date
        GROUP BY s.ctid, s.file_name, s.line, s.record_id
        ORDER BY s.line
        """
    )
    implausible = cursor.fetchall()
    if not implausible:
        return
    labels = {"mother": "мать родилась", "father": "отец родился"}
    for _row, file_name, line, record_id, roles in implausible:
        report.reject(
            file_name,
            line,
            record_id,
            [
                (
                    f"{role}_snils",
                    f"{labels[role]} (по реестру населения) не раньше "
                    "ребёнка: запись неправдоподобна",
                )
                for role in roles
            ],
        )
    cursor.execute(
        "DELETE FROM import_stage WHERE ctid = ANY(%s::tid[])",
        [[row[0] for row in implausible]],
    )


# How an event of this batch replaces the earlier one of its record: only
# records known before (corrections) can have one.
_EVENT_UPSERT = """
ON CONFLICT (source, record_id, role) DO UPDATE SET
    subject_snils = EXCLUDED.subject_snils,
    citizen_id = EXCLUDED.citizen_id,
    occurred_on = EXCLUDED.occurred_on,
    data = EXCLUDED.data,
    batch_id = EXCLUDED.batch_id,
    updated_at = now()
"""


def _insert_events(cursor, select: str, params: list) -> int:
    """Run an ``INSERT INTO events_lifeevent ... SELECT`` twice: the events of
    new records as a plain insert (no event can exist for a record the
    registry did not know), those of corrections as an upsert. ``select``
    reads ``import_ids i`` and has the placeholder ``{known}``."""
    columns = """
        INSERT INTO events_lifeevent (
            event_type, role, source, record_id, subject_snils, citizen_id,
            occurred_on, data, registry_record_id, batch_id, created_at,
            updated_at)
    """
    cursor.execute(columns + select.format(known="NOT i.known"), params)
    count = cursor.rowcount
    cursor.execute("SELECT EXISTS (SELECT 1 FROM import_ids WHERE known)")
    if cursor.fetchone()[0]:
        cursor.execute(
            columns + select.format(known="i.known") + _EVENT_UPSERT, params
        )
        count += cursor.rowcount
    return count


def _merge_births(cursor, batch) -> tuple[int, int]:
    """A birth is a life event for the mother and, when known, the father."""
    return _insert_events(
        cursor,
        """
        SELECT 'birth', p.role, 'births', s.record_id, p.snils, c.id,
               (s.data->>'child_birth_date')::date, s.data,
               i.registry_record_id, %s, now(), now()
        FROM import_stage s
        JOIN import_ids i ON i.record_id = s.record_id AND {known}
        CROSS JOIN LATERAL (VALUES
            ('mother', s.data->>'mother_snils'),
            ('father', NULLIF(s.data->>'father_snils', ''))
        ) AS p(role, snils)
        LEFT JOIN cabinet_citizen c ON c.snils = p.snils
        WHERE p.snils IS NOT NULL
        """,
        [batch.id],
    ), 0


def _no_checks(cursor, report) -> None:
    pass


def _merge_self(cursor, batch, source, event_type, occurred_on, keys) -> int:
    """One event a record, for the person it names (role ``self``); its
    citizen found by SNILS, or by INN for tax notices, or left empty to be
    linked by a later population import."""
    data = (
        "jsonb_build_object("
        + ", ".join(f"'{key}', s.data->'{key}'" for key in keys)
        + ")"
    )
    if source == Source.TAX:
        citizen = (
            "(SELECT c.id FROM cabinet_citizen c WHERE c.inn = s.data->>'inn' "
            "ORDER BY c.id LIMIT 1)"
        )
        snils = (
            "COALESCE((SELECT c.snils FROM cabinet_citizen c WHERE c.id = "
            + citizen
            + "), '')"
        )
    else:
        citizen = (
            "(SELECT c.id FROM cabinet_citizen c WHERE c.snils = s.data->>'snils')"
        )
        snils = "s.data->>'snils'"
    return _insert_events(
        cursor,
        f"""
        SELECT %s, 'self', %s, s.record_id, {snils}, {citizen},
               (s.data->>'{occurred_on}')::date, {data}, i.registry_record_id,
               %s, now(), now()
        FROM import_stage s
        JOIN import_ids i ON i.record_id = s.record_id AND {{known}}
        """,
        [event_type, source, batch.id],
    )


def _merge_disability(cursor, batch) -> tuple[int, int]:
    keys = (
        "group",
        "established_on",
        "valid_until",
        "next_examination",
        "cause",
        "office",
    )
    return _merge_self(
        cursor, batch, Source.DISABILITY, "disability", "established_on", keys
    ), 0


def _merge_payments(cursor, batch) -> tuple[int, int]:
    keys = ("payment_type", "amount", "scheduled_on", "status")
    return _merge_self(
        cursor, batch, Source.PAYMENTS, "payment", "scheduled_on", keys
    ), 0


def _merge_tax(cursor, batch) -> tuple[int, int]:
    keys = ("inn", "tax_type", "amount", "due_on", "period_year")
    return _merge_self(cursor, batch, Source.TAX, "tax_notice", "due_on", keys), 0


def _merge_deaths(cursor, batch) -> tuple[int, int]:
    """Match each death to a citizen: by SNILS; without SNILS by passport,
    else by full name and birth date, when exactly one citizen fits. A death
    with a SNILS nobody has yet waits for the population import; one without
    SNILS that fits no single citizen goes to the unmatched queue."""
    cursor.execute(
        """
        CREATE TEMP TABLE import_death_match ON COMMIT DROP AS
        SELECT s.record_id, s.data, i.registry_record_id,
               CASE WHEN s.data->>'snils' <> '' THEN
                        (SELECT c.id FROM cabinet_citizen c WHERE c.snils = s.data->>'snils')
                    WHEN pp.n = 1 THEN pp.id
                    WHEN pp.n = 0 AND nb.n = 1 THEN nb.id
               END AS citizen_id,
               CASE WHEN s.data->>'snils' <> '' THEN 0
                    WHEN pp.n > 0 THEN pp.n ELSE nb.n END AS candidates
        FROM import_stage s
        JOIN import_ids i ON i.record_id = s.record_id
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, min(c.id) AS id FROM cabinet_citizen c
            WHERE s.data->>'snils' = '' AND s.data->>'passport_number' <> ''
              AND c.passport_series = s.data->>'passport_series'
              AND c.passport_number = s.data->>'passport_number'
        ) pp
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, min(c.id) AS id FROM cabinet_citizen c
            WHERE s.data->>'snils' = '' AND pp.n = 0
              AND c.birth_date = (s.data->>'birth_date')::date
              AND upper(c.last_name) = upper(s.data->>'last_name')
              AND upper(c.first_name) = upper(s.data->>'first_name')
              AND upper(c.middle_name) = upper(s.data->>'middle_name')
        ) nb
        """
    )
    cursor.execute(
        """
        INSERT INTO events_lifeevent (
            event_type, role, source, record_id, subject_snils, citizen_id,
            occurred_on, data, registry_record_id, batch_id, created_at, updated_at)
        SELECT 'death', 'self', 'deaths', m.record_id,
               COALESCE(NULLIF(m.data->>'snils', ''), c.snils, ''), m.citizen_id,
               (m.data->>'death_date')::date,
               jsonb_build_object(
                   'death_date', m.data->'death_date', 'last_name', m.data->'last_name',
                   'first_name', m.data->'first_name', 'middle_name', m.data->'middle_name',
                   'birth_date', m.data->'birth_date'),
               m.registry_record_id, %s, now(), now()
        FROM import_death_match m LEFT JOIN cabinet_citizen c ON c.id = m.citizen_id
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
    events = cursor.rowcount
    # A corrected record that now matches leaves the queue; one that still
    # does not stays in it with the new reason.
    cursor.execute(
        """
        DELETE FROM events_unmatcheddeath u USING import_death_match m
        WHERE u.registry_record_id = m.registry_record_id
          AND m.citizen_id IS NOT NULL AND u.resolved_at IS NULL
        """
    )
    cursor.execute(
        """
        INSERT INTO events_unmatcheddeath
            (registry_record_id, reason, candidates, batch_id, citizen_id,
             resolved_at, resolved_by, created_at)
        SELECT m.registry_record_id,
               CASE WHEN m.candidates > 1 THEN 'several' ELSE 'none' END,
               m.candidates, %s, NULL, NULL, '', now()
        FROM import_death_match m
        WHERE m.citizen_id IS NULL AND m.data->>'snils' = ''
        ON CONFLICT (registry_record_id) DO UPDATE SET
            reason = EXCLUDED.reason, candidates = EXCLUDED.candidates,
            batch_id = EXCLUDED.batch_id
        """,
        [batch.id],
    )
    unmatched = cursor.rowcount
    cursor.execute(
        """
        SELECT citizen_id, (data->>'death_date')::date, record_id
        FROM import_death_match WHERE citizen_id IS NOT NULL
        """
    )
    _apply_deaths(cursor, batch, cursor.fetchall())
    cursor.execute("DROP TABLE import_death_match")
    return events, unmatched


_CHECKS = {Source.POPULATION: _check_population, Source.BIRTHS: _check_births}
_MERGES = {
    Source.POPULATION: _merge_population,
    Source.BIRTHS: _merge_births,
    Source.DISABILITY: _merge_disability,
    Source.DEATHS: _merge_deaths,
    Source.PAYMENTS: _merge_payments,
    Source.TAX: _merge_tax,
}


def _store_rejections(batch, report_path: Path) -> None:
    """Copy the report into ``RejectedRow`` so officials see it in admin."""
    with (
        open(report_path, newline="", encoding="utf-8") as handle,
        connection.cursor() as cursor,
    ):
        rows = csv.reader(handle)
        next(rows)
        with cursor.copy(
            "COPY events_rejectedrow (batch_id, file_name, line, record_id, "
            '"column", reason) FROM STDIN'
        ) as copy:
            for file_name, line, record_id, column, reason in rows:
                copy.write_row(
                    (batch.id, file_name, int(line), record_id, column, reason)
                )
