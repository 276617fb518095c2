from django import template

from offers.payments import format_amount, payment_names
from offers.prefill import TAX_TYPE_NAMES

register = template.Library()


@register.filter
def rub(value) -> str:
    """``{{ amount|rub }}``: ``12345.67`` as ``12 345,67``."""
    try:
        return format_amount(value)
    except (ArithmeticError, TypeError, ValueError):
        return value


@register.filter
def money_event_name(event) -> str:
    """The readable name of a payment's or a tax notice's kind."""
    data = event.data
    if event.event_type == "payment":
        code = data.get("payment_type", "")
        return payment_names([code])[code] if code else ""
    return TAX_TYPE_NAMES.get(data.get("tax_type", ""), data.get("tax_type", ""))
