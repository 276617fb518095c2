"""Notice texts: templates compiled once render exactly what Django
renders; plain text is not HTML-escaped; the offer SMS names the service
within two SMS parts."""

import datetime

import pytest
import time_machine
from django.conf import settings
from django.template import Context, Template
from django.template.loader import select_template

from events.services import evaluate_batch
from notifications import services
from notifications.models import MessageTemplate, Notification
from notifications.rendering import compiled_text
from notifications.sms_parts import sms_length
from offers.models import Offer
from tests.factories import CitizenFactory
from tests.helpers import BIRTHS_HEADER, birth

pytestmark = pytest.mark.django_db

AFTERNOON = datetime.datetime(2026, 12, 3, 11, 0, tzinfo=datetime.UTC)  # 14:00 MSK


@pytest.fixture
def offer_for(write_csv, run_import):
    def make(citizen, record_id="T1"):
        path = write_csv(
            f"{record_id}.csv", BIRTHS_HEADER, [birth(record_id, citizen.snils)]
        )
        summary = run_import("births", path)
        evaluate_batch(summary["batch_id"])
        return Offer.objects.get(citizen=citizen, event__record_id=record_id)

    return make


def django_render(kind, name, context):
    """The reference: the template file rendered the usual way, plain
    text without HTML escaping."""
    template = select_template(
        [f"notifications/{kind}/{name}", f"notifications/default/{name}"]
    ).template
    return template.render(Context(context, autoescape=name.endswith(".html")))


@pytest.mark.parametrize(
    "kind", ["offer_created", "offer_reminder", "offer_withdrawn", "consent_expiring"]
)
@pytest.mark.parametrize("channel", ["cabinet", "sms", "email", "push"])
def test_compiled_texts_read_as_django_renders_them(offer_for, kind, channel):
    maria = CitizenFactory(consenting=True)
    offer = offer_for(maria)
    notification = Notification(
        citizen=maria, kind=kind, channel=channel, offer=offer, object_key="x:1"
    )
    context = {
        "notification": notification,
        "citizen": maria,
        "offer": offer,
        "application": None,
        "base_url": settings.PORTAL_BASE_URL,
        "service_title": offer.service.sms_title,
    }

    subject, text, html = services.render(notification)

    assert subject == django_render(kind, "subject.txt", context).strip()
    name = "sms" if channel == "push" else channel
    assert text == django_render(kind, f"{name}.txt", context).strip()
    expected_html = django_render(kind, "email.html", context)
    assert html == (expected_html if channel == "email" else "")


def test_an_officials_template_renders_as_django_renders_it(offer_for):
    """Variables through models and methods, filters, a missing name,
    translations: the compiled template gives Django's result, and a tag
    it does not compile ({% if %}) is left to Django."""
    maria = CitizenFactory(consenting=True)
    offer = offer_for(maria)
    notification = Notification.objects.get(offer=offer, channel="sms")
    context = {"notification": notification, "citizen": maria, "offer": offer}
    plain = (
        "{% load i18n %}{{ citizen.first_name|upper }} "
        "{{ notification.get_kind_display }} [{{ nothing.here }}] "
        "{{ offer.expires_at|date:'d.m.Y' }} {{ offer.service.title|truncatechars:9 }} "
        "{% translate 'Открыть предложение' %} "
        "{% blocktranslate with code=offer.short_code %}код {{ code }}"
        "{% endblocktranslate %}"
    )
    branching = "{% if citizen.first_name %}{{ citizen.first_name }}{% endif %}!"

    for source, compiles in ((plain, True), (branching, False)):
        compiled = compiled_text(source, autoescape=False)
        expected = Template(source).render(Context(context, autoescape=False))
        assert compiled.compiled is compiles
        assert compiled.render(context) == expected
    assert offer.short_code in compiled_text(plain, autoescape=False).render(context)


def test_an_sms_text_is_not_html_escaped(offer_for):
    """Regression: plain-text templates were rendered with HTML escaping,
    so quotes and ampersands reached the phone as &quot; and &amp;."""
    maria = CitizenFactory(consenting=True)
    offer = offer_for(maria)
    offer.service.short_title = 'Пособие "Мама & я"'
    offer.service.save()

    _subject, text, _html = services.render(
        Notification.objects.get(offer=offer, channel="sms")
    )

    assert '«Пособие "Мама & я"»' in text


def test_the_offer_sms_names_the_service(offer_for, sms_gateway):
    """Regression: the offer SMS said "a service" without saying which."""
    maria = CitizenFactory(consenting=True, first_name="Мария")
    with time_machine.travel(AFTERNOON, tick=False):  # not in quiet hours
        offer = offer_for(maria)
        services.dispatch_pending(channel="sms")

    [message] = sms_gateway.state.messages
    assert message["text"] == (
        f"Мария, Вам положена услуга «{offer.service.short_title}». "
        f"Подать заявление: ответьте ДА {offer.short_code}"
    )
    assert offer.service.short_title == "Материнский капитал"
    assert message["encoding"] == "ucs2" and message["parts"] == 2


def test_a_long_service_name_is_cut_to_keep_the_sms_within_two_parts(offer_for):
    maria = CitizenFactory(consenting=True, first_name="Александра-Виктория")
    offer = offer_for(maria)
    service = offer.service
    service.short_title = ""
    service.title = "Единовременное пособие " + "при рождении ребёнка " * 6
    service.save()

    _subject, text, _html = services.render(
        Notification.objects.get(offer=offer, channel="sms")
    )

    assert sms_length(text).parts == 2
    assert text.startswith("Александра-Виктория, Вам положена услуга «Единовременное")
    assert "…»" in text
    assert text.endswith(f"ответьте ДА {offer.short_code}")


def test_an_officials_sms_template_is_kept_within_two_parts(offer_for):
    maria = CitizenFactory(consenting=True)
    offer = offer_for(maria)
    offer.service.short_title = ""
    offer.service.title = "Услуга " + "с очень длинным названием " * 6
    offer.service.save()
    MessageTemplate.objects.create(
        kind="offer_created",
        channel="sms",
        language=settings.LANGUAGE_CODE,
        body="{{ citizen.first_name }}: «{{ service_title }}», "
        "ДА {{ offer.short_code }}",
    )

    _subject, text, _html = services.render(
        Notification.objects.get(offer=offer, channel="sms")
    )

    assert sms_length(text).parts == 2
    assert text.startswith("Мария: «Услуга с очень") and "…»" in text
