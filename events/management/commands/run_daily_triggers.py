"""python manage.py run_daily_triggers

Run the daily age and time triggers now, as beat does hourly: citizens who
reached an age milestone get its event, and the rules in force offer their
services. Safe to run any number of times (each offer is made once)."""

from django.core.management.base import BaseCommand

from events import services


class Command(BaseCommand):
    help = "Сработать правилам по возрасту и по сроку сейчас, не дожидаясь beat."

    def handle(self, **options):
        made = services.run_daily_triggers()
        self.stdout.write(f"offers made: {made}")
