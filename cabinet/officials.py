"""The officials' group (сотрудники ведомств): the model permissions their
work in admin needs, and no others.

Officials work the applications of their services, keep the service
catalogue, the trigger rules, the payment codes and the message texts,
link the deaths nobody could match, mark bank details processed and read
what the registries sent and the citizens did. They do not manage
accounts, groups or second-factor devices, and they add, change or delete
nothing that is a citizen's own (profile, consents) or a record of what
happened (imports, life events, the outbox). Nor do they read the access
log (``cabinet.AuditEntry``): it is the record of what they looked at.

The group is made, and its permissions set to exactly these, after every
``migrate`` (and by the demo): the list is reviewed here like code, and a
right given by hand belongs in another group.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Q

GROUP = "Сотрудники ведомств"

PERMISSIONS = [
    # The agency's queue: the actions on an application need "change".
    "offers.view_application",
    "offers.change_application",
    "offers.view_applicationstatuschange",
    "offers.view_documentrequest",
    "offers.view_resultdocument",
    "offers.view_applicationsignature",
    "offers.view_pensionaward",
    "offers.view_document",
    "offers.view_offer",
    "offers.view_serviceoptout",
    "offers.view_service",
    "offers.add_service",
    "offers.change_service",
    "offers.view_paymenttype",
    "offers.add_paymenttype",
    "offers.change_paymenttype",
    "offers.view_paymentreceipt",
    "offers.view_paymentstatement",
    # "Отметить как учтённые"; every field of the details stays read-only.
    "offers.view_bankdetails",
    "offers.change_bankdetails",
    # Rules: an official edits the draft, a second one approves it.
    "events.view_triggerrule",
    "events.add_triggerrule",
    "events.change_triggerrule",
    "events.view_ruleversion",
    "events.view_importbatch",
    "events.view_rejectedrow",
    "events.view_registryrecord",
    "events.view_lifeevent",
    "events.view_unmatcheddeath",
    "events.change_unmatcheddeath",
    "cabinet.view_citizen",
    "cabinet.view_profilechange",
    "cabinet.view_errorreport",
    "cabinet.change_errorreport",
    "consents.view_consent",
    "notifications.view_notification",
    # The failures' list and its "Отправить ещё раз".
    "notifications.view_problemnotification",
    "notifications.view_messagetemplate",
    "notifications.add_messagetemplate",
    "notifications.change_messagetemplate",
    "notifications.view_deliveryprofile",
    "notifications.view_pushsubscription",
]


def officials_group(using: str = DEFAULT_DB_ALIAS):
    """The officials' group with exactly ``PERMISSIONS``, made if missing."""
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    # Django adds an app's permissions after migrate, app by app; the
    # apps after this one have none yet on a fresh database.
    labels = sorted({name.split(".")[0] for name in PERMISSIONS})
    for label in labels:
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using)

    wanted = Q()
    for name in PERMISSIONS:
        app_label, codename = name.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    permissions = list(Permission.objects.using(using).filter(wanted))
    if len(permissions) != len(PERMISSIONS):
        found = {f"{p.content_type.app_label}.{p.codename}" for p in permissions}
        missing = ", ".join(sorted(set(PERMISSIONS) - found))
        raise LookupError(f"officials' permissions not found: {missing}")

    group, _ = Group.objects.using(using).get_or_create(name=GROUP)
    group.permissions.set(permissions)
    return group


def sync_after_migrate(sender, using=DEFAULT_DB_ALIAS, apps=global_apps, **kwargs):
    """post_migrate: bring the group up to date, once auth is migrated."""
    try:
        apps.get_model("auth", "Group")
        apps.get_model("contenttypes", "ContentType")
    except LookupError:
        return
    officials_group(using)
