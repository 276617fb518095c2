"""Celery queue names, in one place: settings route tasks to them, and the
demo, docker-compose and the tests start a worker on each."""

QUEUES = ("events", "notifications")
