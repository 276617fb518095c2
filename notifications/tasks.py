import time

from celery import shared_task
from django.conf import settings

from . import services


@shared_task(name="notifications.dispatch_outbox", soft_time_limit=300, time_limit=360)
def dispatch_outbox(channel: str = "") -> int:
    budget = settings.NOTIFY_TASK_BUDGET_SECONDS
    started = time.monotonic()
    handled = services.dispatch_pending(channel=channel, budget_seconds=budget)
    if handled and time.monotonic() - started > budget:
        # Out of time with rows possibly left: a fresh task goes on.
        dispatch_outbox.delay(channel)
    return handled


@shared_task(name="notifications.sweep_outbox", soft_time_limit=60, time_limit=90)
def sweep_outbox() -> dict:
    return services.sweep()


@shared_task(name="notifications.noop_batch", soft_time_limit=60, time_limit=90)
def noop_batch(ids: list[int], counter_key: str) -> int:
    """The baseline of bench/notify_bench.py: a batched task that does
    nothing but count its items, to compare the outbox with what Celery
    alone can carry on the same machine."""
    from .backends.sms import _redis

    return _redis().incrby(counter_key, len(ids))
