"""Reading the registry: the cards a user may see, the model that scores a school's sittings, and
the risk scores of sittings, for staff who cover the student."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from screening.campaigns.services.answering import school_policy
from screening.directory.models import School
from screening.riskmodels.models import RiskModel, RiskScore


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


def risk_score_list(*, user: Any) -> QuerySet[RiskScore]:
    """Every risk score this user may read: staff who cover the student; never the student, a
    liaison or an analyst (screening.core.access.risk_scores_rule)."""
    return RiskScore.objects.visible_to(user).select_related("model", "submission__student")


def risk_scores_for(*, user: Any, submissions: Iterable[Any]) -> QuerySet[RiskScore]:
    """The risk scores of these sittings that this user may read, each sitting's in the order
    they were made (the score at submission first, then any re-scores)."""
    ids = [getattr(s, "pk", s) for s in submissions]
    return risk_score_list(user=user).filter(submission_id__in=ids).order_by("submission_id", "created_at", "id")


@dataclass(frozen=True)
class TierBasis:
    """Where a school's tiers come from: the rules alone (``model`` None), or the rules and the
    active model, which may raise a tier by at most ``max_raise`` tiers (the school's policy)."""

    model: RiskModel | None
    max_raise: int


def tier_basis_for(*, school: School) -> TierBasis:
    """What decides the tiers of this school's sittings today (shown beside the tiers to staff)."""
    return TierBasis(active_model_for(school=school), school_policy(school).risk_model.max_raise)
