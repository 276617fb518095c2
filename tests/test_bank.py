"""Bank account control keys, checked against real published accounts."""

import pytest
from django.core.exceptions import ValidationError

from offers.bank import clean_account, clean_bik, control_sum_ok

# Correspondent accounts the banks publish with their BIKs: at a Bank of
# Russia office, so the key uses "0" and the BIK's fifth and sixth digits.
PUBLISHED = [
    ("044525225", "30101810400000000225"),
    ("044525187", "30101810700000000187"),
    ("044525593", "30101810200000000593"),
]


@pytest.mark.parametrize("bik, account", PUBLISHED)
def test_published_accounts_pass_and_any_changed_digit_fails(bik, account):
    assert control_sum_ok(bik, account)
    # The first five digits name the kind of account (and so the rule).
    for position in range(5, 20):
        changed = account[:position] + str((int(account[position]) + 1) % 10)
        changed += account[position + 1 :]
        assert not control_sum_ok(bik, changed), position


def personal_account(bik: str, stem: str) -> str:
    """``stem`` with the control key (the ninth digit) that fits ``bik``."""
    for key in "0123456789":
        account = stem[:8] + key + stem[9:]
        if control_sum_ok(bik, account):
            return account
    raise AssertionError("no key fits")


def test_a_personal_account_with_its_key_is_accepted_with_spaces():
    account = personal_account("044525225", "40817810038160925982")
    spaced = " ".join(account[i : i + 5] for i in range(0, 20, 5))
    assert clean_account("044525225", spaced) == account


def test_the_same_account_under_another_bank_is_rejected():
    account = personal_account("044525225", "40817810038160925982")
    with pytest.raises(ValidationError) as error:
        clean_account("044525187", account)
    assert error.value.code == "account_key"


def test_a_company_account_is_not_a_personal_one():
    account = personal_account("044525225", "40702810038000012345")
    assert clean_account("044525225", account, personal=False) == account
    with pytest.raises(ValidationError) as error:
        clean_account("044525225", account)
    assert error.value.code == "account_kind"


@pytest.mark.parametrize("bik", ["04452522", "144525225", "04452522x", ""])
def test_malformed_bik(bik):
    with pytest.raises(ValidationError):
        clean_bik(bik)


@pytest.mark.parametrize("account", ["4081781003816092598", "4081781003816092598a"])
def test_malformed_account(account):
    with pytest.raises(ValidationError) as error:
        clean_account("044525225", account)
    assert error.value.code == "account_format"
