from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CabinetConfig(AppConfig):
    name = "cabinet"
    verbose_name = _("Личный кабинет")

    def ready(self):
        from . import middleware  # noqa: F401  (connects the login stamp)
        from . import officials

        post_migrate.connect(officials.sync_after_migrate, sender=self)
