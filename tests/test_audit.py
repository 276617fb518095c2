"""The access log (DESIGN.md, invariant 5): every admin request by staff
that shows or changes personal data, and an official's download of a
citizen's document, is written down with who, when, what and whose; the
citizen's own pages and refused requests write nothing; the log is read
by superusers and its own permission only, and changed by nobody."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError
from django.test import Client
from django.urls import reverse

from cabinet import audit
from cabinet.models import AuditEntry, Citizen, ErrorReport
from cabinet.officials import officials_group
from offers.models import Application, Document
from offers.services import accept_offer
from tests.factories import CitizenFactory, UserFactory
from tests.helpers import login, official_login
from tests.test_cabinet_pages import PNG, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna():
    return CitizenFactory(
        with_account=True, consenting=True, first_name="Анна", last_name="Смирнова"
    )


@pytest.fixture
def official():
    """Staff in the officials' group, as the demo's official is."""
    user = UserFactory(username="petrov", is_staff=True)
    user.groups.set([officials_group()])
    return user


@pytest.fixture
def official_client(official):
    return official_login(Client(), official)


@pytest.fixture
def superuser(admin_client, django_user_model):
    """The superuser the ``admin_client`` fixture signed in."""
    return django_user_model.objects.get(username="admin")


@pytest.fixture
def application(anna, offer_for):
    return accept_offer(anna, offer_for(anna).pk)


def entries():
    return list(
        AuditEntry.objects.order_by("id").values(
            "user__username",
            "action",
            "content_type__model",
            "object_id",
            "citizen",
            "searched",
        )
    )


def entry(user, action, model, object_id="", citizen=None, searched=False):
    return {
        "user__username": user.username,
        "action": action,
        "content_type__model": model,
        "object_id": str(object_id),
        "citizen": citizen.pk if citizen else None,
        "searched": searched,
    }


# What is written ------------------------------------------------------------


def test_viewing_a_citizen_s_page_writes_the_official_the_citizen_and_view(
    official, official_client, anna
):
    response = official_client.get(
        reverse("admin:cabinet_citizen_change", args=[anna.pk])
    )

    assert response.status_code == 200
    assert entries() == [entry(official, "view", "citizen", anna.pk, anna)]
    assert AuditEntry.objects.get().at is not None


def test_a_list_writes_list_and_marks_a_search_without_its_text(
    official, official_client, anna
):
    url = reverse("admin:cabinet_citizen_changelist")

    plain = official_client.get(url)
    searched = official_client.get(url, {"q": anna.snils})

    assert plain.status_code == searched.status_code == 200
    assert anna.last_name in searched.content.decode()
    assert entries() == [
        entry(official, "list", "citizen"),
        entry(official, "list", "citizen", searched=True),
    ]
    stored = [str(value) for row in AuditEntry.objects.values() for value in row.values()]
    assert not [value for value in stored if anna.snils in value]


def test_the_autocomplete_s_answer_is_a_searched_list(admin_client, superuser, anna):
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "offers",
            "model_name": "application",
            "field_name": "citizen",
            "term": "Смирнова",
        },
    )

    assert response.status_code == 200
    assert [row["text"] for row in response.json()["results"]] == [anna.full_name]
    assert entries() == [entry(superuser, "list", "citizen", searched=True)]


def test_an_application_s_action_writes_its_name(
    official, official_client, anna, application
):
    url = reverse("admin:offers_application_act", args=[application.pk, "approve"])

    form = official_client.get(url)
    done = official_client.post(url, {"note": ""})

    assert form.status_code == 200 and done.status_code == 302
    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED
    assert entries() == [
        entry(official, "view", "application", application.pk, anna),
        entry(official, "approve", "application", application.pk, anna),
    ]


def test_a_bulk_action_writes_its_name_for_each_selected_row(
    official, official_client, anna, application, offer_for
):
    other = CitizenFactory(consenting=True)
    second = accept_offer(other, offer_for(other, "B2").pk)

    response = official_client.post(
        reverse("admin:offers_application_changelist"),
        {
            "action": "approve_selected",
            "_selected_action": [application.pk, second.pk],
        },
    )

    assert response.status_code == 302
    assert sorted(entries(), key=lambda row: row["object_id"]) == sorted(
        [
            entry(official, "approve_selected", "application", application.pk, anna),
            entry(official, "approve_selected", "application", second.pk, other),
        ],
        key=lambda row: row["object_id"],
    )


def test_a_change_and_a_delete_are_written_as_such(
    official, official_client, admin_client, superuser, anna
):
    report = ErrorReport.objects.create(citizen=anna, field="address", comment="—")
    change = reverse("admin:cabinet_errorreport_change", args=[report.pk])
    delete = reverse("admin:cabinet_errorreport_delete", args=[report.pk])

    changed = official_client.post(change, {"status": ErrorReport.Status.SENT})
    asked = admin_client.get(delete)
    deleted = admin_client.post(delete, {"post": "yes"})

    assert (changed.status_code, asked.status_code, deleted.status_code) == (
        302,
        200,
        302,
    )
    assert not ErrorReport.objects.exists()
    assert entries() == [
        entry(official, "change", "errorreport", report.pk, anna),
        entry(superuser, "view", "errorreport", report.pk, anna),
        entry(superuser, "delete", "errorreport", report.pk, anna),
    ]


def test_an_official_s_download_of_a_document_is_written(
    official, official_client, anna, offer_for
):
    offer = offer_for(anna)
    upload(login(Client(), anna), offer, "scan.png", PNG)
    document = Document.objects.get()

    response = official_client.get(
        reverse("cabinet:document-download", args=[document.pk])
    )

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert entries() == [entry(official, "download", "document", document.pk, anna)]


# What is not written --------------------------------------------------------


def test_a_citizen_s_own_pages_write_nothing(anna, offer_for):
    offer = offer_for(anna)
    client = login(Client(), anna)
    upload(client, offer, "scan.png", PNG)
    client.post(reverse("cabinet:offer-confirm", args=[offer.pk]))
    application = Application.objects.get(citizen=anna)

    pages = [
        reverse("cabinet:dashboard"),
        reverse("cabinet:profile"),
        reverse("cabinet:offer-detail", args=[offer.pk]),
        reverse("cabinet:applications"),
        reverse("cabinet:application-detail", args=[application.pk]),
        reverse("cabinet:document-download", args=[Document.objects.get().pk]),
        reverse("cabinet:notifications"),
        reverse("cabinet:export"),
    ]

    assert {url: client.get(url).status_code for url in pages} == {
        url: 200 for url in pages
    }
    assert entries() == []


def test_refused_requests_write_nothing(official, official_client, anna):
    page = reverse("admin:cabinet_citizen_change", args=[anna.pk])
    password_only = Client()
    password_only.force_login(official)
    no_rights = UserFactory(username="nobody", is_staff=True)

    answers = {
        "anonymous": Client().get(page).status_code,
        "no second factor": password_only.get(page).status_code,
        "no permission": official_login(Client(), no_rights).get(page).status_code,
        "read-only": official_client.post(page, {"last_name": "Иная"}).status_code,
        "no such citizen": official_client.get(
            reverse("admin:cabinet_citizen_change", args=[anna.pk + 1000])
        ).status_code,
        "bad filter": official_client.get(
            reverse("admin:cabinet_citizen_changelist"), {"no_such_field": "1"}
        ).status_code,
        "nothing selected": official_client.post(
            reverse("admin:offers_application_changelist"),
            {"action": "approve_selected", "index": "0"},
        ).status_code,
    }

    assert answers == {
        "anonymous": 302,
        "no second factor": 302,
        "no permission": 403,
        "read-only": 403,
        "no such citizen": 302,
        "bad filter": 302,
        "nothing selected": 302,
    }
    assert entries() == []


def test_pages_without_personal_data_write_nothing(official, official_client):
    pages = [
        reverse("admin:index"),
        reverse("admin:offers_service_changelist"),
        reverse("admin:events_triggerrule_changelist"),
        reverse("admin:offers_takeupfunnel_changelist"),
    ]

    assert {url: official_client.get(url).status_code for url in pages} == {
        url: 200 for url in pages
    }
    assert entries() == []


def test_a_change_is_undone_when_its_entry_cannot_be_written(
    official_client, application, monkeypatch
):
    """An access nobody can trace is worse than a page that fails: the
    request fails, and what it changed with it."""

    def refuse(*args, **kwargs):
        raise DatabaseError("the log is unavailable")

    monkeypatch.setattr(AuditEntry.objects, "bulk_create", refuse)
    url = reverse("admin:offers_application_act", args=[application.pk, "approve"])

    with pytest.raises(DatabaseError):
        official_client.post(url, {"note": ""})

    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED
    assert not application.history.exclude(status="submitted").exists()


# The log's own page ---------------------------------------------------------


def test_an_official_cannot_open_the_access_log(official_client, admin_client):
    log = reverse("admin:cabinet_auditentry_changelist")

    index = official_client.get(reverse("admin:index")).content.decode()

    assert official_client.get(log).status_code == 403
    assert log not in index
    assert admin_client.get(log).status_code == 200


def test_the_log_s_own_permission_opens_it_and_filters_find_a_citizen(
    official, official_client, anna
):
    official_client.get(reverse("admin:cabinet_citizen_change", args=[anna.pk]))
    other = CitizenFactory()
    official_client.get(reverse("admin:cabinet_citizen_change", args=[other.pk]))
    auditor = UserFactory(username="auditor", is_staff=True)
    auditor.user_permissions.add(Permission.objects.get(codename="view_auditentry"))
    client = official_login(Client(), auditor)
    log = reverse("admin:cabinet_auditentry_changelist")

    pages = {
        "citizen": client.get(log, {"q": str(anna.pk)}),
        "user": client.get(log, {"user__id__exact": official.pk}),
        "action": client.get(log, {"action": "view"}),
        "model": client.get(
            log,
            {"content_type__id__exact": ContentType.objects.get_for_model(Citizen).pk},
        ),
    }

    shown = {
        name: sorted(row.citizen_id for row in page.context["cl"].result_list)
        for name, page in pages.items()
    }
    both = sorted([anna.pk, other.pk])
    assert shown == {"citizen": [anna.pk], "user": both, "action": both, "model": both}
    assert anna.last_name not in pages["citizen"].content.decode()


def test_nobody_adds_changes_or_deletes_an_entry(admin_client, anna):
    admin_client.get(reverse("admin:cabinet_citizen_change", args=[anna.pk]))
    logged = AuditEntry.objects.get()
    change = reverse("admin:cabinet_auditentry_change", args=[logged.pk])

    answers = [
        admin_client.get(reverse("admin:cabinet_auditentry_add")).status_code,
        admin_client.post(change, {"action": "list"}).status_code,
        admin_client.post(
            reverse("admin:cabinet_auditentry_delete", args=[logged.pk]),
            {"post": "yes"},
        ).status_code,
    ]
    bulk = admin_client.post(
        reverse("admin:cabinet_auditentry_changelist"),
        {"action": "delete_selected", "_selected_action": [logged.pk], "post": "yes"},
    )

    assert admin_client.get(change).status_code == 200
    assert answers == [403] * 3
    assert bulk.status_code == 200
    assert list(AuditEntry.objects.values_list("pk", "action")) == [
        (logged.pk, "view")
    ]


def test_every_model_admin_shows_is_judged_personal_or_not():
    """A new model in admin must be put in one of the tables; one with a
    citizen, unless judged to show none, is audited with its citizen."""
    for model in admin.site._registry:
        label = model._meta.label_lower
        personal = label in audit.PERSONAL_DATA
        assert personal != (label in audit.NO_PERSONAL_DATA), label
        names = {field.name for field in model._meta.fields}
        if "citizen" in names and personal:
            assert audit.PERSONAL_DATA[label] == "citizen", label
