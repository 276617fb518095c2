"""The access log (DESIGN.md, invariant 5): staff see citizens' data only
through admin, with the second factor, and each request that shows or
changes personal data is written down as ``AuditEntry`` rows.

Every admin view is built by the admin site's ``admin_view``, which the
portal's site runs through ``audited`` (proactive_portal/admin_base.py):
a view of a model in ``PERSONAL_DATA`` runs, with its entries, in one
transaction. An entry that cannot be written fails the request and undoes
what it changed: an access nobody can trace is worse than a page that
does not open. The only door to a citizen's data outside admin, the
download of an uploaded document, calls ``record`` itself.

Entries are written for responses that succeeded: 2xx, or a redirect
after a POST (the admin's answer to a change done). Refused requests (the
login page, 403, 404) write nothing; they showed nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial, wraps

from django.apps import apps
from django.contrib.admin import ModelAdmin, helpers
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import SEARCH_VAR
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Model

from .models import AuditEntry

Action = AuditEntry.Action

# The models whose admin pages show personal data, with the path from one
# row to the citizen it concerns ("pk" for the citizen itself; None when a
# row names no single citizen, or people the portal does not know).
PERSONAL_DATA: dict[str, str | None] = {
    "auth.user": "citizen",
    "otp_totp.totpdevice": "user__citizen",
    "otp_static.staticdevice": "user__citizen",
    # Sign-in attempts: logins and addresses, of anybody.
    "axes.accessattempt": None,
    "axes.accesslog": None,
    "axes.accessfailurelog": None,
    "cabinet.citizen": "pk",
    "cabinet.errorreport": "citizen",
    "consents.consent": "citizen",
    # A batch's page lists the profile values it changed, for many people.
    "events.importbatch": None,
    "events.rejectedrow": None,
    "events.registryrecord": None,
    "events.lifeevent": "citizen",
    "events.unmatcheddeath": "citizen",
    "offers.offer": "citizen",
    "offers.application": "citizen",
    "offers.serviceoptout": "citizen",
    "offers.document": "citizen",
    "offers.paymentreceipt": "citizen",
    "offers.bankdetails": "citizen",
    "offers.paymentstatement": "citizen",
    "notifications.notification": "citizen",
    "notifications.problemnotification": "citizen",
    "notifications.deliveryprofile": "citizen",
    "notifications.pushsubscription": "citizen",
}

# Models admin shows that hold nobody's personal data. A model admin
# lists that is in neither table is audited, with no citizen named (and
# tests/test_audit.py asks that it be put in one).
NO_PERSONAL_DATA = frozenset(
    {
        "auth.group",
        "cabinet.auditentry",  # ids only
        "events.triggerrule",
        "events.ruleversion",
        "offers.service",
        "offers.paymenttype",
        "offers.takeupfunnel",  # figures, no rows
        "notifications.messagetemplate",  # previews on a made-up citizen
    }
)

View = Callable[..., object]


def record(
    user,
    action: str,
    model: type[Model],
    citizens: dict[str, int | None] | None = None,
    *,
    searched: bool = False,
) -> None:
    """Write one entry per object id in ``citizens`` (id -> the citizen it
    concerns), or a single entry with no object when there is none."""
    content_type = ContentType.objects.get_for_model(model)
    rows = (citizens or {"": None}).items()
    AuditEntry.objects.bulk_create(
        AuditEntry(
            user=user,
            action=action,
            content_type=content_type,
            object_id=object_id,
            citizen_id=citizen_id,
            searched=searched,
        )
        for object_id, citizen_id in rows
    )


@dataclass(frozen=True)
class _Plan:
    """What one request writes, decided before its view runs (a row the
    view deletes is gone after it)."""

    model: type[Model]
    # The action written for a 2xx answer, and for a redirect after a POST.
    shown: str | None
    done: str | None
    citizens: dict[str, int | None] | None = None
    searched: bool = False

    def write(self, request, response) -> None:
        status = response.status_code
        if request.method == "POST" and 300 <= status < 400:
            action = self.done
        elif 200 <= status < 300:
            action = self.shown
        else:
            return
        if action:
            record(
                request.user, action, self.model, self.citizens, searched=self.searched
            )


def audited(view: View) -> View:
    """``view`` writing its access entries, if it is a model admin's view
    of personal data or the admin's autocomplete (which answers with any
    model's rows); any other view is returned as it is."""
    owner = getattr(view, "__self__", None)
    if isinstance(owner, ModelAdmin):
        if owner.model._meta.label_lower in NO_PERSONAL_DATA:
            return view
        plan = partial(_model_admin_plan, owner, view.__name__)
    elif view.__name__ == "autocomplete_view":
        plan = _autocomplete_plan
    else:
        return view

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        with transaction.atomic():
            planned = plan(request, kwargs)
            response = view(request, *args, **kwargs)
            if planned is not None:
                planned.write(request, response)
        return response

    return wrapper


