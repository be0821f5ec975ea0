"""School–hospital agreements and consent to share with a hospital.

A head of the school's psychological centre (or a platform admin) records the agreement the
school signed; the hospital's liaisons read it. An agreement accepts new referrals only while it is
valid and only for the tiers it covers (``agreement_for``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from screening.core.access import principal_of
from screening.core.audit import Action, audit_record
from screening.core.errors import InvalidInput, NotAllowed, NotFound
from screening.directory.models import Hospital, School, Student
from screening.referrals.models import PACKET_FIELDS, Agreement, SharingConsent

TIERS = ("red", "orange", "yellow")
MAX_HOURS = 24 * 14


def _check_limits(tiers: Sequence[str], limits: dict[str, Any]) -> dict[str, list[Any]]:
    """One message per tier whose hours are missing or out of order, naming the tier."""
    from screening.campaigns.models import Submission

    messages: list[Any] = []
    for tier in tiers:
        entry = limits.get(tier) if isinstance(limits, dict) else None
        ack = entry.get("acknowledge_hours") if isinstance(entry, dict) else None
        decide = entry.get("decide_hours") if isinstance(entry, dict) else None
        if not all(type(v) is int and 1 <= v <= MAX_HOURS for v in (ack, decide)) or ack > decide:  # type: ignore[operator]
            messages.append(_("%(tier)s: give whole hours to acknowledge and to decide (1 to %(max)d; deciding no sooner "
                              "than acknowledging).") % {"tier": Submission.Tier(tier).label, "max": MAX_HOURS})
    return {"limits": messages} if messages else {}


def _check(school: School, valid_from: dt.date, valid_until: dt.date, tiers: Sequence[str], limits: dict[str, Any],
           packet: Sequence[str], crisis_contact_name: str, crisis_line: str, endpoint_url: str,
           endpoint_secret: str) -> None:
    problems: dict[str, list[Any]] = {}
    if valid_until < valid_from:
        problems["valid_until"] = [_("The agreement must end after it starts.")]
    if not tiers or any(t not in TIERS for t in tiers) or len(set(tiers)) != len(tiers):
        problems["tiers"] = [_("Choose the tiers the agreement covers (red, orange, yellow).")]
    else:
        problems |= _check_limits(tiers, limits)
    if "public_id" not in packet or any(f not in PACKET_FIELDS for f in packet):
        problems["packet"] = [_("Choose the fields the hospital receives; the student's public id is always one.")]
    if not crisis_contact_name.strip():
        problems["crisis_contact_name"] = [_("Name the hospital's crisis contact.")]
    if not crisis_line.strip():
        problems["crisis_line"] = [_("Give the hospital's 24-hour line.")]
    if endpoint_url and not endpoint_url.startswith("https://") and not endpoint_url.startswith("http://127.0.0.1"):
        problems["endpoint_url"] = [_("A delivery endpoint must use https.")]
    if endpoint_url and len(endpoint_secret) < 32:
        problems["endpoint_secret"] = [_("A delivery endpoint needs a shared secret of at least 32 characters.")]
    if problems:
        raise InvalidInput(fields=problems)


def agreement_save(
    *, actor: Any, school: School, hospital: Hospital, valid_from: dt.date, valid_until: dt.date,
    tiers: Sequence[str], limits: dict[str, Any], crisis_contact_name: str, crisis_line: str,
    crisis_contact_email: str = "", packet: Sequence[str] | None = None, endpoint_url: str = "",
    endpoint_secret: str = "", agreement: Agreement | None = None,
) -> Agreement:
    """Record (or change) the agreement between a school and a hospital. Heads of the school's
    centre and platform admins only."""
    principal = principal_of(actor)
    if not (principal.platform_admin or school.pk in principal.admin_school_ids):
        raise NotAllowed(_("Only the head of the school's psychological centre can record its agreements."))
    packet = list(packet if packet is not None else PACKET_FIELDS)
    _check(school, valid_from, valid_until, tiers, limits, packet, crisis_contact_name, crisis_line, endpoint_url,
           endpoint_secret)
    fields = {
        "school": school, "hospital": hospital, "valid_from": valid_from, "valid_until": valid_until,
        "tiers": list(tiers), "limits": {t: limits[t] for t in tiers}, "packet": packet,
        "crisis_contact_name": crisis_contact_name.strip(), "crisis_contact_email": crisis_contact_email.strip(),
        "crisis_line": crisis_line.strip(), "endpoint_url": endpoint_url, "endpoint_secret": endpoint_secret,
    }
    with transaction.atomic():
        if agreement is None:
            agreement = Agreement.objects.create(created_by=actor, **fields)
            action = Action.CREATE
        else:
            if (agreement.school_id, agreement.hospital_id) != (school.pk, hospital.pk):
                raise InvalidInput(fields={"hospital": [_("An agreement's school and hospital do not change; record a "
                                                          "new agreement instead.")]})
            for name, value in fields.items():
                setattr(agreement, name, value)
            agreement.save()
            action = Action.UPDATE
        audit_record(actor=actor, action=action, object_type="referrals.Agreement", object_id=agreement.pk,
                     school_id=school.pk, detail={"hospital": hospital.pk, "valid_until": str(valid_until)})
    return agreement


def agreement_for(*, school_id: int, hospital_id: int, tier: str, on: dt.date | None = None) -> Agreement | None:
    """The agreement under which the school may refer a student of this tier to the hospital today
    (the one valid longest, when several are). A school has few agreements: the tiers are checked
    here rather than with a JSON lookup that not every database has."""
    on = on or timezone.localdate()
    valid = Agreement.objects.filter(school_id=school_id, hospital_id=hospital_id, valid_from__lte=on,
                                     valid_until__gte=on).order_by("-valid_until", "-id")
    return next((a for a in valid if tier in a.tiers), None)


def sharing_consent_record(
    *, actor: Any, student: Student, hospital: Hospital, party: str, method: str, given_at: dt.datetime, note: str = "",
) -> SharingConsent:
    """Record a consent to share the student's referral packet with one hospital, given separately
    (PIPL art. 29): the guardian's for a student under 14 (art. 31). Staff who cover the student
    record it; for anyone else the student is NotFound."""
    if not Student.objects.visible_to(actor).filter(pk=student.pk).exists() or not principal_of(actor).covers_students:
        raise NotFound(_("Not found."))
    problems: dict[str, list[Any]] = {}
    if party not in SharingConsent.Party.values:
        problems["party"] = [_("Say who consented.")]
    elif party == SharingConsent.Party.STUDENT and student.is_minor_under_14:
        problems["party"] = [_("For a student under 14 the guardian consents (PIPL art. 31).")]
    if method not in SharingConsent.Method.values:
        problems["method"] = [_("Say how the consent was given.")]
    if given_at > timezone.now() + dt.timedelta(minutes=5):
        problems["given_at"] = [_("A consent cannot be in the future.")]
    if problems:
        raise InvalidInput(fields=problems)
    with transaction.atomic():
        consent = SharingConsent.objects.create(student=student, hospital=hospital, party=party, method=method,
                                                given_at=given_at, note=note, recorded_by=actor)
        audit_record(actor=actor, action=Action.CREATE, object_type="referrals.SharingConsent", object_id=consent.pk,
                     student_public_id=student.public_id, school_id=student.school_id,
                     detail={"hospital": hospital.pk, "party": party})
    return consent
