from django import template

from offers.explain import why

register = template.Library()


@register.filter(name="why")
def why_filter(offer) -> str:
    """``{{ offer|why }}``: the plain-Russian reason for an offer."""
    return why(offer)
