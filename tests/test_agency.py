"""The agency's side: officials act on applications in admin; each step is
recorded with the official, allowed only from the right state, and told to
the citizen."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from notifications.services import dispatch_pending
from offers import services
from offers.models import Application, ApplicationStatusChange, DocumentRequest, Service
from tests.applications import PASSWORD, submitted_application
from tests.factories import CitizenFactory
from tests.helpers import login, official_login

pytestmark = pytest.mark.django_db
MSK = zoneinfo.ZoneInfo("Europe/Moscow")


@pytest.fixture
def official(django_user_model):
    return django_user_model.objects.create_superuser(
        "official", "official@example.org", PASSWORD
    )


@pytest.fixture
def admin_client(client, official):
    return official_login(client, official)


@pytest.fixture
def anna():
    return CitizenFactory(with_account=True, consenting=True, first_name="Анна")


def act(admin_client, application, action, **data):
    url = reverse("admin:offers_application_act", args=[application.pk, action])
    return admin_client.post(url, data, follow=True)


def status_notifications(application):
    return Notification.objects.filter(
        application=application, kind=Notification.Kind.APPLICATION_STATUS
    )


def test_a_due_date_is_set_at_submission(write_csv, anna):
    Service.objects.filter(code="maternity-capital").update(processing_days=15)

    application = submitted_application(write_csv, anna)

    assert application.due_on == timezone.localdate() + datetime.timedelta(days=15)


def test_an_official_approves_then_completes_from_the_application_page(
    admin_client, official, write_csv, anna
):
    application = submitted_application(write_csv, anna)
    page = admin_client.get(
        reverse("admin:offers_application_change", args=[application.pk])
    ).content.decode()
    assert "Одобрить" in page and "Отказать" in page and "Запросить документ" in page
    assert "Исполнить и выдать результат" not in page

    act(admin_client, application, "approve", note="Проверено")
    act(admin_client, application, "complete", kind="", note="")

    application.refresh_from_db()
    assert application.status == Application.Status.COMPLETED
    changes = list(application.history.values_list("status", "actor"))
    assert changes == [
        ("submitted", None),
        ("approved", official.pk),
        ("completed", official.pk),
    ]
    document = application.result_documents.get()
    assert document.kind == "certificate"

    keys = set(status_notifications(application).values_list("object_key", "channel"))
    change_ids = application.history.exclude(status="submitted").values_list(
        "pk", flat=True
    )
    assert keys == {
        (f"status_change:{pk}", channel)
        for pk in change_ids
        for channel in ("cabinet", "email", "sms")
    }


@pytest.mark.usefixtures("afternoon")  # quiet hours would hold the SMS back
def test_the_citizen_is_told_of_each_step_in_the_cabinet_and_by_sms(
    admin_client, write_csv, anna
):
    application = submitted_application(write_csv, anna)
    act(admin_client, application, "approve", note="")
    act(admin_client, application, "complete", kind="", note="")

    dispatch_pending()

    cabinet = list(
        status_notifications(application)
        .filter(channel="cabinet")
        .order_by("id")
        .values_list("body", flat=True)
    )
    assert "одобрено" in cabinet[0]
    assert "оказана. Документ-результат доступен в личном кабинете" in cabinet[1]
    sms = status_notifications(application).filter(channel="sms").order_by("id").first()
    assert (
        sms.body
        == f"Заявление № {application.number}: одобрено. Подробнее в личном кабинете"
    )
    assert anna.last_name not in sms.body


def test_a_rejection_needs_a_reason_and_the_citizen_reads_it(
    admin_client, write_csv, anna
):
    application = submitted_application(write_csv, anna)
    dispatch_pending()  # the offer's and the submission's messages

    response = act(admin_client, application, "reject", reason="  ")
    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED
    assert "Обязательное поле" in response.content.decode()

    act(
        admin_client,
        application,
        "reject",
        reason="Сертификат уже выдан на первого ребёнка",
    )
    application.refresh_from_db()
    assert application.status == Application.Status.REJECTED
    assert application.history.last().note == "Сертификат уже выдан на первого ребёнка"

    mail.outbox.clear()
    dispatch_pending()
    [email] = mail.outbox
    assert "отказ" in email.subject.lower()
    assert "Причина: Сертификат уже выдан на первого ребёнка" in email.body


@pytest.mark.parametrize(
    ("steps", "refused"),
    [
        ([], "complete"),
        (["reject"], "approve"),
        (["reject"], "request-document"),
        (["approve"], "reject"),
        (["approve", "complete"], "complete"),
        (["request-document"], "approve"),
        ([], "receive-document"),
    ],
)
def test_an_illegal_transition_is_refused_and_changes_nothing(
    admin_client, official, write_csv, anna, steps, refused
):
    application = submitted_application(write_csv, anna)
    run = {
        "approve": lambda: services.approve_application(application.pk, actor=official),
        "reject": lambda: services.reject_application(
            application.pk, actor=official, reason="нет права"
        ),
        "complete": lambda: services.complete_application(
            application.pk, actor=official
        ),
        "request-document": lambda: services.request_document(
            application.pk,
            actor=official,
            document="Справка",
            due_on=timezone.localdate() + datetime.timedelta(days=10),
        ),
    }
    for step in steps:
        run[step]()
    application.refresh_from_db()
    before = (
        application.status,
        application.history.count(),
        Notification.objects.count(),
        application.result_documents.count(),
    )

    with pytest.raises(services.ApplicationError):
        {**run, "receive-document": lambda: services.receive_document(application.pk)}[
            refused
        ]()
    data = {"reason": "x", "document": "Справка", "note": "", "kind": ""}
    data["due_on"] = (timezone.localdate() + datetime.timedelta(days=5)).isoformat()
    response = act(admin_client, application, refused, **data)

    application.refresh_from_db()
    after = (
        application.status,
        application.history.count(),
        Notification.objects.count(),
        application.result_documents.count(),
    )
    assert after == before
    assert "Это действие сейчас невозможно" in response.content.decode()


def test_a_requested_document_is_told_and_reminded_once_before_its_deadline(
    admin_client, write_csv, anna, settings
):
    settings.DOCUMENT_REMINDER_DAYS = 3
    start = datetime.datetime(2026, 12, 1, 10, 0, tzinfo=MSK)
    with time_machine.travel(start, tick=False):
        application = submitted_application(write_csv, anna)
        dispatch_pending()  # the offer's and the submission's messages
        act(
            admin_client,
            application,
            "request-document",
            document="Свидетельство о рождении первого ребёнка",
            due_on="2026-12-11",
        )
        application.refresh_from_db()
        assert application.status == Application.Status.DOCUMENTS_REQUESTED
        request = DocumentRequest.objects.get(application=application)
        assert request.due_on == datetime.date(2026, 12, 11)
        mail.outbox.clear()
        dispatch_pending()
        assert "нужен документ: Свидетельство о рождении первого ребёнка" in (
            mail.outbox[0].body
        )
        assert "до 11.12.2026" in mail.outbox[0].body

    with time_machine.travel(
        datetime.datetime(2026, 12, 7, 9, 0, tzinfo=MSK), tick=False
    ):
        assert services.remind_document_deadlines() == 0

    with time_machine.travel(
        datetime.datetime(2026, 12, 8, 9, 0, tzinfo=MSK), tick=False
    ):
        assert services.remind_document_deadlines() == 1
        assert services.remind_document_deadlines() == 0
        mail.outbox.clear()
        dispatch_pending()

    reminder = Notification.objects.get(
        object_key=f"document_request:{request.pk}", channel="cabinet"
    )
    assert reminder.body.startswith("Напоминаем: по заявлению")
    assert "до 11.12.2026" in reminder.body
    assert [m.subject for m in mail.outbox] == [
        f"Напоминание о документах по заявлению № {application.number}"
    ]


def test_no_reminder_once_the_document_is_received(admin_client, write_csv, anna):
    application = submitted_application(write_csv, anna)
    due = timezone.localdate() + datetime.timedelta(days=2)
    act(admin_client, application, "request-document", document="Справка", due_on=due)

    act(admin_client, application, "receive-document", note="")

    application.refresh_from_db()
    assert application.status == Application.Status.IN_REVIEW
    assert services.remind_document_deadlines() == 0
    assert DocumentRequest.objects.get().received_at is not None


def test_a_deadline_in_the_past_is_refused(admin_client, write_csv, anna):
    application = submitted_application(write_csv, anna)
    response = act(
        admin_client,
        application,
        "request-document",
        document="Справка",
        due_on=timezone.localdate().isoformat(),
    )
    assert "Срок должен быть позже сегодняшнего дня" in response.content.decode()
    assert not DocumentRequest.objects.exists()


def test_the_queue_lists_by_service_with_overdue_applications_marked(
    admin_client, write_csv, anna
):
    Service.objects.filter(code="maternity-capital").update(processing_days=10)
    with time_machine.travel(datetime.datetime(2026, 11, 2, 12, 0, tzinfo=MSK)):
        late = submitted_application(write_csv, anna, "B1")
    other = CitizenFactory(with_account=True, consenting=True)
    with time_machine.travel(datetime.datetime(2026, 11, 20, 12, 0, tzinfo=MSK)):
        fresh = submitted_application(write_csv, other, "B2")
        url = reverse("admin:offers_application_changelist")
        service = Service.objects.get(code="maternity-capital")

        page = admin_client.get(
            url, {"service__id__exact": service.pk}
        ).content.decode()
        overdue = admin_client.get(url, {"queue": "overdue"}).content.decode()

    assert page.index(late.number) < page.index(fresh.number)  # soonest due first
    assert "12.11.2026 (просрочено)" in page
    assert "30.11.2026" in page and "30.11.2026 (просрочено)" not in page
    assert late.number in overdue and fresh.number not in overdue
    start = page.index("Очереди по услугам")
    queues = page[start : page.index("</table>", start)]
    assert "Материнский (семейный) капитал" in queues
    assert f"?service__id__exact={service.pk}&amp;queue=overdue" in queues
    assert "12.11.2026" in queues  # the nearest due date


def test_bulk_approval_reports_what_it_could_not_do(admin_client, write_csv, anna):
    first = submitted_application(write_csv, anna, "B1")
    second = submitted_application(
        write_csv, CitizenFactory(with_account=True, consenting=True), "B2"
    )
    services.reject_application(second.pk, reason="нет права")

    response = admin_client.post(
        reverse("admin:offers_application_changelist"),
        {"action": "approve_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert "выполнено 1, невозможно 1" in response.content.decode()
    first.refresh_from_db()
    assert first.status == Application.Status.APPROVED


def test_bulk_completion_names_each_application_it_could_not_complete_and_why(
    admin_client, write_csv, anna
):
    """Regression: «Исполнить выбранные» said «выполнено 0, невозможно 1»
    and not which application or why."""
    approved = submitted_application(write_csv, anna, "B1")
    services.approve_application(approved.pk)
    waiting = submitted_application(
        write_csv, CitizenFactory(with_account=True, consenting=True), "B2"
    )

    response = admin_client.post(
        reverse("admin:offers_application_changelist"),
        {"action": "complete_selected", "_selected_action": [approved.pk, waiting.pk]},
        follow=True,
    )

    assert [str(message) for message in response.context["messages"]] == [
        "Исполнение: выполнено 1, невозможно 1.",
        f"Заявление № {waiting.number}: сейчас это невозможно, заявление «подано»",
    ]
    approved.refresh_from_db()
    waiting.refresh_from_db()
    assert approved.status == Application.Status.COMPLETED
    assert approved.result_documents.get().kind == "certificate"
    assert waiting.status == Application.Status.SUBMITTED


def test_a_citizen_account_cannot_act_in_admin(client, write_csv, anna):
    application = submitted_application(write_csv, anna)
    login(client, anna)

    response = act(client, application, "approve", note="")

    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED
    assert "/admin/login/" in response.redirect_chain[0][0]
    assert not ApplicationStatusChange.objects.filter(status="approved").exists()


def test_a_service_with_passing_checks_decides_by_itself(write_csv, anna):
    Service.objects.filter(code="maternity-capital").update(auto_decide=True)
    application = submitted_application(write_csv, anna)

    assert services.auto_decide_application(application.pk) == "completed"

    application.refresh_from_db()
    assert list(application.history.values_list("status", "actor")) == [
        ("submitted", None),
        ("approved", None),
        ("completed", None),
    ]
    assert application.result_documents.get().kind == "certificate"


def test_a_failed_check_sends_the_application_to_an_official(write_csv, anna, settings):
    """The check stands behind the service's «granted once»: an offer made
    while the flag was off (or before it existed) still reaches it."""
    Service.objects.filter(code="maternity-capital").update(
        auto_decide=True, granted_once=False
    )
    earlier = submitted_application(write_csv, anna, "B1")
    services.approve_application(earlier.pk)
    services.complete_application(earlier.pk)
    application = submitted_application(write_csv, anna, "B2")

    assert services.auto_decide_application(application.pk) == "in_review"

    change = application.history.last()
    assert change.status == "in_review"
    assert "сертификат этому заявителю уже выдан" in change.note


def test_a_service_without_auto_decide_waits_for_an_official(write_csv, anna):
    application = submitted_application(write_csv, anna)
    assert services.auto_decide_application(application.pk) == "submitted"
    assert application.history.count() == 1


def test_the_beat_schedule_names_the_reminder_task_on_a_served_queue(settings):
    from proactive_portal.celery import app

    app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["remind-document-deadlines"]

    assert entry["task"] in app.tasks
    assert settings.CELERY_TASK_ROUTES["offers.*"]["queue"] in settings.PORTAL_QUEUES


def test_opening_an_action_page_shows_its_form_and_changes_nothing(
    admin_client, write_csv, anna
):
    application = submitted_application(write_csv, anna)
    url = reverse("admin:offers_application_act", args=[application.pk, "reject"])

    page = admin_client.get(url).content.decode()

    assert "Причина отказа (её увидит гражданин)" in page
    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED
    assert admin_client.get(url.replace("reject", "vanish")).status_code == 404


def test_an_application_cannot_be_moved_to_another_citizen_or_deleted_in_admin(
    admin_client, anna, write_csv
):
    application = submitted_application(write_csv, anna)
    other = CitizenFactory()
    url = reverse("admin:offers_application_change", args=[application.pk])

    page = admin_client.get(url)
    assert page.status_code == 200
    assert 'name="citizen"' not in page.content.decode()
    admin_client.post(url, {"citizen": other.pk, "offer": "", "_continue": "1"})
    application.refresh_from_db()
    assert application.citizen_id == anna.pk and application.offer_id is not None

    delete = reverse("admin:offers_application_delete", args=[application.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Application.objects.filter(pk=application.pk).exists()

    offer_page = admin_client.get(
        reverse("admin:offers_offer_change", args=[application.offer_id])
    ).content.decode()
    assert 'name="citizen"' not in offer_page and 'name="status"' not in offer_page
