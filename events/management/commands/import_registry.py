"""python manage.py import_registry SOURCE FILE [--format F] [--json]"""

import json as jsonlib
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from events import services
from events.importer import FORMATS
from events.parsers import DumpError


class Command(BaseCommand):
    help = "Загрузить выгрузку реестра: CSV или сообщения ЕГР ЗАГС (файл, папка, .zip)."

    def add_arguments(self, parser):
        parser.add_argument("source", choices=sorted(FORMATS))
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", dest="file_format", choices=["csv", "rogd"])
        parser.add_argument("--json", action="store_true", help="итог одной строкой JSON")

    def handle(self, source, file, file_format, json, **options):
        as_json = json
        progress = None if as_json else self._progress
        try:
            summary = services.import_registry(source, file, file_format, progress)
        except DumpError as error:
            raise CommandError(f"Файл не принят: {error}") from error

        if as_json:
            self.stdout.write(_dumps(summary.as_dict()))
            return
        self.stdout.write(summary.line())
        if summary.rejected:
            self.stdout.write(f"Отклонённые записи: {summary.report}")

    def _progress(self, read: int) -> None:
        stream = sys.stderr
        end = "\r" if stream.isatty() else "\n"
        stream.write(f"прочитано записей: {read}{end}")
        stream.flush()


def _dumps(data) -> str:
    return jsonlib.dumps(data, ensure_ascii=False)
