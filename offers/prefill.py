"""Fields an application can be pre-filled with, and where each comes from.

A service lists the keys it needs (``Service.prefill_fields``); evaluation
builds the values in SQL from the event and the citizen's profile, so the
offer is written in the same statement that finds it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import (
    Case,
    Expression,
    F,
    OuterRef,
    Q,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KT, KeyTextTransform
from django.db.models.functions import Cast, Concat, Trim
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class PrefillField:
    label: str
    source: str
    expression: Expression


POPULATION = _("Реестр населения")
BIRTHS = _("ЕГР ЗАГС / роддом")
MATERNITY_LAW = _("Федеральный закон № 256-ФЗ")
DISABILITY_REGISTER = _("ФГИС ФРИ")
PASSPORT_RULES = _("Постановление Правительства РФ № 828")

# The maternity capital amount set by the law for the child's birth date,
# in roubles. Since 2020-01-01 (Federal Law 35-FZ of 01.03.2020 amending
# 256-FZ) the first child gives the right; a second child born since then
# gives the larger amount when no certificate was issued for the first. The
# top-up for holders of an earlier certificate and the yearly indexation are
# the agency's to compute, not the offer's.
LAW_CHANGE = datetime.date(2020, 1, 1)
CAPITAL_BEFORE_2020 = "453026.00"
CAPITAL_FIRST_CHILD_2020 = "466617.00"
CAPITAL_SECOND_CHILD_2020 = "616617.00"
CAPITAL_AMOUNT = Case(
    When(occurred_on__lt=LAW_CHANGE, then=Value(CAPITAL_BEFORE_2020)),
    When(Q(data__birth_order=1), then=Value(CAPITAL_FIRST_CHILD_2020)),
    default=Value(CAPITAL_SECOND_CHILD_2020),
    output_field=TextField(),
)


TAX_NOTICE = _("Налоговое уведомление ФНС России")
# The tax notice's kinds of tax, as the notice names them.
TAX_TYPE_NAMES = {
    "property": "Налог на имущество физических лиц",
    "land": "Земельный налог",
    "transport": "Транспортный налог",
    "income": "Налог на доходы физических лиц",
}
TAX_TYPE_NAME = Case(
    *[When(data__tax_type=code, then=Value(name)) for code, name in TAX_TYPE_NAMES.items()],
    default=KT("data__tax_type"),
    output_field=TextField(),
)


def _parent(role: str) -> Expression:
    """The full name of the child's mother or father, by the SNILS the birth
    record gives, as the population registry spells it; empty when the
    record names nobody or the registry does not know the person."""
    from cabinet.models import Citizen

    names = Citizen.objects.filter(
        snils=KeyTextTransform(f"{role}_snils", OuterRef("data"))
    ).annotate(
        full_name=Trim(
            Concat(
                "last_name",
                Value(" "),
                "first_name",
                Value(" "),
                "middle_name",
                output_field=TextField(),
            )
        )
    )
    return Subquery(names.values("full_name")[:1], output_field=TextField())


# Why a passport is replaced: the age the citizen reached (Regulation 828).
PASSPORT_REASON = Concat(
    Value("достижение возраста "),
    KT("data__age"),
    Value(" лет"),
    output_field=TextField(),
)


def _citizen(name: str) -> Expression:
    return Cast(F(f"citizen__{name}"), TextField())


PREFILL_FIELDS: dict[str, PrefillField] = {
    "applicant_last_name": PrefillField(_("Фамилия"), POPULATION, _citizen("last_name")),
    "applicant_first_name": PrefillField(_("Имя"), POPULATION, _citizen("first_name")),
    "applicant_middle_name": PrefillField(
        _("Отчество"), POPULATION, _citizen("middle_name")
    ),
    "applicant_birth_date": PrefillField(
        _("Дата рождения"), POPULATION, _citizen("birth_date")
    ),
    "applicant_snils": PrefillField(_("СНИЛС"), POPULATION, _citizen("snils")),
    "applicant_passport_series": PrefillField(
        _("Серия паспорта"), POPULATION, _citizen("passport_series")
    ),
    "applicant_passport_number": PrefillField(
        _("Номер паспорта"), POPULATION, _citizen("passport_number")
    ),
    "applicant_address": PrefillField(
        _("Адрес регистрации"), POPULATION, _citizen("address")
    ),
    "child_last_name": PrefillField(
        _("Фамилия ребёнка"), BIRTHS, KT("data__child_last_name")
    ),
    "child_first_name": PrefillField(_("Имя ребёнка"), BIRTHS, KT("data__child_first_name")),
    "child_middle_name": PrefillField(
        _("Отчество ребёнка"), BIRTHS, KT("data__child_middle_name")
    ),
    "child_birth_date": PrefillField(
        _("Дата рождения ребёнка"), BIRTHS, KT("data__child_birth_date")
    ),
    "child_sex": PrefillField(_("Пол ребёнка"), BIRTHS, KT("data__child_sex")),
    "birth_order": PrefillField(
        _("Каким по счёту родился ребёнок"), BIRTHS, KT("data__birth_order")
    ),
    "place_of_birth": PrefillField(_("Место рождения"), BIRTHS, KT("data__place_of_birth")),
    "act_number": PrefillField(_("Номер записи акта"), BIRTHS, KT("data__act_number")),
    "act_date": PrefillField(_("Дата записи акта"), BIRTHS, KT("data__act_date")),
    "mother_full_name": PrefillField(_("Мать"), BIRTHS, _parent("mother")),
    "father_full_name": PrefillField(_("Отец"), BIRTHS, _parent("father")),
    "passport_replacement_reason": PrefillField(
        _("Основание замены паспорта"), PASSPORT_RULES, PASSPORT_REASON
    ),
    "capital_amount": PrefillField(
        _("Размер материнского капитала, руб."), MATERNITY_LAW, CAPITAL_AMOUNT
    ),
    "tax_type": PrefillField(_("Налог"), TAX_NOTICE, TAX_TYPE_NAME),
    "tax_period_year": PrefillField(
        _("За какой год"), TAX_NOTICE, KT("data__period_year")
    ),
    "tax_amount": PrefillField(_("Сумма к уплате, руб."), TAX_NOTICE, KT("data__amount")),
    "tax_due_on": PrefillField(_("Уплатить до"), TAX_NOTICE, KT("data__due_on")),
    "tax_inn": PrefillField(_("ИНН"), TAX_NOTICE, KT("data__inn")),
    "disability_group": PrefillField(
        _("Группа инвалидности"), DISABILITY_REGISTER, KT("data__group")
    ),
    "disability_established_on": PrefillField(
        _("Инвалидность установлена"), DISABILITY_REGISTER, KT("data__established_on")
    ),
    "disability_valid_until": PrefillField(
        _("Инвалидность установлена до"), DISABILITY_REGISTER, KT("data__valid_until")
    ),
    "disability_cause": PrefillField(
        _("Причина инвалидности"), DISABILITY_REGISTER, KT("data__cause")
    ),
    "disability_office": PrefillField(
        _("Бюро медико-социальной экспертизы"), DISABILITY_REGISTER, KT("data__office")
    ),
}


def rows_for(prefill: dict, keys: list[str]) -> list[dict]:
    """The pre-filled values in the service's order, with label and source."""
    rows = []
    for key in keys:
        field = PREFILL_FIELDS.get(key)
        if field is None:
            continue
        rows.append(
            {
                "key": key,
                "label": field.label,
                "source": field.source,
                "value": prefill.get(key) or "",
            }
        )
    return rows
