"""Web Push with VAPID, through ``pywebpush``.

The browser's push service is an outside party: it answers 201 when it
took the message, 404 or 410 when the subscription is gone (then the
subscription is dropped), anything else is worth a retry.
"""

from __future__ import annotations

import base64
import json
import logging
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

logger = logging.getLogger(__name__)

DELIVERED, EXPIRED = "delivered", "expired"


@lru_cache(maxsize=1)
def vapid() -> Vapid02:
    """The portal's VAPID key; made once under DATA_DIR for development."""
    path = Path(settings.VAPID_PRIVATE_KEY_FILE)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Vapid02()
        key.generate_keys()
        key.save_key(str(path))
        path.chmod(0o600)
    return Vapid02.from_file(str(path))


def public_key() -> str:
    """The application server key the browser subscribes with."""
    raw = vapid().public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def send(subscription, notification) -> str:
    payload = json.dumps(
        {
            "title": notification.subject or "Проактивный портал",
            "body": notification.body,
            "url": "/notifications/",
        },
        ensure_ascii=False,
    )
    try:
        webpush(
            subscription_info={
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            },
            data=payload,
            vapid_private_key=vapid(),
            vapid_claims={"sub": settings.VAPID_SUBJECT},
            timeout=10,
            ttl=24 * 3600,
        )
    except WebPushException as error:
        code = getattr(error.response, "status_code", None)
        if code in (404, 410):
            return EXPIRED
        return f"push http {code}"
    except Exception as error:  # network trouble: worth a retry
        return f"push {type(error).__name__}"
    return DELIVERED
