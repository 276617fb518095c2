from django.db import models
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Consent(models.Model):
    """A citizen's consent to one purpose of processing, with its evidence."""

    class Purpose(models.TextChoices):
        PROACTIVE = "proactive", _("проактивное предоставление услуг")

    citizen = models.ForeignKey(
        "cabinet.Citizen",
        on_delete=models.CASCADE,
        related_name="consents",
        verbose_name=_("гражданин"),
    )
    purpose = models.CharField(
        _("цель"), max_length=32, choices=Purpose.choices, default=Purpose.PROACTIVE
    )
    text_version = models.CharField(_("версия текста"), max_length=32)
    given_at = models.DateTimeField(_("дано"), default=timezone.now)
    valid_until = models.DateTimeField(_("действует до"))
    revoked_at = models.DateTimeField(_("отозвано"), null=True, blank=True)
    ip_address = models.GenericIPAddressField(_("IP-адрес"), null=True, blank=True)
    user_agent = models.TextField(_("браузер"), blank=True)

    class Meta:
        verbose_name = _("согласие")
        verbose_name_plural = _("согласия")
        ordering = ["-given_at"]
        indexes = [models.Index(fields=["citizen", "purpose", "valid_until"])]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} ({self.text_version})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.valid_until > timezone.now()


def active_consent_exists(citizen_ref: str = "citizen_id") -> Exists:
    """True for rows whose citizen (the outer column ``citizen_ref``) holds an
    active consent to proactive processing; for set-based queries."""
    return Exists(
        Consent.objects.filter(
            citizen_id=OuterRef(citizen_ref),
            purpose=Consent.Purpose.PROACTIVE,
            revoked_at__isnull=True,
            valid_until__gt=timezone.now(),
        )
    )
