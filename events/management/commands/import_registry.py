"""python manage.py import_registry SOURCE FILE [--format F] [--json]
[--dry-run] [--force]"""

import json as jsonlib
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from events import services
from events.importer import ALL_FORMATS, FORMATS
from events.parsers import DumpError

# Plain progress lines (not on a terminal) at most this often, in seconds.
PLAIN_PROGRESS_EVERY = 5.0


class Command(BaseCommand):
    help = (
        "Загрузить выгрузку реестра: CSV, JSON Lines (возможно, .gz), сообщения "
        "ЕГР ЗАГС, ФГИС ФРИ, ЕГИССО (файл, папка, .zip) или документы FHIR."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", choices=sorted(FORMATS))
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", dest="file_format", choices=ALL_FORMATS)
        parser.add_argument(
            "--json", action="store_true", help="итог одной строкой JSON"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="проверить файл, ничего не сохраняя"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="читать файл, даже если такой же уже загружен",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="не показывать ход загрузки"
        )

    def handle(self, source, file, file_format, json, dry_run, force, **options):
        progress = _Progress(sys.stderr, enabled=not options["no_progress"])
        try:
            summary = services.import_registry(
                source, file, file_format, progress, dry_run=dry_run, force=force
            )
        except DumpError as error:
            raise CommandError(f"Файл не принят: {error}") from error
        finally:
            progress.close()

        if json:
            self.stdout.write(jsonlib.dumps(summary.as_dict(), ensure_ascii=False))
            return
        self.stdout.write(summary.line())
        if summary.rejected:
            self.stdout.write(f"Отклонённые записи: {summary.report}")


class _Progress:
    """A tqdm bar on a terminal; elsewhere (logs, cron) a plain line every
    few seconds, so that a log is not flooded with carriage returns."""

    def __init__(self, stream, enabled: bool):
        self.stream = stream
        self.enabled = enabled
        self.bar = None
        self.shown = 0
        self.last_line = time.monotonic()

    def __call__(self, read: int) -> None:
        if not self.enabled:
            return
        if self.stream.isatty():
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(
                    file=self.stream, unit=" зап.", desc="Загрузка", unit_scale=True
                )
            self.bar.update(read - self.shown)
            self.shown = read
            return
        now = time.monotonic()
        if now - self.last_line >= PLAIN_PROGRESS_EVERY:
            self.stream.write(f"прочитано записей: {read}\n")
            self.stream.flush()
            self.last_line = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
