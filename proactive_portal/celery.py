"""The Celery application: Redis as broker, tasks discovered in every app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proactive_portal.settings")

app = Celery("proactive_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
