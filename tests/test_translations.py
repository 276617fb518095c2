"""The English catalogue: a translation must carry exactly the placeholders
of its Russian text, or the page that formats it fails (KeyError) or
drops a value. The Russian catalogue: the count forms of the portal's
names that admin counts."""

import re
from pathlib import Path

import polib
import pytest
from django.contrib import admin
from django.urls import reverse

from tests.event_factories import ImportBatchFactory

PO = Path(__file__).resolve().parent.parent / "locale" / "en" / "LC_MESSAGES" / "django.po"
RU_PO = PO.parent.parent.parent / "ru" / "LC_MESSAGES" / "django.po"
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


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("page", "batches", "words"),
    [
        ("events_importbatch", 1, "1 загрузка"),
        ("events_importbatch", 3, "3 загрузки"),
        ("events_importbatch", 20, "20 загрузок"),
        ("events_importbatch", 21, "21 загрузка"),
        ("events_rejectedrow", 0, "0 отклонённых записей"),
    ],
)
def test_the_admin_counts_rows_in_the_russian_form_of_the_count(
    admin_client, page, batches, words
):
    """Regression: the admin's lists said "20 загрузки": Django takes the
    singular for one and the plural for any other count, and Russian has
    three forms."""
    ImportBatchFactory.create_batch(batches)

    html = admin_client.get(reverse(f"admin:{page}_changelist")).content.decode()

    paginator = re.search(r'<p class="paginator">(.*?)</p>', html, re.S)[1]
    assert " ".join(paginator.split()) == words


# Models admin lists whose names are no countable noun: any form of the
# count would read wrong, so Django's two forms stay.
UNCOUNTED = {
    "offers.bankdetails",  # "реквизиты": a set of details
    "offers.takeupfunnel",  # one computed page
    "notifications.deliveryprofile",  # "настройки": one per citizen
}


def test_every_name_the_admin_counts_has_its_russian_count_forms():
    from django.utils import translation

    portal_apps = {"cabinet", "consents", "events", "offers", "notifications"}
    forms = {
        (entry.msgid, entry.msgid_plural): entry.msgstr_plural
        for entry in polib.pofile(str(RU_PO))
        if entry.msgid_plural
    }
    with translation.override("ru"):
        for model in admin.site._registry:
            opts = model._meta
            if opts.app_label not in portal_apps or opts.label_lower in UNCOUNTED:
                continue
            names = (str(opts.verbose_name), str(opts.verbose_name_plural))
            assert len(forms.get(names, {})) == 3, names
