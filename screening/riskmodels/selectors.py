"""Reading the registry: the cards a user may see, and the model that scores a school's sittings."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from screening.directory.models import School
from screening.riskmodels.models import RiskModel


def risk_model_list(*, user: Any) -> QuerySet[RiskModel]:
    """The models whose cards this user may read (a head of centre: those that may score their
    school's students; a platform admin: all), newest first."""
    return RiskModel.objects.visible_to(user).select_related("scope_school", "scope_region")


def active_model_for(*, school: School) -> RiskModel | None:
    """The active model that scores this school's sittings: the school's own, else that of the
    nearest region containing it, else everyone's; None when there is none (rules alone)."""
    region_ids = [int(part) for part in school.region.path.strip("/").split("/") if part]
    keys = [f"school:{school.pk}", *(f"region:{rid}" for rid in reversed(region_ids)), "all"]
    active = {m.scope_key: m for m in RiskModel.objects.filter(status=RiskModel.Status.ACTIVE, scope_key__in=keys)}
    return next((active[k] for k in keys if k in active), None)
