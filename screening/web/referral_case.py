"""The referral's part of the case page (the school's side): the live referral and the hospital's
feedback, or the forms to refer — the consent to share and the referral, offered only for the
hospitals whose valid agreement covers the case's tier.

Kept apart from ``case_pages`` (which draws it) and ``referral_pages`` (which posts its forms and
draws the case again on a refusal), so neither imports the other in a circle.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest
from django.utils.translation import gettext as _

from screening.cases.models import Case
from screening.directory.models import Hospital
from screening.referrals import selectors
from screening.referrals.models import Referral
from screening.referrals.states import ENDED
from screening.web.referral_forms import ReferralForm, SharingConsentForm


def feedback_note(referral: Referral | None) -> str:
    """Next to the follow-up plan once the hospital's recommendation is in."""
    if referral is None or not referral.recommendation:
        return ""
    if referral.recommendation == Referral.Recommendation.INPATIENT:
        return _("The hospital recommends: %(recommendation)s; plan follow-ups when the student returns.") % {
            "recommendation": referral.get_recommendation_display()}
    return _("The hospital recommends: %(recommendation)s; the dates below follow it.") % {
        "recommendation": referral.get_recommendation_display()}


def case_referral_context(request: HttpRequest, case: Case, bound: dict[str, forms.Form]) -> dict[str, Any]:
    """What the case page shows of referrals: the live one (or the latest, for its feedback), and
    while the case is open and no referral is live, the agreements and the two forms."""
    user = request.user
    referrals = list(selectors.student_referrals(user=user, student=case.student).filter(case=case))
    live = next((r for r in referrals if r.state not in ENDED), None)
    latest = live or (referrals[0] if referrals else None)
    context: dict[str, Any] = {"referrals": referrals, "live_referral": live, "latest_referral": latest,
                               "referral_feedback": feedback_note(latest)}
    if live is not None or not case.is_open:
        return context
    agreements = selectors.case_agreements(user=user, case=case)
    hospitals = Hospital.objects.visible_to(user).filter(pk__in=[a.hospital_id for a in agreements]).order_by("name")
    consents = selectors.sharing_consents(user=user, student=case.student).filter(hospital__in=hospitals)
    context |= {
        "case_agreements": agreements,
        "consents": consents,
        "consent_form": bound.get("consent_form") or SharingConsentForm(hospitals=hospitals),
        "referral_form": bound.get("referral_form") or ReferralForm(hospitals=hospitals, consents=consents),
    }
    return context

