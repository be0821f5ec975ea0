"""Re-scoring a campaign with a newly activated model (``manage.py risk_rescore``).

Each sitting gets the new model's estimate beside its earlier ones (one RiskScore per model and
sitting; running it again adds nothing). History is not changed: the submission keeps its tier and
rules. Where the new estimate raises the sitting above its tier so far (the submit's tier, or an
earlier re-score's), the raise flags the student's case as any flag does, with a first-contact
limit counted from now, and a raise to red alerts the counsellors.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

import scoring
from scoring.tiers import Tier, decide
from screening.campaigns.models import Campaign, CrisisAlert, Submission
from screening.campaigns.services.alerts import crisis_alert_raise
from screening.campaigns.services.answering import school_policy
from screening.cases.services.flags import FLAGGING, Flag, flag_case
from screening.core import rows
from screening.core.audit import Action, audit_record
from screening.core.errors import Conflict
from screening.riskmodels import estimate
from screening.riskmodels.models import RiskModel, RiskScore
from screening.riskmodels.selectors import active_model_for


def campaign_rescore(*, actor: Any, campaign: Campaign, model: RiskModel | None = None) -> dict[str, Any]:
    """Score every submission of the campaign with the school's active model (or ``model``).
    Returns the model's version and counts: newly scored, already scored before, raised."""
    school = campaign.school
    model = model or active_model_for(school=school)
    if model is None:
        raise Conflict(_("No risk model is active for this school: tiers come from the rules alone."), code="no_model")
    counts = {"scored": 0, "already": 0, "raised": 0}
    submissions = (Submission.objects.visible_to(actor).filter(assignment__campaign=campaign)
                   .select_related("student__school", "assignment__campaign").order_by("id"))
    for submission in submissions.iterator(chunk_size=500):
        with transaction.atomic():
            outcome = _rescore_one(submission, model)
        counts["already" if outcome == "already" else "scored"] += 1
        counts["raised"] += int(outcome == "raised")
    audit_record(actor=actor, action=Action.UPDATE, object_type="campaigns.Campaign", object_id=campaign.pk,
                 school_id=school.pk, detail={"rescored_with": model.version, **counts})
    return {"model": model.version, **counts}


def _rescore_one(submission: Submission, model: RiskModel) -> str:
    locked = Submission.objects.select_for_update().select_related("student__school").get(pk=submission.pk)
    if RiskScore.objects.filter(submission=locked, model=model).exists():
        return "already"
    school, campaign = locked.student.school, submission.assignment.campaign
    policy = school_policy(school)
    results = {code: (scoring.score(code, given, campaign.profiles.get(code)), given) for code, given in locked.answers.items()}
    rules_only = decide(results, policy)
    earlier = [Tier(t) for t in locked.risk_scores.values_list("tier_after", flat=True)]
    current = max([Tier(locked.tier), *earlier])
    decision, est = estimate.apply(model, rules_only, answers=locked.answers, student=locked.student)
    assert est is not None
    after = max(current, decision.tier)
    now = timezone.now()
    score = estimate.score_row(est, submission_id=locked.pk, before=current.value, after=after.value, at=now,
                               source=RiskScore.Source.RESCORE)
    rows.insert([score])
    if after <= current or after not in FLAGGING:
        return "scored"
    limit = decision.first_contact_limit
    alert = None
    if after is Tier.RED and not CrisisAlert.objects.filter(submission=locked).exists():
        alert = crisis_alert_raise(submission=locked, decision=decision, policy=policy, at=now)
    flag_case(Flag(locked, after, now, now + limit if limit is not None else None, risk_score=score),
              locked.student.school_id, alert)
    return "raised"
