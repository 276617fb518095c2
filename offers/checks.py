"""Checks a service runs before it decides automatically.

A service with ``auto_decide`` on is decided without an official only when
every check registered here for its code passes. Checks are plain Python
functions written by developers and reviewed like any code; nothing in the
database names code to run. A service with no checks registered is never
decided automatically, whatever its flag says.

A check takes the application and returns ``None`` when it passes, or the
reason it fails, in words an official understands.
"""

from __future__ import annotations

from collections.abc import Callable

from .models import Application

Check = Callable[[Application], "str | None"]

CHECKS: dict[str, list[Check]] = {}


def register(service_code: str) -> Callable[[Check], Check]:
    def add(check: Check) -> Check:
        CHECKS.setdefault(service_code, []).append(check)
        return check

    return add


def checks_for(service_code: str) -> list[Check]:
    return list(CHECKS.get(service_code, []))


def run_checks(application: Application) -> tuple[bool, list[str]]:
    """(decidable, failures): decidable when checks exist and all pass."""
    checks = checks_for(application.service.code)
    failures = [reason for check in checks if (reason := check(application))]
    return bool(checks) and not failures, failures


# Maternity capital (Federal Law 256-FZ): the certificate goes to the mother
# of the child the rule matched, once per person.


@register("maternity-capital")
def applicant_is_the_mother(application: Application) -> str | None:
    if application.offer.event.role != "mother":
        return "заявитель не указан в записи о рождении как мать"
    return None


@register("maternity-capital")
def child_is_born_alive(application: Application) -> str | None:
    if application.offer.event.data.get("stillborn"):
        return "в записи о рождении отмечено мертворождение"
    return None


@register("maternity-capital")
def no_certificate_issued_before(application: Application) -> str | None:
    earlier = Application.objects.filter(
        citizen_id=application.citizen_id,
        service_id=application.service_id,
        status=Application.Status.COMPLETED,
    ).exclude(pk=application.pk)
    if earlier.exists():
        return "сертификат этому заявителю уже выдан"
    return None
