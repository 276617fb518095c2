"""Who is asking, in one statement per page view.

A signed-in page needs the account (Django's auth), the second factor's
device (django-otp) and the citizen with the header's state. Loaded the
usual way, that is three queries, each composed by the ORM on every view;
together they were most of a cached dashboard view's time.

``IdentityMiddleware`` loads the three rows in one hand-written statement,
once the URL is resolved (so the citizen query can carry the page's own
annotations), and hands each row to the code that would otherwise have
read it: ``Backend.get_user`` (a ``ModelBackend``), ``OTPMiddleware``'s
device lookup and ``load_citizen``. Every check stays where the libraries
keep it: the session's hash against the password, an active account, the
device's owner and confirmation. A row the statement did not load (another
backend, an unknown device class, a session changed mid-request) is read
the libraries' own way.

The rows live in a context variable for the length of one request.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from django.apps import apps
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.db.backends.postgresql.base import ServerBindingCursor
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import middleware as otp_middleware
from django_otp.models import Device
from psycopg import sql as pg_sql

from consents.models import Consent
from notifications.models import Notification

from .models import Citizen

BACKEND_PATH = "cabinet.identity.Backend"
# The identity statement did not load the row asked for.
NOT_LOADED = object()
_loaded: contextvars.ContextVar[Identity | None] = contextvars.ContextVar(
    "cabinet_identity", default=None
)


def literal(value) -> str:
    """A constant of the code (a status, a list of statuses) as SQL text."""
    return pg_sql.Literal(value).as_string()


# What every page header needs of the citizen, beside its columns. The
# constants are written into the text: a prepared statement's parameters
# are what changes between views.
_HEADER_SQL = """
  EXISTS (SELECT 1 FROM consents_consent k
           WHERE k.citizen_id = cabinet_citizen.id AND k.purpose = {purpose}
             AND k.revoked_at IS NULL AND k.valid_until > %s) AS has_consent,
  (SELECT count(*) FROM notifications_notification n
    WHERE n.citizen_id = cabinet_citizen.id AND n.channel = {channel}
      AND n.status = {status} AND n.read_at IS NULL) AS unread
""".format(
    purpose=literal(Consent.Purpose.PROACTIVE.value),
    channel=literal(Notification.Channel.CABINET.value),
    status=literal(Notification.Status.SENT.value),
)


@dataclass
class Identity:
    """The rows of one request's account, device and citizen."""

    user: object
    device_id: object  # the session's persistent id, or NOT_LOADED
    device: object
    citizen: object


def _columns(model, alias: str) -> tuple[list[str], str]:
    names = [field.attname for field in model._meta.concrete_fields]
    columns = [f'{alias}."{field.column}"' for field in model._meta.concrete_fields]
    return names, ", ".join(columns)


def citizen_select(annotate: dict | None) -> tuple[str, list, list[str]]:
    """The citizen's columns, the header's state and a page's own
    ``annotate`` (name -> (sql, params); the sql may name the
    ``cabinet_citizen`` row): select list, its parameters, and the names of
    the values after the columns."""
    names, columns = _columns(Citizen, "cabinet_citizen")
    sql = f"{columns}, {_HEADER_SQL}"
    params = [timezone.now()]
    extra = ["has_consent", "unread"]
    for name, (extra_sql, extra_params) in (annotate or {}).items():
        sql += f", ({extra_sql}) AS {name}"
        params.extend(extra_params)
        extra.append(name)
    return sql, params, extra


def build_citizen(values, extra: list[str]):
    """A Citizen from ``citizen_select``'s values; None if its id is NULL."""
    names = [field.attname for field in Citizen._meta.concrete_fields]
    columns = values[: len(names)]
    if columns[0] is None:
        return None
    citizen = Citizen.from_db(connection.alias, names, columns)
    for name, value in zip(extra, values[len(names) :]):
        setattr(citizen, name, value)
    return citizen


