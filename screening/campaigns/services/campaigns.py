"""Campaign state changes: create, launch (assignments for every eligible student), close."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

import scoring
from screening.campaigns.models import Assignment, Campaign
from screening.core.audit import Action, audit_record
from screening.core.errors import Conflict, InvalidInput
from screening.directory.models import School, SchoolClass, Student

STEPPED_FIRST = ("phq2", "gad2")  # PHQ-2 >= 3 adds the PHQ-9, GAD-2 >= 3 adds the GAD-7


def _check(
    *, school: School, instruments: list[str], profiles: dict[str, str], target_classes: Iterable[SchoolClass],
    target_grades: list[int], opens_at: dt.datetime, closes_at: dt.datetime, stepped: bool,
) -> None:
    """Every problem at once, by field, in the user's language."""
    fields: dict[str, list[Any]] = {}
    known = set(scoring.instrument_codes())
    if not instruments:
        fields.setdefault("instruments", []).append(_("Choose at least one questionnaire."))
    unknown = [c for c in instruments if c not in known]
    if unknown:
        fields.setdefault("instruments", []).append(_("Unknown questionnaire: %(codes)s.") % {"codes": ", ".join(unknown)})
    for code in instruments:
        if code in known and not all(scoring.item_texts(code, lang).available for lang in ("zh-hans", "en")):
            fields.setdefault("instruments", []).append(
                _("%(code)s needs the licensed item text, which is not installed.") % {"code": code}
            )
    if len(set(instruments)) != len(instruments):
        fields.setdefault("instruments", []).append(_("Each questionnaire may appear once."))
    for code, profile in profiles.items():
        if code not in instruments:
            fields.setdefault("profiles", []).append(_("%(code)s is not in this campaign.") % {"code": code})
        elif code in known and profile not in scoring.instrument(code).profiles:
            fields.setdefault("profiles", []).append(
                _("%(code)s has no cut-off profile “%(profile)s”.") % {"code": code, "profile": profile}
            )
    if stepped and not set(STEPPED_FIRST) & set(instruments):
        fields.setdefault("stepped", []).append(_("Stepped screening needs the PHQ-2 or the GAD-2."))
    if any(c.school_id != school.pk for c in target_classes):
        fields.setdefault("target_classes", []).append(_("Every class must belong to the campaign's school."))
    if not list(target_classes) and not target_grades:
        fields.setdefault("target_classes", []).append(_("Choose classes or grades."))
    if closes_at <= opens_at:
        fields.setdefault("closes_at", []).append(_("The campaign must close after it opens."))
    if fields:
        raise InvalidInput(_("The campaign is not valid."), fields=fields)


def campaign_create(
    *, actor: Any, school: School, name: str, instruments: list[str], opens_at: dt.datetime, closes_at: dt.datetime,
    profiles: dict[str, str] | None = None, target_classes: Iterable[SchoolClass] = (), target_grades: Iterable[int] = (),
    consent_mode: str = Campaign.ConsentMode.GUARDIAN_CONSENT, students_see_results: bool = False, stepped: bool = False,
    asks_research_use: bool = False,
) -> Campaign:
    """A draft campaign. Nothing reaches students until it is launched. ``asks_research_use``
    adds the separate, optional question about research use without names (never a condition
    of taking part)."""
    classes, grades, profiles = list(target_classes), sorted(set(target_grades)), dict(profiles or {})
    _check(school=school, instruments=instruments, profiles=profiles, target_classes=classes, target_grades=grades,
           opens_at=opens_at, closes_at=closes_at, stepped=stepped)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            school=school, name=name, instruments=instruments, profiles=profiles, target_grades=grades,
            opens_at=opens_at, closes_at=closes_at, consent_mode=consent_mode,
            students_see_results=students_see_results, stepped=stepped, asks_research_use=asks_research_use,
            created_by=actor,
        )
        campaign.target_classes.set(classes)
        audit_record(actor=actor, action=Action.CREATE, object_type="campaigns.Campaign", object_id=campaign.pk,
                     school_id=school.pk, detail={"instruments": instruments, "asks_research_use": asks_research_use})
    return campaign


def eligible_students(campaign: Campaign) -> QuerySet[Student]:
    """Active students of the campaign's school in its classes or grades."""
    target = Q(school_class__in=campaign.target_classes.all())
    if campaign.target_grades:
        target |= Q(school_class__grade__in=campaign.target_grades)
    return Student.objects.filter(school_id=campaign.school_id, is_active=True).filter(target)


def _assign_missing(campaign: Campaign) -> int:
    have = set(Assignment.objects.filter(campaign=campaign).values_list("student_id", flat=True))
    new = [Assignment(campaign=campaign, student_id=pk)
           for pk in eligible_students(campaign).values_list("pk", flat=True) if pk not in have]
    Assignment.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    return len(new)


def campaign_launch(*, actor: Any, campaign: Campaign) -> int:
    """Open the campaign: one assignment per eligible student, and a signed link to each guardian
    who must consent or be told (consent.campaign_guardians_invite). Launching again only adds
    students who have become eligible since; it never duplicates. Returns how many were added."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status == Campaign.Status.CLOSED:
            raise Conflict(_("A closed campaign cannot be launched again."), code="campaign_closed")
        if locked.closes_at <= timezone.now():
            raise Conflict(_("The campaign's window has already ended."), code="campaign_window_over")
        added = _assign_missing(locked)
        if locked.status == Campaign.Status.DRAFT:
            locked.status, locked.launched_at = Campaign.Status.LAUNCHED, timezone.now()
            locked.save(update_fields=["status", "launched_at"])
        audit_record(actor=actor, action=Action.UPDATE, object_type="campaigns.Campaign", object_id=locked.pk,
                     school_id=locked.school_id, detail={"status": "launched", "assignments_added": added})
    campaign.refresh_from_db()
    _invite_guardians(actor, campaign)
    return added


def _invite_guardians(actor: Any, campaign: Campaign) -> int:
    from screening.campaigns.services.consent import campaign_guardians_invite

    return campaign_guardians_invite(actor=actor, campaign=campaign)


def campaign_close(*, actor: Any, campaign: Campaign) -> int:
    """Close the campaign: unfinished assignments become missed. Closing twice changes nothing.
    Returns how many were marked missed."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status == Campaign.Status.DRAFT:
            raise Conflict(_("A draft campaign has nothing to close; delete or launch it."), code="campaign_draft")
        if locked.status == Campaign.Status.CLOSED:
            return 0
        missed = Assignment.objects.filter(
            campaign=locked, status__in=[Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS]
        ).update(status=Assignment.Status.MISSED)
        locked.status, locked.closed_at = Campaign.Status.CLOSED, timezone.now()
        locked.save(update_fields=["status", "closed_at"])
        audit_record(actor=actor, action=Action.UPDATE, object_type="campaigns.Campaign", object_id=locked.pk,
                     school_id=locked.school_id, detail={"status": "closed", "missed": missed})
    campaign.refresh_from_db()
    return missed


def campaign_assignments_sync(*, school_id: int) -> int:
    """Students who join the roster while a campaign is open get their assignment too."""
    added = 0
    for campaign in Campaign.objects.filter(school_id=school_id, status=Campaign.Status.LAUNCHED,
                                            closes_at__gt=timezone.now()):
        added += _assign_missing(campaign)
        _invite_guardians(None, campaign)
    return added
