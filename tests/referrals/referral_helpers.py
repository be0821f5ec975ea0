"""Referrals for the API tests, made through the services: an agreement covering every tier, a
guardian's consent to share, a draft (sent when asked)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from screening.cases.models import Case
from screening.referrals.models import Agreement, Referral, SharingConsent
from screening.referrals.services import agreements, referrals

TIERS = ["red", "orange", "yellow"]


def referral_of(cast: Any, student: Any, *, hospital: Any = None, send: bool = False) -> tuple[Agreement, SharingConsent, Referral]:
    """The student's open case referred to ``hospital`` (Kangning by default) by their school's head,
    under a new agreement covering every tier; sent if ``send``."""
    head = cast.diana if student.school_id == cast.dongshan.pk else cast.edgar
    hospital = hospital or cast.kangning
    today = timezone.localdate()
    agreement = agreements.agreement_save(
        actor=head, school=student.school, hospital=hospital, valid_from=today, valid_until=today + dt.timedelta(days=365),
        tiers=TIERS, limits={t: {"acknowledge_hours": 2, "decide_hours": 12} for t in TIERS},
        crisis_contact_name="值班医生", crisis_line="0755-3333333")
    consent = agreements.sharing_consent_record(actor=head, student=student, hospital=hospital, party="guardian",
                                                method="paper", given_at=timezone.now())
    case = Case.objects.exclude(status=Case.Status.CLOSED).get(student=student)
    referral = referrals.referral_create(actor=head, case=case, hospital=hospital, reason="需专科评估",
                                         basis="consent", consent=consent)
    if send:
        referral = referrals.referral_send(actor=head, referral=referral)
    return agreement, consent, referral
