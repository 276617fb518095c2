from celery import shared_task

from . import services


@shared_task(name="offers.auto_decide", soft_time_limit=60, time_limit=90)
def auto_decide(application_id: int) -> str:
    return services.auto_decide_application(application_id)


@shared_task(
    name="offers.remind_document_deadlines", soft_time_limit=300, time_limit=360
)
def remind_document_deadlines() -> int:
    return services.remind_document_deadlines()
