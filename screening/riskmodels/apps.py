from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RiskModelsConfig(AppConfig):
    name = "screening.riskmodels"
    label = "riskmodels"
    verbose_name = _("Risk models")
