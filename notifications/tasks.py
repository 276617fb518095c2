from celery import shared_task

from . import services


@shared_task(name="notifications.dispatch_outbox", soft_time_limit=300, time_limit=360)
def dispatch_outbox() -> int:
    return services.dispatch_pending()


@shared_task(name="notifications.sweep_outbox", soft_time_limit=60, time_limit=90)
def sweep_outbox() -> dict:
    return services.sweep()
