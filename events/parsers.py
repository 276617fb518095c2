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
import itertools
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from .values import parse_date

_SNIFF_BYTES = 64 * 1024


class DumpError(Exception):
    """The dump as a whole cannot be used; nothing from it is stored."""


@dataclass(slots=True)
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


# What an XML root element says the message is. Formats whose messages
# carry records; a response or any other message is refused as a whole.
XML_ROOTS = {
    "ROGDRequest": "rogd",
    "FATALRequest": "fatal",
    "ВыпискаФРИ": "fri",
}
FORMAT_NAMES = {
    "csv": "CSV",
    "jsonl": "JSON Lines",
    "rogd": "сведения о рождении ЕГР ЗАГС (ROGDRequest)",
    "fatal": "сведения о смерти ЕГР ЗАГС (FATALRequest)",
    "fri": "выписка ФГИС ФРИ (Выписка ФРИ)",
    "egisso": "факты назначения ЕГИССО (10.06.S)",
    "fhir": "документ FHIR R4",
}


def _xml_kind(name: str, content: bytes) -> str:
    """The kind of message, from the first bytes of a document (its root
    element), without parsing or holding the whole of a large file."""
    parser = etree.XMLPullParser(events=("start",), resolve_entities=False)
    error: Exception | None = None
    try:
        parser.feed(content)
    except (etree.XMLSyntaxError, ValueError) as problem:
        error = problem
    root = None
    for _event, element in parser.read_events():
        try:
            root = etree.QName(element)
        except ValueError as problem:
            error = problem
        break
    if root is None:
        detail = f": {error}" if error else ""
        raise DumpError(f"{name}: файл не является корректным XML{detail}")
    local = root.localname
    if local in XML_ROOTS:
        return XML_ROOTS[local]
    if local in ("data", "package") and "10.06.S" in (root.namespace or "") + local:
        return "egisso"
    if local in ("data", "package") and b"fact" in content and b"egisso" in content:
        return "egisso"
    if local.endswith("Response"):
        raise DumpError(
            f"{name}: это ответное сообщение {local}, а не выгрузка сведений"
        )
    raise DumpError(f"{name}: неизвестное XML-сообщение {local}")


def _json_kind(name: str, head: bytes) -> str:
    first = head.split(b"\n", 1)[0]
    try:
        value = json.loads(first)
    except ValueError:
        # A pretty-printed document spans lines: a FHIR Bundle says so early.
        return "fhir" if b'"resourceType"' in head else "jsonl"
    if isinstance(value, dict) and "resourceType" in value:
        return "fhir"
    return "jsonl"


def sniff_format(path: Path) -> str:
    """The format of a dump, from its content (gzipped or not): ``csv``,
    ``jsonl``, ``fhir`` or the kind of XML message."""
    if path.is_dir() or zipfile.is_zipfile(path):
        broken = None
        for name, content in _xml_documents(path):
            head = content.lstrip(codecs.BOM_UTF8).lstrip()
            if head.startswith(b"<"):
                # A broken message is one rejected record; the others say
                # what the dump is.
                try:
                    return _xml_kind(name, content)
                except DumpError as error:
                    if "корректным XML" not in str(error):
                        raise
                    broken = error
                    continue
            if head.startswith((b"{", b"[")):
                return _json_kind(name, head[:_SNIFF_BYTES])
        if broken is not None:
            raise broken
        raise DumpError(f"{path.name}: в папке или архиве нет ни одного сообщения")
    try:
        with _open_binary(path) as handle:
            head = handle.read(_SNIFF_BYTES)
    except (OSError, EOFError) as error:
        raise DumpError(
            f"{path.name}: файл не читается или обрезан: {error}"
        ) from error
    if b"\x00" in head:
        raise DumpError(f"{path.name}: двоичный файл, а не выгрузка реестра")
    text = head.lstrip(codecs.BOM_UTF8).lstrip()
    if not text:
        raise DumpError(f"{path.name}: файл пуст")
    if text.startswith(b"<"):
        return _xml_kind(path.name, head)
    if text.startswith((b"{", b"[")):
        return _json_kind(path.name, text)
    return "csv"


# CSV --------------------------------------------------------------------------


# Says what is wrong with a dump's column names (None when nothing is): the
# importer's check of the header against the source's schema.
HeaderCheck = Callable[[list[str]], "str | None"]


def read_csv(path: Path, check_header: HeaderCheck) -> Iterator[RawRecord]:
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
        problem = check_header(columns)
        if problem:
            raise DumpError(f"{path.name}, строка 1: {problem}")

        reader = csv.reader(text, delimiter=delimiter)
        name = path.name
        previous_end = 1
        for values in reader:
            line = previous_end + 1
            previous_end = reader.line_num + 1
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            record = RawRecord(name, line, dict(zip(columns, map(str.strip, values))))
            if len(values) != len(columns):
                record.problems.append(
                    (
                        "",
                        f"в строке {len(values)} полей, а в заголовке {len(columns)}",
                    )
                )
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
            root = etree.fromstring(
                content, parser=etree.XMLParser(resolve_entities=False)
            )
        except etree.XMLSyntaxError as error:
            record.problems.append(
                ("", f"сообщение не является корректным XML: {error}")
            )
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


