from django.conf import settings


def gateway(request):
    """The demo banner links to the local SMS gateway's message list."""
    url = settings.SMS_LOCAL_GATEWAY_URL if settings.PORTAL_DEMO else ""
    return {"sms_gateway_url": url}
