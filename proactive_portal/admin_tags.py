"""Template filters of the admin's pages (the ``portal_admin`` library)."""

from django import template
from django.contrib.admin.utils import model_ngettext

register = template.Library()


@register.filter
def count_name(opts, count) -> str:
    """The model's name that goes with ``count`` of its rows.

    Django's paginator takes verbose_name for one and verbose_name_plural
    for any other count ("20 загрузки"); ngettext takes the count's form
    from the catalogue: Russian has three (scripts/translations_ru.py).
    """
    return model_ngettext(opts, count)
