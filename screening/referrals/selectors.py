"""Reads of referrals, agreements and consents to share that depend on who asks, all built on the
access policy (``visible_to``): a student's referrals, the agreements a case may be referred
under, the consents on record, the side a user reads a referral from, the referral packet and
the shared timeline. The packet reaches the student's screening through a referral the user can
already see, never from a table of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from screening.campaigns.models import Submission
from screening.cases.models import Case
from screening.core.access import principal_of, students_rule
from screening.directory.models import Student
from screening.referrals import states
from screening.referrals.models import Agreement, Referral, ReferralEvent, SharingConsent


def student_referrals(*, user: Any, student: Student) -> QuerySet[Referral]:
    """The student's referrals ``user`` can see, newest first."""
    return (Referral.objects.visible_to(user).filter(student=student).select_related("hospital", "agreement")
            .order_by("-created_at", "-id"))


def case_agreements(*, user: Any, case: Case) -> list[Agreement]:
    """The agreements the case may be referred under today: valid, of the case's school, covering
    its tier; one per hospital, the one ``agreement_for`` would choose (valid longest)."""
    today = timezone.localdate()
    valid = (Agreement.objects.visible_to(user).filter(school_id=case.school_id, valid_from__lte=today,
                                                        valid_until__gte=today).order_by("-valid_until", "-id"))
    chosen: dict[int, Agreement] = {}
    for agreement in valid:  # a school has few agreements; tiers are checked here (JSON lookups vary by database)
        if case.tier in agreement.tiers:
            chosen.setdefault(agreement.hospital_id, agreement)
    return list(chosen.values())


def sharing_consents(*, user: Any, student: Student) -> QuerySet[SharingConsent]:
    """The consents to share the student's packet that ``user`` can see and that still stand (not
    withdrawn), newest first."""
    return (SharingConsent.objects.visible_to(user).filter(student=student, withdrawn_at__isnull=True)
            .select_related("hospital").order_by("-given_at", "-id"))


def referral_side(*, user: Any, referral: Referral) -> str:
    """The side ``user`` reads and acts on ``referral`` from: a liaison of its hospital reads as the
    hospital (the packet only); anyone else who can see it reads as the school."""
    return states.HOSPITAL if referral.hospital_id in principal_of(user).hospital_ids else states.SCHOOL


def acting_side(*, user: Any, referral: Referral) -> str | None:
    """The side ``user`` may act for on ``referral`` (the one rule, used by the services, the pages
    and the API): the hospital's liaisons for the hospital; staff who cover the student (head of
    centre or counsellor) for the school; nobody else (a platform admin reads, audited, but takes
    no step)."""
    principal = principal_of(user)
    if referral.hospital_id in principal.hospital_ids:
        return states.HOSPITAL
    if Student.objects.filter(pk=referral.student_id).filter(students_rule(replace(principal, student_id=None))).exists():
        return states.SCHOOL
    return None


def _flagging_submission(referral: Referral) -> Submission | None:
    """The screening that brought the case to the referral's tier (the latest flag of that tier;
    else the case's latest flag)."""
    flags = referral.case.flags.select_related("submission", "risk_score__submission").order_by("-at", "-id")
    flag = next((f for f in flags if f.tier == referral.tier), None) or flags.first()
    if flag is None:
        return None
    return flag.submission or (flag.risk_score.submission if flag.risk_score else None)


def _reasons(referral: Referral) -> list[dict[str, Any]]:
    submission = _flagging_submission(referral)
    rules = submission.tier_rules if submission is not None else []
    return [{"id": r.get("id"), "tier": r.get("tier"), "instrument": r.get("instrument"),
             "description": r.get("description")} for r in rules]


def _results(referral: Referral) -> list[dict[str, Any]]:
    submission = _flagging_submission(referral)
    if submission is None:
        return []
    return [{"instrument": r.instrument, "version": r.version, "profile": r.profile, "valid": r.valid, "total": r.total,
             "band": r.band,
             "subscales": r.subscales, "submitted_at": submission.submitted_at.isoformat()}
            for r in submission.results.order_by("position", "id")]


def _school_contact(referral: Referral) -> dict[str, Any]:
    referrer = referral.created_by
    return {"school": referral.school.name, "crisis_line": referral.school.crisis_line,
            "referred_by": referrer.get_full_name() or referrer.get_username(), "email": referrer.email}


# One builder per field an agreement may list (models.PACKET_FIELDS).
_PACKET: dict[str, Callable[[Referral], Any]] = {
    "public_id": lambda r: r.student.public_id,
    "birth_year": lambda r: r.student.birth_date.year,
    "gender": lambda r: r.student.gender,
    "tier": lambda r: r.tier,
    "reasons": _reasons,
    "results": _results,
    "school_contact": _school_contact,
}


def referral_packet(*, referral: Referral) -> dict[str, Any]:
    """The referral packet (minimum necessary, DESIGN.md §3 step 9): exactly the fields the
    referral's agreement lists, and the student's public id always. Never the name, number, class
    or guardian: no builder reads them."""
    listed = set(referral.agreement.packet) | {"public_id"}
    return {name: build(referral) for name, build in _PACKET.items() if name in listed}


def referral_events(*, user: Any, referral: Referral) -> QuerySet[ReferralEvent]:
    """The referral's timeline as both sides read it, oldest first."""
    return (ReferralEvent.objects.visible_to(user).filter(referral=referral).select_related("actor")
            .order_by("at", "id"))
