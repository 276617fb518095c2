"""SMS delivery behind one small interface.

A backend has one method, ``send(phone, text)``, which returns the
provider's message id or raises on failure. ``SMS_BACKEND`` names the class.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


class BaseSmsBackend:
    def send(self, phone: str, text: str) -> str:
        raise NotImplementedError


class FileSmsBackend(BaseSmsBackend):
    """Development and demo: each message is one JSON line in a file."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path or settings.SMS_FILE_PATH)

    def send(self, phone: str, text: str) -> str:
        message_id = uuid.uuid4().hex
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {
                "id": message_id,
                "at": timezone.now().isoformat(),
                "to": phone,
                "text": text,
            },
            ensure_ascii=False,
        )
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return message_id


def get_sms_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()