def _messages(
    path: Path, root_name: str, what: str
) -> Iterator[tuple[str, int, etree._Element | None, RawRecord]]:
    """Parse each message of a file, folder or .zip; a message that is not
    ``root_name`` refuses the whole dump, a broken one rejects its record."""
    for number, (name, content) in enumerate(_xml_documents(path), start=1):
        record = RawRecord(name, number, {})
        try:
            root = etree.fromstring(
                content, parser=etree.XMLParser(resolve_entities=False)
            )
        except etree.XMLSyntaxError as error:
            record.problems.append(
                ("", f"сообщение не является корректным XML: {error}")
            )
            yield name, number, None, record
            continue
        if _local(root) != root_name:
            raise DumpError(f"{name}: это не {what} ({root_name}), а {_local(root)}")
        yield name, number, root, record


def _passport(element: etree._Element | None) -> tuple[str, str]:
    """Series and number of a Russian passport, however the message writes
    them: separate elements or attributes, or one ``СерНомДок``."""
    document = _find(element, "УдЛичнФЛ", "УдЛичн", "ДокУдЛичн", "PassportRF")
    if document is None:
        return "", ""
    series = _text(document, "СерДок", "Серия", "Series") or _attr(document, "СерДок")
    number = _text(document, "НомДок", "Номер", "Number") or _attr(document, "НомДок")
    joined = _text(document, "СерНомДок") or _attr(document, "СерНомДок")
    if joined and not (series or number):
        digits = "".join(ch for ch in joined if ch.isdigit())
        series, number = digits[:4], digits[4:]
    return series.replace(" ", ""), number


def _snils_of(element: etree._Element | None) -> str:
    return _attr(element, "СНИЛС") or _text(element, "СНИЛС", "SNILS")


def read_fatal(path: Path) -> Iterator[RawRecord]:
    """Death records from ЕГР ЗАГС ``FATALRequest`` messages (4.0.6)."""
    for _name, _number, root, record in _messages(
        path, "FATALRequest", "сведения о смерти"
    ):
        if root is None:
            yield record
            continue
        act = _find(root, "СведРегСмерт", "СведРег")
        person = _find(root, "СведУмер", "СведУмерш", "СведСмерт")
        names = _find(person, "ФИОУмер", "ФИО")
        series, number = _passport(person)
        record.fields = {
            "record_id": _attr(root, "ИдСвед") or _text(root, "ИдСвед"),
            "snils": _snils_of(person),
            "last_name": _text(names, "Фамилия"),
            "first_name": _text(names, "Имя"),
            "middle_name": _text(names, "Отчество"),
            "birth_date": _text(person, "ДатаРождКаленд", "ДатаРожд"),
            "death_date": _text(person, "ДатаСмертКаленд", "ДатаСмерт")
            or _text(root, "ДатаСмертКаленд", "ДатаСмерт"),
            "passport_series": series,
            "passport_number": number,
            "act_number": _attr(act, "НомерЗапис"),
            "act_date": _text(act, "ДатаЗапис"),
        }
        yield record


def read_fri(path: Path) -> Iterator[RawRecord]:
    """Disability records from ФГИС ФРИ extracts (``ВыпискаФРИ``)."""
    for _name, _number, root, record in _messages(
        path, "ВыпискаФРИ", "выписка ФГИС ФРИ"
    ):
        if root is None:
            yield record
            continue
        current = _find(root, "АктуальныеСведенияОбИнвалидности")
        record.fields = {
            "record_id": _text(root, "Идентификатор"),
            "snils": _text(_find(root, "ПерсональныеДанные"), "СНИЛС"),
            "group": _text(current, "ГруппаИнвалидности"),
            "established_on": _text(current, "ДатаС"),
            "valid_until": _text(current, "ДатаПо"),
            "next_examination": _text(current, "ОчередноеОсвидетельствование"),
            "cause": _text(current, "НаименованиеПричиныИнвалидности"),
            "office": _text(root, "НаименованиеБюроМСЭ"),
        }
        yield record


