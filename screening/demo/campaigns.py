"""Demo campaigns: an open screening of the junior high's first year (two classes), part-answered,
with one red alert; and a draft freshman survey at the university.

The open screening shows the whole path: guardians were sent links on launch, some consented on
paper (recorded by the counsellor), students agreed and answered, every answer set was scored and
tiered, and one ASQ acute answer raised a red alert for the counsellors who cover that student.
The printed sample student's guardian has not answered yet, so the demo can start from the link.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from screening.campaigns import services
from screening.campaigns.models import Assignment, Campaign, GuardianInvitation
from screening.campaigns.services import answering, consent
from screening.directory.models import School, SchoolClass, Student
from screening.directory.services import current_school_year, student_user_ensure

JUNIOR_CAMPAIGN = "2026年秋季学期心理健康筛查（初一）"
ANSWERED = 24  # students of the junior campaign who have already answered in the demo


def seed(*, keep_pending: list[Student]) -> list[tuple[Campaign, int]]:
    """Returns each demo campaign with its assignment count. Safe to run twice. ``keep_pending``
    are the printed sample students: their guardian's link stays unanswered for the demo."""
    users = get_user_model().objects
    now = timezone.now()
    year = current_school_year()
    out = []
    junior = School.objects.get(code="JC-DHJH")
    head = users.get(username="dh_admin")
    campaign = Campaign.objects.filter(school=junior, name=JUNIOR_CAMPAIGN).first()
    if campaign is None:
        campaign = services.campaign_create(
            actor=head, school=junior, name=JUNIOR_CAMPAIGN,
            instruments=["phqa", "gad7", "asq"], opens_at=now - dt.timedelta(days=1), closes_at=now + dt.timedelta(days=21),
            target_classes=SchoolClass.objects.filter(school=junior, school_year=year, grade=7),
            asks_research_use=True,  # separate, optional: see screening.demo.exports for the extract
        )
    if campaign.status == Campaign.Status.DRAFT and campaign.closes_at > now:
        services.campaign_launch(actor=head, campaign=campaign)
    if campaign.status == Campaign.Status.LAUNCHED:
        _answer_some(campaign, skip={s.pk for s in keep_pending})
    out.append((campaign, campaign.assignments.count()))
    university = School.objects.get(code="JC-UNI")
    draft = Campaign.objects.filter(school=university, name="2026级新生心理普查").first()
    if draft is None:
        draft = services.campaign_create(
            actor=users.get(username="uni_admin"), school=university, name="2026级新生心理普查",
            instruments=["phq9", "gad7", "asq"], profiles={"phq9": "default"}, target_grades=[1],
            opens_at=now + dt.timedelta(days=7), closes_at=now + dt.timedelta(days=28),
            consent_mode=Campaign.ConsentMode.GUARDIAN_NOTICE, students_see_results=True,
        )
    out.append((draft, draft.assignments.count()))
    return out


def _answers(rng: random.Random, index: int) -> dict[str, Any]:
    """Invented answer sets: mostly low, some moderate, and (index 0) one ASQ acute positive."""
    level = 3 if index == 0 else rng.choice((0, 0, 0, 0, 1, 1, 2))
    def items(n: int) -> dict[str, int]:
        return {str(i): min(3, max(0, level + rng.choice((-1, 0, 0, 1)))) if level else rng.choice((0, 0, 1))
                for i in range(1, n + 1)}
    phqa: dict[str, Any] = {**items(9), "10": level >= 2, "11": False, "12": False}
    phqa["9"] = 0
    asq: dict[str, Any] = {"1": index == 0, "2": False, "3": False, "4": False}
    if index == 0:
        asq["5"] = True
    return {"phqa": phqa, "gad7": items(7), "asq": asq}


def _answer_some(campaign: Campaign, *, skip: set[int]) -> None:
    rng = random.Random(4242)  # noqa: S311 - invented demo answers, not secrets
    counsellor = get_user_model().objects.get(username="dh_counsellor")
    assignments = (Assignment.objects.filter(campaign=campaign).exclude(student_id__in=skip)
                   .select_related("campaign__school", "student__school").order_by("student__number")[:ANSWERED])
    for index, assignment in enumerate(assignments):
        answers = _answers(rng, index)
        if assignment.status == Assignment.Status.SUBMITTED:
            continue
        if assignment.guardian != Assignment.Guardian.GRANTED:
            consent.paper_consent_record(actor=counsellor, assignment=assignment, decision="granted",
                                         note="纸质知情同意书已收回，存于心理中心档案柜（演示数据）")
        # Three families in four also agree to research use (the guardian on paper, the student in
        # the questionnaire): those students, and only they, are in the demo research extract.
        research = campaign.asks_research_use and index % 4 != 3
        if research:
            consent.paper_consent_record(actor=counsellor, assignment=assignment, decision="granted", purpose="research",
                                         note="科研使用同意书已收回（演示数据）")
        user = student_user_ensure(student=assignment.student)
        assignment.refresh_from_db()
        consent.student_consent_give(actor=user, assignment=assignment, agree=True, language="zh-hans",
                                     research=research if campaign.asks_research_use else None)
        assignment.refresh_from_db()
        answering.assignment_submit(actor=user, assignment_id=assignment.pk, answers=answers,
                                    idempotency_key=f"demo-{assignment.pk}", language="zh-hans")


def guardian_links(students: list[Student]) -> list[tuple[Student, str]]:
    """A fresh signed link for each sample student's guardian who still has to answer."""
    out = []
    for student in students:
        invitation = (GuardianInvitation.objects.filter(assignment__student=student, answered_at__isnull=True,
                                                        assignment__campaign__status=Campaign.Status.LAUNCHED)
                      .select_related("assignment").first())
        if invitation is not None:
            out.append((student, consent.guardian_link(invitation)))
    return out


def describe(rows: list[tuple[Campaign, int]]) -> list[str]:
    return [f"  campaign {c.school.code}: {c.name} ({c.get_status_display()}, {n} assignments)" for c, n in rows]
