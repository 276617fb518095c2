from django.conf import settings


def portal(request):
    citizen = getattr(getattr(request, "user", None), "citizen", None)
    unread = 0
    if citizen is not None:
        unread = citizen.notifications.filter(
            channel="cabinet", status="sent", read_at__isnull=True
        ).count()
    return {"portal_demo": settings.PORTAL_DEMO, "unread_count": unread}
