from celery import shared_task

from . import services


@shared_task(name="notifications.dispatch_outbox", soft_time_limit=300, time_limit=360)
def dispatch_outbox(channel: str = "") -> int:
    return services.dispatch_pending(channel=channel)


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
