from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CabinetConfig(AppConfig):
    name = "cabinet"
    verbose_name = _("Личный кабинет")

    def ready(self):
        from . import middleware  # noqa: F401  (connects the login stamp)
