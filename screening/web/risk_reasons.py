"""What staff see of the risk model beside a student's tiers: each sitting's risk scores (which
model, the tier from the rules and with the model, and in plain words what raised the estimate),
and where the school's tiers come from today (the rules alone, or the rules and the active model).

Words are of risk and need, never diagnosis. The estimate itself is shown to staff only, as a
percentage (the pages using this are staff pages; students never see a risk score).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from screening.campaigns.models import Submission
from screening.directory.models import School
from screening.riskmodels import selectors
from screening.riskmodels.models import RiskScore


def _tier_label(value: str) -> str:
    try:
        return str(Submission.Tier(value).label)
    except ValueError:
        return value


def words(names: Sequence[str], lang: str) -> str:
    """Names as one phrase: "A, B and C" (English), "A、B和C" (Chinese)."""
    if not names:
        return ""
    if len(names) == 1:
        return names[0]
    if lang.startswith("zh"):
        return "、".join(names[:-1]) + "和" + names[-1]
    return _("%(first)s and %(last)s") % {"first": ", ".join(names[:-1]), "last": names[-1]}


def percent(probability: float) -> str:
    """The estimate as a whole percentage ("<1%" rather than a misleading 0%)."""
    value = round(100 * probability)
    return "<1%" if value < 1 and probability > 0 else f"{value}%"


def score_row(score: RiskScore, lang: str) -> dict[str, Any]:
    """One estimate in words: the model, the tiers before and after, and why."""
    names = [str(r.get(lang) or r.get("en") or r.get("feature", "")) for r in score.reasons or []]
    because = (_("%(features)s raised this estimate.") % {"features": words(names, lang)} if names
               else _("The answers as a whole gave this estimate."))
    return {
        "score": score, "version": score.model.version, "raised": score.raised, "source": score.get_source_display(),
        "before": score.tier_before, "before_label": _tier_label(score.tier_before),
        "after": score.tier_after, "after_label": _tier_label(score.tier_after),
        "because": because, "percent": percent(score.probability),
    }


def score_rows(*, user: Any, submissions: Iterable[Any], lang: str) -> dict[int, list[dict[str, Any]]]:
    """The visible risk scores of these sittings in words, by submission id."""
    out: dict[int, list[dict[str, Any]]] = {}
    for score in selectors.risk_scores_for(user=user, submissions=submissions):
        out.setdefault(score.submission_id, []).append(score_row(score, lang))
    return out


def tier_basis(*, user: Any, school: School) -> dict[str, Any]:
    """Where this school's tiers come from today, for the notice beside the tiers; with a link to
    the active model's card when the user may read it (heads of centre, platform admins)."""
    basis = selectors.tier_basis_for(school=school)
    card_url = None
    if basis.model is not None and selectors.risk_model_list(user=user).filter(pk=basis.model.pk).exists():
        card_url = reverse("web:risk-model", args=[basis.model.pk])
    return {"model": basis.model, "max_raise": basis.max_raise, "card_url": card_url}
