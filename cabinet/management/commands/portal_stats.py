"""python manage.py portal_stats [--json]: the counts an operator watches."""

import json

from django.core.management.base import BaseCommand
from django.db.models import Count

from cabinet.models import Citizen
from events.models import LifeEvent
from notifications.models import Notification
from offers.models import Application, Offer


def collect() -> dict:
    def by(queryset, *fields):
        rows = queryset.values(*fields).annotate(n=Count("id")).order_by(*fields)
        if len(fields) == 1:
            return {row[fields[0]]: row["n"] for row in rows}
        result: dict = {}
        for row in rows:
            result.setdefault(row[fields[0]], {})[row[fields[1]]] = row["n"]
        return result

    return {
        "citizens": Citizen.objects.count(),
        "events_by_type": by(LifeEvent.objects.all(), "event_type"),
        "offers_by_status": by(Offer.objects.all(), "status"),
        "applications_by_status": by(Application.objects.all(), "status"),
        "notifications_by_channel_and_status": by(
            Notification.objects.all(), "channel", "status"
        ),
    }


class Command(BaseCommand):
    help = "Счётчики портала: граждане, события, предложения, заявления, уведомления."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        stats = collect()
        if options["json"]:
            self.stdout.write(json.dumps(stats, ensure_ascii=False))
            return
        for key, value in stats.items():
            self.stdout.write(f"{key}: {value}")
