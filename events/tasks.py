from celery import shared_task

from . import services


@shared_task(name="events.evaluate_batch", soft_time_limit=600, time_limit=660)
def evaluate_batch(batch_id: str) -> int:
    return services.evaluate_batch(batch_id)


@shared_task(name="events.evaluate_citizen", soft_time_limit=120, time_limit=150)
def evaluate_citizen(citizen_id: int) -> int:
    return services.evaluate_citizen(citizen_id)


@shared_task(name="events.daily_triggers", soft_time_limit=1800, time_limit=1900)
def daily_triggers() -> int:
    return services.run_daily_triggers()


@shared_task(name="events.offer_lifecycle", soft_time_limit=900, time_limit=960)
def offer_lifecycle() -> dict[str, int]:
    return services.run_offer_lifecycle()
