from celery import shared_task

from . import services


@shared_task(name="events.evaluate_batch", soft_time_limit=600, time_limit=660)
def evaluate_batch(batch_id: str) -> int:
    return services.evaluate_batch(batch_id)