def _device_model(persistent_id: str):
    """The device class and id a session's persistent id names, as
    django-otp reads it; None for anything else."""
    persistent_id = otp_middleware.OTPMiddleware._normalize_persistent_id(
        persistent_id
    )
    try:
        label, device_id = persistent_id.rsplit("/", 1)
        model = apps.get_model(*label.split("."))
        device_id = int(device_id)
    except (ValueError, LookupError, TypeError):
        return None
    return (model, device_id) if issubclass(model, Device) else None


def _prepared_cursor():
    """A cursor that binds parameters on the server, so psycopg prepares
    the statement after its first run on a connection (settings.py's
    ``prepare_threshold``): the same text with other values is planned
    once per connection, not on every page view."""
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(connection.connection)
    # Django's own wrapping: errors, and the query log in tests and DEBUG.
    return connection._prepare_cursor(cursor)


def load(request, annotate: dict | None = None) -> Identity | None:
    """The account of the request's session, its device and its citizen,
    in one statement; None when the session has no account of ours."""
    session = request.session
    user_id = session.get(SESSION_KEY)
    if user_id is None or session.get(BACKEND_SESSION_KEY) != BACKEND_PATH:
        return None
    User = get_user_model()
    try:
        user_id = User._meta.pk.to_python(user_id)
    except Exception:  # a malformed session: auth's own path refuses it
        return None
    user_names, user_columns = _columns(User, "u")
    select = [user_columns]
    joins, params = [], []
    device_id = session.get(DEVICE_ID_SESSION_KEY)
    device = _device_model(device_id) if device_id else None
    if device is not None:
        device_model, pk = device
        device_names, device_columns = _columns(device_model, "d")
        select.append(device_columns)
        joins.append(f'LEFT JOIN "{device_model._meta.db_table}" d ON d.id = %s')
        params.append(pk)
    citizen_sql, citizen_params, extra = citizen_select(annotate)
    select.append(citizen_sql)
    joins.append("LEFT JOIN cabinet_citizen ON cabinet_citizen.user_id = u.id")
    sql = (
        f"SELECT {', '.join(select)} FROM \"{User._meta.db_table}\" u "
        f"{' '.join(joins)} WHERE u.id = %s"
    )
    # The select list's parameters come before the joins'.
    with _prepared_cursor() as cursor:
        cursor.execute(sql, [*citizen_params, *params, user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    user = User.from_db(connection.alias, user_names, row[: len(user_names)])
    rest = row[len(user_names) :]
    found_device = None
    if device is not None:
        values = rest[: len(device_names)]
        rest = rest[len(device_names) :]
        if values[0] is not None:
            found_device = device_model.from_db(connection.alias, device_names, values)
    else:
        device_id = NOT_LOADED
    return Identity(user, device_id, found_device, build_citizen(rest, extra))


def loaded_citizen(request, annotate_names) -> object:
    """The citizen this request's statement loaded (None: the account has
    none), if it loaded the given annotations for this very account;
    ``NOT_LOADED`` otherwise."""
    identity = _loaded.get()
    if identity is None or identity.user.pk != getattr(request.user, "pk", None):
        return NOT_LOADED
    citizen = identity.citizen
    if citizen is not None and any(not hasattr(citizen, n) for n in annotate_names):
        return NOT_LOADED
    return citizen


class IdentityMiddleware:
    """Loads the identity once the view is known; list it before anything
    whose ``process_view`` reads ``request.user``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _loaded.set(None)
        try:
            return self.get_response(request)
        finally:
            _loaded.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        annotate = getattr(view_func, "citizen_annotate", None)
        _loaded.set(load(request, annotate() if annotate else None))


class Backend(ModelBackend):
    """Django's model backend, reading the account from the request's
    identity when it holds this very account."""

    def get_user(self, user_id):
        identity = _loaded.get()
        if identity is None or identity.user.pk != user_id:
            return super().get_user(user_id)
        user = identity.user
        return user if self.user_can_authenticate(user) else None


class OTPMiddleware(otp_middleware.OTPMiddleware):
    """django-otp's middleware, reading the device from the request's
    identity when it holds the device the session names."""

    def _device_from_persistent_id(self, persistent_id: str):
        identity = _loaded.get()
        if identity is not None and identity.device_id == persistent_id:
            return identity.device
        return super()._device_from_persistent_id(persistent_id)
