from django.contrib import admin

from proactive_portal.admin_base import ReadOnlyAdmin

from .models import Consent


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    """Consent is the citizen's own act, given and revoked in the cabinet
    (consents.services) with its evidence: officials read it, nobody
    makes, changes or deletes one here."""

    list_display = ("citizen", "purpose", "text_version", "given_at", "valid_until", "revoked_at")
    list_filter = ("purpose", "text_version")
    search_fields = ("=citizen__snils", "citizen__last_name")
    raw_id_fields = ("citizen",)
    readonly_fields = ("given_at", "ip_address", "user_agent")