def _model_admin_plan(model_admin: ModelAdmin, name: str, request, kwargs):
    model = model_admin.model
    path = PERSONAL_DATA.get(model._meta.label_lower)

    if name == "changelist_view":
        action = request.POST.get("action") if request.method == "POST" else None
        if action in model_admin.get_actions(request):
            # Each selected row, or the whole list when "select across";
            # with nothing selected the admin runs nothing.
            selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
            if request.POST.get("select_across") == "1":
                return _Plan(model, shown=action, done=action)
            if selected:
                citizens = _citizens(model, path, selected)
                return _Plan(model, shown=action, done=action, citizens=citizens)
        # A list's own edits ("list_editable") are saved by a POST too.
        saved = Action.CHANGE if "_save" in request.POST else None
        searched = bool(request.GET.get(SEARCH_VAR))
        return _Plan(model, shown=Action.LIST, done=saved, searched=searched)

    if name == "add_view":
        # The new row's id is not in the request; Django's LogEntry of the
        # addition has it.
        return _Plan(model, shown=None, done=Action.ADD)

    # auth's password page names its user "id".
    object_id = kwargs.get("object_id", kwargs.get("id"))
    if object_id is None:
        return _Plan(model, shown=Action.LIST, done=name.removesuffix("_view"))
    citizens = _citizens(model, path, [unquote(str(object_id))])
    if not citizens:
        return None  # no such row: the admin answers that itself
    done = {"change_view": Action.CHANGE, "delete_view": Action.DELETE}.get(name)
    # A page action of its own ("offers_application_act") is named by its
    # URL, or by the method's name.
    done = done or kwargs.get("action") or name.removesuffix("_view")
    return _Plan(model, shown=Action.VIEW, done=done, citizens=citizens)


def _autocomplete_plan(request, kwargs):
    """The autocomplete answers a search with rows of the model a foreign
    key points to; a request it refuses is answered with an error before
    anything is written, so its parameters are sound here."""
    try:
        source = apps.get_model(request.GET["app_label"], request.GET["model_name"])
        model = source._meta.get_field(request.GET["field_name"]).remote_field.model
    except (KeyError, LookupError, FieldDoesNotExist, AttributeError):
        return None  # the view refuses it
    if model._meta.label_lower in NO_PERSONAL_DATA:
        return None
    searched = bool(request.GET.get("term"))
    return _Plan(model, shown=Action.LIST, done=None, searched=searched)


def _citizens(
    model: type[Model], path: str | None, object_ids: Iterable[str]
) -> dict[str, int | None]:
    """The citizen each existing row of ``object_ids`` concerns, by id."""
    fields = ["pk", path] if path else ["pk"]
    try:
        rows = model._base_manager.filter(pk__in=list(object_ids)).values_list(
            *fields
        )
        return {str(pk): rest[0] if rest else None for pk, *rest in rows}
    except (ValueError, TypeError, ValidationError):
        return {}  # not an id of this model: the view answers 404
