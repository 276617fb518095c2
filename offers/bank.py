"""Russian bank details a citizen gives for a payment: the BIK and the
20-digit account, checked by the account's control key.

No maintained library covers the key, so it is written once here, after
the Bank of Russia's published rule (Regulation 579-P, appendix "Порядок
расчёта контрольного ключа"): the 23 digits formed by three digits taken
from the BIK and the account are weighted 7, 1, 3 repeated; the sum of the
products' last digits must end in 0. For an account in a bank the three
digits are the BIK's last three; for an account held at the Bank of Russia
(a bank's correspondent account, 30101..., or any account at an office
whose BIK ends in 000, 001 or 002) they are "0" and the BIK's fifth and
sixth digits.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

WEIGHTS = (7, 1, 3) * 8
# Balance-sheet accounts a person's money can be paid into: current
# accounts of individuals (40817), of non-residents (40820), deposits (423).
PERSONAL_ACCOUNT_PREFIXES = ("40817", "40820", "423")


def digits(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "")


def control_sum_ok(bik: str, account: str) -> bool:
    at_central_bank = account.startswith("30101") or bik[6:] in ("000", "001", "002")
    prefix = "0" + bik[4:6] if at_central_bank else bik[6:]
    number = prefix + account
    return sum(int(d) * w % 10 for d, w in zip(number, WEIGHTS)) % 10 == 0


def clean_bik(value: str) -> str:
    bik = digits(value)
    if not re.fullmatch(r"04\d{7}", bik):
        raise ValidationError(_("БИК — 9 цифр и начинается с 04."), code="bik_format")
    return bik


def clean_account(bik: str, value: str, *, personal: bool = True) -> str:
    """The account, digits only, when it fits the BIK's control key; a
    ``ValidationError`` naming what is wrong otherwise."""
    account = digits(value)
    if not re.fullmatch(r"\d{20}", account):
        raise ValidationError(_("Номер счёта — 20 цифр."), code="account_format")
    if not control_sum_ok(clean_bik(bik), account):
        raise ValidationError(
            _("Номер счёта не сходится с БИК банка: проверьте оба номера."),
            code="account_key",
        )
    if personal and not account.startswith(PERSONAL_ACCOUNT_PREFIXES):
        raise ValidationError(
            _("Это не счёт физического лица (он начинается с 40817, 40820 или 423)."),
            code="account_kind",
        )
    return account


def clean_details(bik: str, account: str) -> tuple[str, str]:
    """The BIK and the personal account, checked together: a
    ``ValidationError`` whose dict names the field at fault otherwise."""
    try:
        bik = clean_bik(bik)
    except ValidationError as error:
        raise ValidationError({"bik": error}) from None
    try:
        return bik, clean_account(bik, account)
    except ValidationError as error:
        raise ValidationError({"account": error}) from None
