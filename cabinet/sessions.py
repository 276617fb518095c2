"""Sessions in PostgreSQL, read together with who is asking.

Django's database session engine with two differences: the session model
(``cabinet.models.Session``) carries the account and the second-factor
device the data names as columns, written on every save; and a session the
request's identity statement has already read (``cabinet.identity``) is
taken from it instead of being read again. Everything else - the signed
data, expiry, a new key at login, deletion at logout, ``clearsessions`` - is
Django's own.
"""

from __future__ import annotations

import functools
import logging

from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.backends import db
from django.core import signing
from django.core.exceptions import ValidationError
from django_otp import DEVICE_ID_SESSION_KEY

from . import identity


class _Payload:
    """A "serializer" that hands back the verified bytes as they are."""

    def loads(self, data: bytes) -> bytes:
        return data


@functools.lru_cache(maxsize=4096)
def _verified_payload(salt: str, session_data: str) -> bytes | None:
    """The serialized data inside a signed session text, once its signature
    is checked (Django's signing); None if it does not check. A signed text
    always holds the same data (sessions are read without a maximum age),
    so each web process checks a text once: the check is most of the cost
    of reading a session on every page view."""
    try:
        return signing.loads(session_data, salt=salt, serializer=_Payload)
    except signing.BadSignature:
        logging.getLogger("django.security.SuspiciousSession").warning(
            "Session data corrupted"
        )
    except Exception:  # a malformed text: an empty session, as Django does
        pass
    return None


def _account_id(data: dict):
    value = data.get(SESSION_KEY)
    if value is None:
        return None
    try:
        return get_user_model()._meta.pk.to_python(value)
    except ValidationError:
        return None


class SessionStore(db.SessionStore):
    @classmethod
    def get_model_class(cls):
        from .models import Session

        return Session

    def decode(self, session_data):
        payload = _verified_payload(self.key_salt, session_data)
        if payload is None:
            return {}
        try:
            return self.serializer().loads(payload)  # new objects every time
        except Exception:
            return {}

    def load(self):
        data = identity.preloaded_session(self.session_key)
        if data is identity.NOT_LOADED:
            return super().load()
        if data is None:
            # No such session, or it has expired: a new key on the next
            # save, as Django's own load does.
            self._session_key = None
            return {}
        return data

    def _with_columns(self, session, data: dict):
        session.account_id = _account_id(data)
        device = identity.device_label(data.get(DEVICE_ID_SESSION_KEY))
        session.device_model, session.device_pk = device or ("", None)
        return session

    def create_model_instance(self, data):
        return self._with_columns(super().create_model_instance(data), data)

    async def acreate_model_instance(self, data):
        return self._with_columns(await super().acreate_model_instance(data), data)
