from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "screening.core"
    label = "core"
    verbose_name = _("Core: access, audit, sign-in")

    def ready(self) -> None:
        from screening.core import signals  # noqa: F401  (connects the sign-in audit receivers)
