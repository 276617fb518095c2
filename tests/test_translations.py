"""The English catalogue: a translation must carry exactly the placeholders
of its Russian text, or the page that formats it fails (KeyError) or
drops a value."""

import re
from pathlib import Path

import polib
import pytest

PO = Path(__file__).resolve().parent.parent / "locale" / "en" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{\{\s*(\w+)")


def placeholders(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


def translated():
    catalogue = polib.pofile(str(PO))
    for entry in catalogue.translated_entries():
        if entry.msgid_plural:
            for form in entry.msgstr_plural.values():
                yield entry.msgid, form
        else:
            yield entry.msgid, entry.msgstr


@pytest.mark.parametrize("msgid, msgstr", list(translated()), ids=lambda v: v[:40])
def test_a_translation_keeps_the_placeholders_of_its_text(msgid, msgstr):
    assert placeholders(msgstr) <= placeholders(msgid), msgstr
    if "%(" in msgid and "counter" not in msgid:
        assert placeholders(msgstr) == placeholders(msgid), msgstr


def test_the_compiled_catalogue_matches_the_po_file():
    compiled = polib.mofile(str(PO.with_suffix(".mo")))
    source = polib.pofile(str(PO))
    assert {e.msgid: e.msgstr for e in compiled if not e.msgid_plural} == {
        e.msgid: e.msgstr for e in source.translated_entries() if not e.msgid_plural
    }
