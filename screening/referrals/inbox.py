"""Reads for the referral pages, beside ``selectors`` (the case's side, the packet, the timeline):
the liaison's inbox with the hospital's next time limit, and the agreements a user may read with
their validity. Built on the access policy (``visible_to``); the callers audit the reads.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone

from screening.core.access import principal_of
from screening.referrals.models import Agreement, Referral

EXPIRY_WARNING_DAYS = 30


def referral_list(*, user: Any) -> QuerySet[Referral]:
    """Every referral ``user`` may see (staff covering the student; a liaison, once sent)."""
    return Referral.objects.visible_to(user).select_related("student", "school", "hospital", "agreement", "case",
                                                            "created_by")


def referral_inbox(*, user: Any) -> QuerySet[Referral]:
    """A liaison's inbox: referrals to their hospitals once sent, newest first. Empty for anyone
    who is not a liaison (school staff reach referrals from their cases)."""
    hospitals = principal_of(user).hospital_ids
    return (referral_list(user=user).filter(hospital_id__in=hospitals).exclude(state=Referral.State.DRAFT)
            .order_by(F("sent_at").desc(nulls_last=True), "-id"))


def referral_due(referral: Referral) -> dt.datetime | None:
    """The hospital's next time limit: to acknowledge while sent, to accept or decline once
    acknowledged; none after that."""
    if referral.state == Referral.State.SENT:
        return referral.acknowledge_due_at
    if referral.state == Referral.State.ACKNOWLEDGED:
        return referral.decide_due_at
    return None


def agreement_list(*, user: Any) -> QuerySet[Agreement]:
    """The agreements ``user`` may read: their schools' (staff) or their hospitals' (liaisons)."""
    return Agreement.objects.visible_to(user).select_related("school", "hospital").order_by(
        "school__name", "hospital__name", "-valid_until", "-id")


def agreement_validity(agreement: Agreement, today: dt.date | None = None) -> dict[str, Any]:
    """Whether the agreement is valid today, not yet, or expired; the days left while valid, and
    a warning from ``EXPIRY_WARNING_DAYS`` before it ends."""
    today = today or timezone.localdate()
    if today < agreement.valid_from:
        return {"state": "future", "days_left": None, "expiring": False}
    if today > agreement.valid_until:
        return {"state": "expired", "days_left": None, "expiring": False}
    left = (agreement.valid_until - today).days
    return {"state": "valid", "days_left": left, "expiring": left <= EXPIRY_WARNING_DAYS}
