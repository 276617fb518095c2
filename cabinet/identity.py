"""Who is asking, in one statement per page view.

A signed-in page needs the session, the account (Django's auth), the second
factor's device (django-otp) and the citizen with the header's state. Read
the usual way, that is four round trips, each composed by the ORM on every
view; together they were most of a cached dashboard view's time.

``IdentityMiddleware`` reads the four rows in one hand-written statement
keyed by the session cookie, once the URL is resolved (so the citizen query
can carry the page's own annotations), and hands each row to the code that
would otherwise have read it: the session store (``cabinet.sessions``: the
session model keeps the account and device ids as columns),
``Backend.get_user`` (a ``ModelBackend``), ``OTPMiddleware``'s device lookup
and ``load_citizen``. Every check stays where the libraries keep it: the
session's signature and expiry, the session's hash against the password, an
active account, the device's owner and confirmation. A row is used only
where it is what the session names; anything else (another backend, a
session changed earlier in the request, a page without the annotations) is
read the libraries' own way.

The rows live in context variables for the length of one request.
"""

from __future__ import annotations

import contextvars
import functools
from dataclasses import dataclass

from django.apps import apps
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connection
from django.db.backends.postgresql.base import ServerBindingCursor
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import middleware as otp_middleware
from django_otp.models import Device
from psycopg import pq
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
# (session key, its decoded data or None) the statement read, until the
# session store takes it.
_session: contextvars.ContextVar[tuple | None] = contextvars.ContextVar(
    "cabinet_session", default=None
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
    """The rows of one request's account, device and citizen, as its
    identity statement read them."""

    user: object
    device_id: object  # the session's persistent id, or NOT_LOADED
    device: object
    citizen: object
    annotate: object  # the page's annotate callable the citizen was loaded with


def _columns(model, alias: str) -> tuple[list[str], str]:
    names = [field.attname for field in model._meta.concrete_fields]
    columns = [f'{alias}."{field.column}"' for field in model._meta.concrete_fields]
    return names, ", ".join(columns)


@functools.cache
def _citizen_sql(annotate_sql: tuple[tuple[str, str], ...]) -> str:
    sql = f"{_columns(Citizen, 'cabinet_citizen')[1]}, {_HEADER_SQL}"
    for name, extra_sql in annotate_sql:
        sql += f", ({extra_sql}) AS {name}"
    return sql


def _citizen_params(annotate: dict, now) -> tuple[list, list[str]]:
    params = [now]
    extra = ["has_consent", "unread"]
    for name, (_sql, extra_params) in annotate.items():
        params.extend(extra_params)
        extra.append(name)
    return params, extra


def citizen_select(annotate: dict | None) -> tuple[str, list, list[str]]:
    """The citizen's columns, the header's state and a page's own
    ``annotate`` (name -> (sql, params); the sql may name the
    ``cabinet_citizen`` row): select list, its parameters, and the names of
    the values after the columns."""
    annotate = annotate or {}
    sql = _citizen_sql(tuple((name, value[0]) for name, value in annotate.items()))
    params, extra = _citizen_params(annotate, timezone.now())
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


@functools.lru_cache(maxsize=256)
def device_label(persistent_id) -> tuple[str, int] | None:
    """The device class's label and the id a session's persistent id
    names, as django-otp reads it; None for anything else."""
    if not persistent_id:
        return None
    persistent_id = otp_middleware.OTPMiddleware._normalize_persistent_id(
        persistent_id
    )
    try:
        label, device_id = persistent_id.rsplit("/", 1)
        model = apps.get_model(*label.split("."))
        device_id = int(device_id)
    except (ValueError, LookupError, TypeError):
        return None
    return (model.model_label(), device_id) if issubclass(model, Device) else None


def _prepared_cursor():
    """A cursor that binds parameters on the server, so psycopg prepares
    the statement after its first run on a connection (settings.py's
    ``prepare_threshold``): the same text with other values is planned
    once per connection, not on every page view. Its rows come in binary,
    which psycopg reads in C (the text form of a timestamp is parsed in
    Python); the statement has no column whose binary form Django reads
    differently (json, network addresses)."""
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(connection.connection)
        cursor.format = pq.Format.BINARY
    # Django's own wrapping: errors, and the query log in tests and DEBUG.
    return connection._prepare_cursor(cursor)


def _fetch_row(sql: str, params: list):
    """The statement's one row (or None). It is a request's first query, so
    it stands in for Django's health check of a persistent connection
    (``CONN_HEALTH_CHECKS``), which would cost a ``SELECT 1`` round trip of
    its own: when it fails on a connection not yet checked in this request
    and the connection proves unusable, the connection is replaced and the
    statement (a read) run again; once it has run, the check is done for
    the rest of the request."""
    unchecked = (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block
    )
    try:
        with _prepared_cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    except OperationalError:
        if not unchecked or connection.is_usable():
            raise
        connection.close()
        with _prepared_cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    connection.health_check_done = True
    return row


def _check_binary_safe(model) -> None:
    """The statement's rows come in binary (``_prepared_cursor``); Django
    reads these fields from their text form only."""
    for field in model._meta.concrete_fields:
        if field.get_internal_type() in ("JSONField", "GenericIPAddressField"):
            raise ImproperlyConfigured(
                f"{model._meta.label}.{field.name} cannot be read by the "
                "identity statement (binary rows)"
            )


# What django-otp reads of the session's device on a page view: that it
# exists, whose it is and whether it is confirmed. Its other fields are
# left deferred (read from the database if anything asks for them).
DEVICE_FIELDS = ["id", "user_id", "confirmed"]


@functools.cache
def _devices() -> dict[str, type]:
    """Every concrete second-factor device class, by its label."""
    return {
        model.model_label(): model
        for model in apps.get_models()
        if issubclass(model, Device)
    }


@functools.cache
def _statement(annotate_sql: tuple[tuple[str, str], ...]) -> str:
    """The identity statement's text for a page's annotations (name, sql).
    Its parameters: the citizen's select list's, then the session key and
    the time."""
    from .models import Session

    User = get_user_model()
    for model in [Session, User, Citizen]:
        _check_binary_safe(model)
    # The device the session names, from whichever table holds its class:
    # inside LATERAL the session's columns are constants, so PostgreSQL
    # reads only the one table whose label matches.
    device_columns = ", ".join(f'"{name}"' for name in DEVICE_FIELDS)
    devices = " UNION ALL ".join(
        f'SELECT {device_columns} FROM "{model._meta.db_table}"'
        f" WHERE s.device_model = {literal(label)} AND id = s.device_pk"
        for label, model in _devices().items()
    )
    select = [
        "s.session_data",
        "s.account_id",
        "s.device_model",
        "s.device_pk",
        ", ".join(f"d.{column}" for column in device_columns.split(", ")),
        _columns(User, "u")[1],
        _citizen_sql(annotate_sql),
    ]
    return (
        f"SELECT {', '.join(select)} FROM \"{Session._meta.db_table}\" s"
        f' LEFT JOIN LATERAL ({devices}) d ON true'
        f' LEFT JOIN "{User._meta.db_table}" u ON u.id = s.account_id'
        " LEFT JOIN cabinet_citizen ON cabinet_citizen.user_id = u.id"
        " WHERE s.session_key = %s AND s.expire_date > %s"
    )


def preloaded_session(session_key):
    """The data of the session the request's identity statement read (None:
    it found no live session of that key), once; ``NOT_LOADED`` when it did
    not read this key. ``cabinet.sessions`` asks it before the database."""
    preloaded = _session.get()
    if preloaded is None or preloaded[0] != session_key:
        return NOT_LOADED
    _session.set(None)
    return preloaded[1]


def load(request, annotate=None) -> Identity | None:
    """The request's session, its account, the account's device and
    citizen, in one statement keyed by the session cookie. The session's
    data goes to the session store; the rows are used only where they are
    what the (now loaded) session names. None when the session has no
    account of ours."""
    session = request.session
    key = session.session_key
    if not key:
        return None
    now = timezone.now()
    annotations = annotate() if annotate else {}
    citizen_params, extra = _citizen_params(annotations, now)
    sql = _statement(tuple((name, value[0]) for name, value in annotations.items()))
    row = _fetch_row(sql, [*citizen_params, key, now])
    if row is None:
        _session.set((key, None))
        return None
    session_data, account_id, device_model, device_pk, *rest = row
    device_values = rest[: len(DEVICE_FIELDS)]
    rest = rest[len(DEVICE_FIELDS) :]
    _session.set((key, session.decode(session_data)))

    # From here on the session is the live one: loaded from the row above,
    # unless something read it earlier in this request.
    user_id = session.get(SESSION_KEY)
    if user_id is None or session.get(BACKEND_SESSION_KEY) != BACKEND_PATH:
        return None
    User = get_user_model()
    try:
        user_id = User._meta.pk.to_python(user_id)
    except Exception:  # a malformed session: auth's own path refuses it
        return None
    user_names = _columns(User, "u")[0]
    if user_id != account_id or rest[0] is None:
        return None
    user = User.from_db(connection.alias, user_names, rest[: len(user_names)])
    citizen = build_citizen(rest[len(user_names) :], extra)

    device_id = session.get(DEVICE_ID_SESSION_KEY)
    found_device = None
    if device_id and device_label(device_id) == (device_model, device_pk):
        if device_values[0] is not None:
            model = _devices()[device_model]
            found_device = model.from_db(connection.alias, DEVICE_FIELDS, device_values)
    else:  # not the device the row was written with: django-otp reads it
        device_id = NOT_LOADED
    return Identity(user, device_id, found_device, citizen, annotate)


def loaded_citizen(request, annotate) -> object:
    """The citizen this request's statement loaded (None: the account has
    none), if it loaded it with the page's ``annotate`` for this very
    account; ``NOT_LOADED`` otherwise."""
    identity = _loaded.get()
    if identity is None or identity.user.pk != getattr(request.user, "pk", None):
        return NOT_LOADED
    if identity.annotate is not annotate:
        return NOT_LOADED
    return identity.citizen


class IdentityMiddleware:
    """Loads the identity once the view is known; list it before anything
    whose ``process_view`` reads ``request.session`` or ``request.user``,
    and after anything that changes the session before the view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _loaded.set(None)
        session_token = _session.set(None)
        try:
            return self.get_response(request)
        finally:
            _session.reset(session_token)
            _loaded.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        annotate = getattr(view_func, "citizen_annotate", None)
        _loaded.set(load(request, annotate))


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
