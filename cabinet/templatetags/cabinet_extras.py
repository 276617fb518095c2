"""Template filters of the cabinet's pages."""

from django import template
from django.utils.translation import gettext

register = template.Library()


@register.filter
def translated(value) -> str:
    """A stored Russian text (a service's title) in the page's language,
    when the catalogue has it (cabinet.display.SERVICE_TITLES)."""
    return gettext(str(value)) if value else ""
