"""Readers for registry dumps: they turn a file into raw records.

A reader yields ``RawRecord`` objects: where the record stands (file and
line) and its fields as text, keyed by the column names of
REGISTRY_FORMATS.md. Checking the values is the schema's job
(``events.schemas``). A reader raises ``DumpError`` when the file as a whole
cannot be used.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from .values import parse_date

_SNIFF_BYTES = 64 * 1024


class DumpError(Exception):
    """The dump as a whole cannot be used; nothing from it is stored."""


@dataclass
class RawRecord:
    file_name: str
    line: int
    fields: dict[str, str]
    # Problems the reader found that the schema must report (field, reason).
    problems: list[tuple[str, str]] = field(default_factory=list)


# Opening files ----------------------------------------------------------------


def _open_binary(path: Path) -> io.BufferedIOBase:
    handle = open(path, "rb")
    if handle.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=handle)  # type: ignore[return-value]
    return handle


def _detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still UTF-8.
        if error.start < len(sample) - 4:
            return "cp1251"
    return "utf-8"


def sniff_format(path: Path) -> str:
    """``xml`` or ``csv``, from the content of a file (gzipped or not)."""
    if path.is_dir() or zipfile.is_zipfile(path):
        return "xml"
    try:
        with _open_binary(path) as handle:
            head = handle.read(_SNIFF_BYTES)
    except (OSError, EOFError) as error:
        raise DumpError(f"{path.name}: файл не читается: {error}") from error
    if b"\x00" in head:
        raise DumpError(f"{path.name}: двоичный файл, а не выгрузка реестра")
    text = head.lstrip(codecs.BOM_UTF8).lstrip()
    return "xml" if text.startswith(b"<") else "csv"


# CSV --------------------------------------------------------------------------


def read_csv(path: Path, required: tuple[str, ...]) -> Iterator[RawRecord]:
    """Records of a CSV dump: encoding and delimiter detected, header names
    matched without regard to case or surrounding spaces."""
    try:
        binary = _open_binary(path)
        sample = binary.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]  # type: ignore[attr-defined]
    except (OSError, EOFError) as error:
        raise DumpError(f"{path.name}: файл не читается: {error}") from error
    if b"\x00" in sample:
        raise DumpError(f"{path.name}: двоичный файл, а не выгрузка реестра")
    encoding = _detect_encoding(sample)

    text = io.TextIOWrapper(binary, encoding=encoding, newline="")
    try:
        header_line = text.readline()
        if not header_line.strip():
            raise DumpError(f"{path.name}: файл пуст, нет строки заголовка")
        delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
        header = next(csv.reader([header_line], delimiter=delimiter))
        columns = [name.strip().lower().lstrip("\ufeff") for name in header]
        missing = [name for name in required if name not in columns]
        if missing:
            raise DumpError(
                f"{path.name}, строка 1: нет обязательных столбцов: {', '.join(missing)}"
            )

        reader = csv.reader(text, delimiter=delimiter)
        previous_end = 1
        for values in reader:
            line = previous_end + 1
            previous_end = reader.line_num + 1
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            record = RawRecord(path.name, line, {})
            if len(values) != len(columns):
                record.problems.append(
                    (
                        "",
                        f"в строке {len(values)} полей, а в заголовке {len(columns)}",
                    )
                )
            record.fields = {
                name: value.strip() for name, value in zip(columns, values, strict=False)
            }
            yield record
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile, csv.Error) as error:
        raise DumpError(f"{path.name}: файл повреждён или обрезан: {error}") from error
    finally:
        text.close()


# XML messages -----------------------------------------------------------------


def _xml_documents(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each message in a file, a folder or a .zip."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file():
                yield str(child.relative_to(path)), child.read_bytes()
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in sorted(archive.infolist(), key=lambda item: item.filename):
                if not info.is_dir():
                    yield info.filename, archive.read(info)
    else:
        with _open_binary(path) as handle:
            yield path.name, handle.read()


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _find(element: etree._Element | None, *names: str) -> etree._Element | None:
    """The first descendant with the given local name, namespaces ignored:
    real messages vary in namespace versions, so they are read by meaning."""
    if element is None:
        return None
    for name in names:
        for child in element.iter():
            if isinstance(child.tag, str) and _local(child) == name:
                return child
    return None


def _text(element: etree._Element | None, *names: str) -> str:
    found = _find(element, *names)
    return (found.text or "").strip() if found is not None else ""


def _attr(element: etree._Element | None, name: str) -> str:
    return (element.get(name) or "").strip() if element is not None else ""


def read_rogd(path: Path) -> Iterator[RawRecord]:
    """Birth records from ЕГР ЗАГС ``ROGDRequest`` messages (4.0.5)."""
    for number, (name, content) in enumerate(_xml_documents(path), start=1):
        record = RawRecord(name, number, {})
        try:
            root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False))
        except etree.XMLSyntaxError as error:
            record.problems.append(("", f"сообщение не является корректным XML: {error}"))
            yield record
            continue

        if _local(root) != "ROGDRequest":
            raise DumpError(
                f"{name}: это не сведения о рождении (ROGDRequest), а {_local(root)}"
            )

        act = _find(root, "СведРегРожд")
        child = _find(root, "СведРодившемся")
        mother = _find(root, "СведМать")
        father = _find(root, "СведОтец")
        child_names = _find(child, "ФИОРожд", "ФИО")

        fields = {
            "record_id": _attr(root, "ИдСвед"),
            "child_last_name": _text(child_names, "Фамилия"),
            "child_first_name": _text(child_names, "Имя"),
            "child_middle_name": _text(child_names, "Отчество"),
            "child_birth_date": _text(child, "ДатаРождКаленд", "ДатаРожд"),
            "child_sex": _text(child, "Пол"),
            "child_snils": _attr(child, "СНИЛС"),
            "mother_snils": _attr(mother, "СНИЛС"),
            "father_snils": _attr(father, "СНИЛС"),
            "birth_order": _text(root, "СчетРебен"),
            "place_of_birth": _attr(_find(child, "МестоРожден"), "МестоТекст"),
            "act_number": _attr(act, "НомерЗапис"),
            "act_date": _text(act, "ДатаЗапис"),
            # ЖивМертв: 0 born alive, 1 stillborn.
            "stillborn": "1" if _text(child, "ЖивМертв") == "1" else "0",
        }
        record.fields = fields

        # The message carries the parents' birth dates: a parent born after
        # the child is a record no schema catches, only content checks do.
        for role, person, label in (
            ("mother", mother, "мать"),
            ("father", father, "отец"),
        ):
            born = _text(person, "ДатаРождКаленд", "ДатаРожд")
            if born and fields["child_birth_date"]:
                try:
                    if parse_date(born) >= parse_date(fields["child_birth_date"]):
                        record.problems.append(
                            (
                                f"{role}_birth_date",
                                f"дата рождения ({label}) {born} не раньше "
                                "даты рождения ребёнка: запись неправдоподобна",
                            )
                        )
                except ValueError:
                    pass  # the child's date is checked by the schema
        yield record
