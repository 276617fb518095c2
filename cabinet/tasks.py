from celery import shared_task

from .sessions import SessionStore


@shared_task(name="cabinet.clear_expired_sessions", soft_time_limit=300, time_limit=360)
def clear_expired_sessions() -> None:
    """Django's ``clearsessions``: sessions past their expiry are deleted
    (they are already refused; this only keeps the table small)."""
    SessionStore.clear_expired()
