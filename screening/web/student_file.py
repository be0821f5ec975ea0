"""The student's file (一人一档) on the staff's student page: score trends per questionnaire, the
tier of each screening with the rules behind it, consents, the student's cases and referrals (with
the hospital's feedback) and one timeline of contacts, guardian communication, follow-ups, case
events and referral moves across the years.

Everything here is read through the access policy for the user who opens the page, who has
already been checked (and audited) for the student. Words are of risk and need, never diagnosis.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

import scoring
from scoring.errors import ScoringError
from screening.campaigns.models import Assignment, ConsentRecord, Result
from screening.cases import selectors
from screening.cases.models import CaseFlag
from screening.directory.models import Student
from screening.referrals import selectors as referral_selectors
from screening.web.alert_pages import rule_texts
from screening.web.campaign_forms import content_language, instrument_label
from screening.web.case_pages import timeline_rows
from screening.web.charts import Band, trend_svg
from screening.web.risk_reasons import score_rows, tier_basis

RISK_MODEL_RULE = "risk_model"  # scoring.tiers.decide records the risk model's raise under this id


def _item_max(item: Any) -> int:
    options = item.options
    return options.high if options.kind == "integer" else 1


def _possible_max(inst: Any) -> float | None:
    """The highest total the definition allows: a sum of the items' highest answers, or the
    number of items a count counts. None when the total is of another kind."""
    spec = inst.scores.get("total") or {}
    named = spec.get("items")
    items = [it for it in inst.items if it.scored] if named == "scored" else [inst.item(i) for i in named or []]
    if spec.get("kind") == "sum" and items:
        return float(sum(_item_max(it) for it in items))
    if spec.get("kind") == "count" and items:
        return float(len(items))
    return None


def scale(code: str, profile: str | None, lang: str, observed: Iterable[float] = ()) -> tuple[float, list[Band]]:
    """The chart's scale for one questionnaire's totals: from 0 to the highest possible total (at
    least the highest seen), with the bands of the cut-off profile when they are ranges of the
    total (other bands are conditions a line cannot show)."""
    seen = max(observed, default=0.0)
    try:
        inst = scoring.instrument(code)
        bands = inst.profile(profile or None).bands
    except (ScoringError, KeyError):
        return max(seen, 1.0), []
    ranges = [b for b in bands.levels if b.is_range] if bands.score == "total" else []
    top = max([_possible_max(inst) or 0.0, seen, *(float(b.max) for b in ranges if b.max is not None)])
    top = top or 1.0
    drawn = [Band(float(b.min or 0), float(b.max if b.max is not None else top), str(b.label.get(lang, b.code)))
             for b in ranges]
    return top, drawn


def band_label(code: str, profile: str | None, band: str, lang: str) -> str:
    try:
        return str(scoring.instrument(code).profile(profile or None).bands.get(band).label.get(lang, band))
    except (ScoringError, KeyError):
        return band


def _trend(code: str, results: Sequence[Result], lang: str) -> dict[str, Any]:
    latest = results[-1]
    name = instrument_label(code, lang)
    points = [(timezone.localtime(r.submission.submitted_at).date(), float(r.total or 0)) for r in results]
    top, bands = scale(code, latest.profile, lang, (p[1] for p in points))
    return {
        "code": code, "name": name, "max": top,
        "svg": trend_svg(points, top, bands, title=name, score_label=str(_("total"))),
        "rows": [{"day": day, "total": r.total, "band": band_label(code, r.profile, r.band, lang)}
                 for (day, _t), r in zip(points, results, strict=True)],
    }


def _tiers(user: Any, student: Student, screenings: Iterable[Assignment], lang: str) -> list[dict[str, Any]]:
    """Each submitted screening's tier, the rules that put it there, the risk model's estimates
    (which features raised them, and whether they raised the tier), and the case it went to."""
    cases = dict(CaseFlag.objects.visible_to(user).filter(submission__student=student)
                 .values_list("submission_id", "case_id"))
    submitted = [(a, a.submission) for a in screenings
                 if a.status == Assignment.Status.SUBMITTED and getattr(a, "submission", None) is not None]
    scores = score_rows(user=user, submissions=[s for _a, s in submitted], lang=lang)
    out = []
    for a, submission in submitted:
        rules = submission.tier_rules or []
        out.append({
            "assignment": a, "submission": submission, "case_id": cases.get(submission.pk),
            "rules": rule_texts([r for r in rules if r.get("id") != RISK_MODEL_RULE], lang),
            "model": rule_texts([r for r in rules if r.get("id") == RISK_MODEL_RULE], lang),
            "scores": scores.get(submission.pk, []),
        })
    return out


def student_file(*, user: Any, student: Student, screenings: Sequence[Assignment]) -> dict[str, Any]:
    """The student page's file: trends, tiers (and whether a risk model may raise them at the
    student's school), consents, cases and the timeline."""
    lang = content_language()
    consents = (ConsentRecord.objects.visible_to(user).filter(assignment__student=student)
                .select_related("assignment__campaign", "recorded_by").order_by("-at", "-id"))
    return {
        "trends": [_trend(code, results, lang) for code, results in selectors.student_results(user=user, student=student).items()],
        "tiers": _tiers(user, student, screenings, lang),
        "basis": tier_basis(user=user, school=student.school),
        "consents": consents,
        "cases": selectors.student_cases(user=user, student=student),
        "referrals": referral_selectors.student_referrals(user=user, student=student),
        "timeline": timeline_rows(selectors.student_timeline(user=user, student=student)),
    }
