"""The simple electronic signature of an application (63-FZ art. 9).

What is signed is one canonical text: the offer, the service and the
application's data (the pre-filled values and the way to receive the
money), as JSON with sorted keys and no spaces, so the same values always
give the same bytes and the same SHA-256. The one-time code the citizen
types is tied to that hash before it is sent (cabinet.signing), and the
signature row keeps the text, the hash and a seal made with the server's
key; ``check`` recomputes both and compares the text with the
application's current data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .models import Application, ApplicationSignature

SEAL_SALT = "offers.signature"


@dataclass(frozen=True)
class Evidence:
    """How the citizen signed: the code's channel and where from."""

    method: str  # ApplicationSignature.Method
    ip_address: str | None = None
    user_agent: str = ""


def application_data(prefill: dict, extra: dict | None) -> dict:
    """The data an application is made of: the pre-filled values, and the
    citizen's own answers under keys the pre-fill does not use."""
    data = dict(prefill)
    for key, value in (extra or {}).items():
        data.setdefault(key, value)
    return data


def canonical_content(offer_id: int, service_code: str, data: dict) -> str:
    return json.dumps(
        {"offer": offer_id, "service": service_code, "data": data},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def _seal(application_id: int, digest: str, method: str, signed_at, secret=None) -> str:
    value = f"{application_id}|{digest}|{method}|{signed_at.isoformat()}"
    return salted_hmac(SEAL_SALT, value, secret=secret, algorithm="sha256").hexdigest()


def record(application: Application, evidence: Evidence) -> ApplicationSignature:
    """Write the signature of a just-created application; called inside
    the transaction that creates it (offers.services.accept_offer)."""
    content = canonical_content(
        application.offer_id, application.service.code, application.data
    )
    digest = content_hash(content)
    # Microseconds dropped: the seal is recomputed from the stored value.
    signed_at = timezone.now().replace(microsecond=0)
    return ApplicationSignature.objects.create(
        application=application,
        content=content,
        sha256=digest,
        seal=_seal(application.pk, digest, evidence.method, signed_at),
        method=evidence.method,
        signed_at=signed_at,
        ip_address=evidence.ip_address,
        user_agent=evidence.user_agent[:1000],
    )


def check(signature: ApplicationSignature) -> bool:
    """True when the stored text still has its hash, the seal fits, and the
    application's data are what was signed."""
    application = signature.application
    digest = content_hash(signature.content)
    expected = canonical_content(
        application.offer_id, application.service.code, application.data
    )
    # A seal made before the key was rotated still checks with the old key
    # kept in SECRET_KEY_FALLBACKS.
    sealed = any(
        hmac.compare_digest(
            _seal(application.pk, digest, signature.method, signature.signed_at, key),
            signature.seal,
        )
        for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    )
    return (
        hmac.compare_digest(digest, signature.sha256)
        and sealed
        and hmac.compare_digest(expected.encode(), signature.content.encode())
    )
