"""The dashboard's body, rendered once per content and kept in Redis.

The body (new offers, applications in progress, upcoming payments and
deadlines) is the costly part of the busiest page. It is cached under a
fingerprint of exactly what it shows: an md5 the database computes, in the
statement that loads the citizen, over the rows the body renders (ids,
statuses, dates, service titles, amounts). A change made by any writer -
the ORM, the importers' and the evaluation's raw SQL, the admin - changes
the fingerprint in the very next request, so a new offer shows at once and
nothing has to remember to bump a version. The import and evaluation paths
pay nothing for it: no trigger, no counter written per citizen.

The whole page is kept too, under the same fingerprint plus everything
else it prints (the header's unread count, consent, the language, the
CSRF secret its forms carry), in the web process's memory (the "pages"
cache): a repeated view costs one statement (session, account, device,
citizen and fingerprint: cabinet.identity) and a lookup in memory. A page
with pending messages is rendered fresh: messages are shown once.
"""

from __future__ import annotations

import datetime
import hashlib

from django.contrib.messages import get_messages
from django.core.cache import cache, caches
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from events.models import LifeEvent
from offers.models import Application, Offer

from .identity import literal

OFFERS_SHOWN = 20
APPLICATIONS_SHOWN = 10
UPCOMING_SHOWN = 10
UPCOMING_TYPES = (LifeEvent.Type.PAYMENT, LifeEvent.Type.TAX_NOTICE)
# Bump when templates/cabinet/_dashboard_body.html changes in a way the
# fingerprint cannot see; the hour bounds what a deploy leaves behind
# (and how long a payment type renamed in admin keeps its old name here).
TEMPLATE_VERSION = 2
CACHE_SECONDS = 60 * 60

# Every value the body template prints, per row, in the order it prints
# them. Table names are Django's defaults for these models.
_FINGERPRINT_SQL = """
md5(concat_ws('|',
  (SELECT string_agg(concat_ws(':', o.id, o.status, o.expires_at, s.title),
                     ',' ORDER BY o.id)
     FROM offers_offer o JOIN offers_service s ON s.id = o.service_id
    WHERE o.citizen_id = cabinet_citizen.id AND o.status = ANY({offer_open})),
  (SELECT string_agg(concat_ws(':', a.id, a.status, a.number, s.title),
                     ',' ORDER BY a.id)
     FROM offers_application a JOIN offers_service s ON s.id = a.service_id
    WHERE a.citizen_id = cabinet_citizen.id
      AND a.status = ANY({application_open})),
  (SELECT string_agg(concat_ws(':', e.id, e.event_type, e.occurred_on,
                               md5(e.data::text)), ',' ORDER BY e.id)
     FROM events_lifeevent e
    WHERE e.citizen_id = cabinet_citizen.id AND e.event_type = ANY({upcoming})
      AND e.occurred_on >= %s)
))
""".format(
    offer_open=literal([str(status) for status in Offer.OPEN]),
    application_open=literal([str(status) for status in Application.OPEN_STATUSES]),
    upcoming=literal([str(kind) for kind in UPCOMING_TYPES]),
)


def fingerprint_annotation(today: datetime.date | None = None) -> dict:
    """An annotation for the citizen query (cabinet.views.load_citizen):
    ``dashboard_fingerprint``."""
    today = today or timezone.localdate()
    return {"dashboard_fingerprint": (_FINGERPRINT_SQL, [today])}


def body_context(citizen) -> dict:
    """The body's rows, read from the database (at most three queries)."""
    offers = citizen.offers.filter(status__in=Offer.OPEN).select_related("service")
    applications = citizen.applications.filter(
        status__in=Application.OPEN_STATUSES
    ).select_related("service")
    upcoming = LifeEvent.objects.filter(
        citizen=citizen,
        event_type__in=UPCOMING_TYPES,
        occurred_on__gte=timezone.localdate(),
    ).order_by("occurred_on")
    return {
        "offers": offers[:OFFERS_SHOWN],
        "applications": applications[:APPLICATIONS_SHOWN],
        "upcoming": upcoming[:UPCOMING_SHOWN],
    }


def render_body(citizen) -> SafeString:
    """The body's HTML: from the cache when the citizen's fingerprint has
    been rendered before in this language, else rendered and stored."""
    key = ":".join(
        [
            "cabinet:dashboard",
            str(TEMPLATE_VERSION),
            str(citizen.pk),
            get_language(),
            citizen.dashboard_fingerprint,
        ]
    )
    html = cache.get(key)
    if html is None:
        html = render_to_string("cabinet/_dashboard_body.html", body_context(citizen))
        cache.set(key, html, CACHE_SECONDS)
    return mark_safe(html)


def page_key(request, citizen) -> str | None:
    """The cache key of the whole page for this request, or None when the
    page must be rendered (pending messages, no CSRF secret yet)."""
    csrf_secret = request.META.get("CSRF_COOKIE")
    if not csrf_secret or len(get_messages(request)):
        return None
    varying = "|".join(
        str(part)
        for part in (
            csrf_secret,
            request.get_full_path(),
            citizen.first_name,
            citizen.has_consent,
            citizen.proactive_mode,
            citizen.unread,
        )
    )
    return ":".join(
        [
            "cabinet:dashboard-page",
            str(TEMPLATE_VERSION),
            str(citizen.pk),
            get_language(),
            citizen.dashboard_fingerprint,
            hashlib.sha256(varying.encode()).hexdigest(),
        ]
    )


def cached_page(request, citizen, render) -> HttpResponse:
    """The page from the cache, or ``render()``'s response, stored."""
    key = page_key(request, citizen)
    pages = caches["pages"]
    if key is not None:
        content = pages.get(key)
        if content is not None:
            return HttpResponse(content)
    response = render()
    if key is not None and response.status_code == 200:
        pages.set(key, response.content, CACHE_SECONDS)
    return response