def _document_streams(path: Path) -> Iterator[tuple[str, io.BufferedIOBase]]:
    """(name, binary stream) of each document in a file, a folder or a .zip,
    for readers that stream large documents instead of holding them."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file():
                with _open_binary(child) as handle:
                    yield str(child.relative_to(path)), handle
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in sorted(archive.infolist(), key=lambda item: item.filename):
                if not info.is_dir():
                    with archive.open(info) as handle:
                        yield info.filename, handle  # type: ignore[misc]
    else:
        with _open_binary(path) as handle:
            yield path.name, handle


def read_egisso(path: Path) -> Iterator[RawRecord]:
    """Payment records from ЕГИССО assignment facts (10.06.S): one record a
    ``fact``, its line the fact's line in the file. Facts are parsed one at
    a time and dropped, so a package of any size takes little memory."""
    for name, stream in _document_streams(path):
        facts = 0
        try:
            for _event, fact in etree.iterparse(
                stream, events=("end",), tag="{*}fact", resolve_entities=False
            ):
                facts += 1
                yield RawRecord(name, fact.sourceline or 1, _egisso_fields(fact))
                fact.clear(keep_tail=False)
                parent = fact.getparent()
                while parent is not None and fact.getprevious() is not None:
                    del parent[0]
        except etree.XMLSyntaxError as error:
            line = error.lineno or 1
            problem = f"сообщение не является корректным XML: {error}"
            yield RawRecord(name, line, {}, [("", problem)])
            continue
        if not facts:
            raise DumpError(f"{name}: в сообщении ЕГИССО нет фактов назначения (fact)")


def _egisso_fields(fact: etree._Element) -> dict[str, str]:
    receiver = _find(fact, "mszReceiver")
    return {
        "record_id": _text(fact, "uuid"),
        "snils": _text(receiver, "SNILS"),
        "payment_type": _text(fact, "lmszId") or _text(fact, "categoryId"),
        "amount": _text(_find(fact, "assignmentInfo"), "amount"),
        "scheduled_on": _text(fact, "dateStart"),
        # An assignment fact announces payments to come.
        "status": "scheduled",
        "decision_date": _text(fact, "decisionDate"),
        "finish_on": _text(fact, "dateFinish"),
    }


# JSON Lines -------------------------------------------------------------------


def _json_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def read_jsonl(path: Path, check_header: HeaderCheck) -> Iterator[RawRecord]:
    """Records of a JSON Lines dump: one object a line, keys as the CSV
    columns (matched without regard to case or surrounding spaces)."""
    try:
        binary = _open_binary(path)
        sample = binary.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]  # type: ignore[attr-defined]
    except (OSError, EOFError) as error:
        raise DumpError(f"{path.name}: файл не читается: {error}") from error
    text = io.TextIOWrapper(binary, encoding=_detect_encoding(sample), newline="")
    loads = json.loads
    try:
        checked = False
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                value = loads(line)
            except ValueError as error:
                yield RawRecord(
                    path.name, number, {}, [("", f"строка не является JSON: {error}")]
                )
                continue
            if not isinstance(value, dict):
                yield RawRecord(
                    path.name, number, {}, [("", "строка не является объектом JSON")]
                )
                continue
            fields = {
                str(key).strip().lower(): _json_text(item)
                for key, item in value.items()
            }
            if not checked:
                # The first object stands for the file's layout, as a header does.
                problem = check_header(list(fields))
                if problem:
                    raise DumpError(f"{path.name}, строка {number}: {problem}")
                checked = True
            yield RawRecord(path.name, number, fields)
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as error:
        raise DumpError(f"{path.name}: файл повреждён или обрезан: {error}") from error
    finally:
        text.close()


# FHIR R4 ----------------------------------------------------------------------

SNILS_SYSTEM = "urn:oid:1.2.643.100.3"
_MOTHER_CODES = {"MTH", "NMTH", "GESTM", "BMTH"}
_FATHER_CODES = {"FTH", "NFTH", "BFTH"}
_FETAL_DEATH_REPORT = "69045-3"  # LOINC: U.S. standard report of fetal death


def _fhir_documents(path: Path) -> Iterator[tuple[str, int, object]]:
    """(file, line, parsed JSON) of each Bundle. A file whose first line is
    a whole JSON value is ndjson, read a line at a time: a Bundle a line, or
    single resources that together make one document; otherwise the file is
    one (pretty-printed) Bundle."""
    for name, stream in _document_streams(path):
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace")
        first = text.readline()
        try:
            value = json.loads(first)
        except ValueError:
            try:
                yield name, 1, json.loads(first + text.read())
            except ValueError as error:
                yield name, 1, error
            continue
        loose = []
        number = 0
        for number, line in enumerate(itertools.chain([first], text), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as error:
                yield name, number, error
                continue
            if isinstance(value, dict) and value.get("resourceType") == "Bundle":
                yield name, number, value
            else:
                loose.append({"resource": value})
        if loose:
            yield name, 1, {"resourceType": "Bundle", "entry": loose}


def _codes(concepts) -> set[str]:
    if isinstance(concepts, dict):
        concepts = [concepts]
    return {
        coding.get("code")
        for concept in concepts or []
        for coding in (concept or {}).get("coding", [])
    }


def _fhir_snils(
    resource: dict | None, systems: tuple[str, ...]
) -> tuple[str, list[str]]:
    seen = []
    for identifier in (resource or {}).get("identifier", []):
        system = identifier.get("system", "")
        if system in systems:
            return str(identifier.get("value", "")).strip(), seen
        seen.append(system)
    return "", seen


def read_fhir(
    path: Path, snils_systems: tuple[str, ...] = (SNILS_SYSTEM,)
) -> Iterator[RawRecord]:
    """Birth records from FHIR R4 documents of maternity hospitals."""
    for name, line, document in _fhir_documents(path):
        record = RawRecord(name, line, {})
        if isinstance(document, ValueError):
            record.problems.append(("", f"строка не является JSON: {document}"))
            yield record
            continue
        if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
            kind = document.get("resourceType") if isinstance(document, dict) else "?"
            raise DumpError(f"{name}: это не документ FHIR (Bundle), а {kind}")
        resources = [e.get("resource") or {} for e in document.get("entry", [])]
        by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources}
        composition = next(
            (r for r in resources if r.get("resourceType") == "Composition"), {}
        )
        patients = [r for r in resources if r.get("resourceType") == "Patient"]
        child = by_ref.get((composition.get("subject") or {}).get("reference", ""))
        if child is None and patients:
            child = max(patients, key=lambda r: r.get("birthDate", ""))
        if child is None:
            record.problems.append(("", "в документе нет новорождённого (Patient)"))
            yield record
            continue
        child_ref = f"Patient/{child.get('id')}"

        mother = father = None
        for resource in resources:
            if resource.get("resourceType") != "RelatedPerson":
                continue
            if (resource.get("patient") or {}).get("reference") != child_ref:
                continue
            codes = _codes(resource.get("relationship"))
            if codes & _MOTHER_CODES:
                mother = resource
            elif codes & _FATHER_CODES:
                father = resource
        if mother is None:
            for link in child.get("link", []):
                mother = by_ref.get((link.get("other") or {}).get("reference", ""))
                if mother:
                    break
        if mother is None:
            # Birth documents (BFDR) give the mother as a Patient of her own:
            # the one other Patient of the document.
            others = [p for p in patients if p is not child]
            if len(others) == 1:
                mother = others[0]

        names = (child.get("name") or [{}])[0]
        given = names.get("given") or []
        living = dead = None
        for resource in resources:
            if resource.get("resourceType") != "Observation":
                continue
            codes = _codes(resource.get("code"))
            if "11638-4" in codes:
                living = resource.get("valueInteger")
            if "68496-9" in codes:
                dead = resource.get("valueInteger")
        order = ""
        if isinstance(living, int):
            # Earlier live births, living or not, plus this child.
            order = str(living + (dead if isinstance(dead, int) else 0) + 1)
        place = ""
        for extension in child.get("extension", []):
            if extension.get("url", "").endswith("patient-birthPlace"):
                place = (extension.get("valueAddress") or {}).get("city", "")
        mother_snils, seen = _fhir_snils(mother, snils_systems)
        father_snils, _ = _fhir_snils(father, snils_systems)
        child_snils, _ = _fhir_snils(child, snils_systems)
        gender = {"male": "M", "female": "F"}.get(
            child.get("gender", ""), child.get("gender", "")
        )
        record.fields = {
            "record_id": str(
                (document.get("identifier") or {}).get("value")
                or document.get("id")
                or composition.get("id")
                or ""
            ),
            "child_last_name": names.get("family", ""),
            "child_first_name": given[0] if given else "",
            "child_middle_name": " ".join(given[1:]),
            "child_birth_date": child.get("birthDate", ""),
            "child_sex": gender,
            "child_snils": child_snils,
            "mother_snils": mother_snils,
            "father_snils": father_snils,
            "birth_order": order,
            "place_of_birth": place,
            "act_number": "",
            "act_date": "",
            "stillborn": "1"
            if _FETAL_DEATH_REPORT in _codes(composition.get("type"))
            else "0",
        }
        if mother is None:
            record.problems.append(
                ("mother_snils", "в документе не найдена мать новорождённого")
            )
        elif not mother_snils:
            record.problems.append(
                (
                    "mother_snils",
                    f"у матери нет СНИЛС (identifier system {snils_systems[0]}); "
                    f"в документе есть только: {', '.join(s for s in seen if s) or 'нет идентификаторов'}",
                )
            )
        born = (mother or {}).get("birthDate", "")
        if (
            born
            and record.fields["child_birth_date"]
            and born >= record.fields["child_birth_date"][:10]
        ):
            record.problems.append(
                (
                    "mother_birth_date",
                    f"мать родилась ({born}) не раньше ребёнка: запись неправдоподобна",
                )
            )
        yield record
