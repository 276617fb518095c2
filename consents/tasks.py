from celery import shared_task

from . import services


@shared_task(name="consents.remind_expiring", soft_time_limit=300, time_limit=360)
def remind_expiring() -> int:
    return services.remind_expiring_consents()
