from django.conf import settings


def portal(request):
    """The header's unread count. Cabinet views load it with the citizen in
    one query (cabinet.views.load_citizen); this only reuses it."""
    citizen = getattr(request, "_cabinet_citizen", None)
    unread = getattr(citizen, "unread", 0) if citizen is not None else 0
    return {
        "portal_demo": settings.PORTAL_DEMO,
        "unread_count": unread,
        "cabinet_citizen": citizen,
    }
