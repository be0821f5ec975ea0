"""Flagged students for the workspace tests: a launched campaign at the student's school, every
consent given through the services, and a submit through the student's own service call."""

from __future__ import annotations

from typing import Any

from screening.campaigns.models import Campaign, Submission
from screening.campaigns.services import answering
from screening.cases.models import Case
from screening.directory.services import student_user_ensure
from tests.campaigns.campaign_test_helpers import ASQ_ACUTE, ASQ_NEGATIVE, campaign_open, phq9_total, ready

ANSWERS = {
    "red": {"phq9": phq9_total(4, item9=3), "asq": ASQ_ACUTE},
    "orange": {"phq9": phq9_total(21, item9=0), "asq": ASQ_NEGATIVE},
    "yellow": {"phq9": phq9_total(11, item9=0), "asq": ASQ_NEGATIVE},
    "green": {"phq9": phq9_total(2, item9=0), "asq": ASQ_NEGATIVE},
}


def campaign_for(cast: Any, student: Any, **extra: Any) -> Campaign:
    school = student.school
    classes = [student.school_class]
    return campaign_open(cast, school=school, classes=classes, instruments=["phq9", "asq"], **extra)


def flag(cast: Any, student: Any, tier: str, campaign: Campaign | None = None, *, exact: bool = True) -> Submission:
    """The student submits answers that the default policy's rules put in ``tier`` (an active risk
    model may raise it: ``exact=False`` allows that)."""
    campaign = campaign or campaign_for(cast, student)
    assignment = ready(cast, campaign, student)
    outcome = answering.assignment_submit(
        actor=student_user_ensure(student=student), assignment_id=assignment.pk, answers=ANSWERS[tier],
        idempotency_key=f"k-{campaign.pk}-{student.pk}", language="en",
    )
    if exact:
        assert outcome.submission.tier == tier, (outcome.submission.tier, outcome.submission.tier_rules)
    return outcome.submission


def case_of(student: Any) -> Case:
    return Case.objects.exclude(status=Case.Status.CLOSED).get(student=student)
