"""Builders shared by the campaigns API tests.

Imported as ``campaign_test_helpers``: a name unique in the tree, since tests/campaigns has no
``__init__.py`` (pytest puts this directory on ``sys.path``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from screening.campaigns import rules
from screening.campaigns.models import Assignment, Campaign
from screening.campaigns.services import campaign_create, campaign_launch, consent
from screening.directory.models import School
from screening.directory.services import student_user_ensure

ME = "/api/v1/me/assignments/"
STAFF = "/api/v1/assignments/"
ALERTS = "/api/v1/alerts/"


def head_of(cast: Any, school: School) -> Any:
    return cast.diana if school == cast.dongshan else cast.edgar


def counsellor_of(cast: Any, school: School) -> Any:
    return cast.alice if school == cast.dongshan else cast.bob


def campaign_open(
    cast: Any, *, school: School | None = None, classes: Iterable[Any] | None = None,
    instruments: Iterable[str] = ("phq9", "asq"), closes_in: dt.timedelta = dt.timedelta(days=14), **extra: Any,
) -> Campaign:
    """A launched campaign, open since an hour ago (launching invites the guardians)."""
    school = school or cast.dongshan
    if classes is None:
        classes = [cast.ds_7_1, cast.ds_7_2] if school == cast.dongshan else [cast.xs_10_1]
    now = timezone.now()
    campaign = campaign_create(
        actor=head_of(cast, school), school=school, name="秋季心理筛查", instruments=list(instruments),
        target_classes=list(classes), opens_at=now - dt.timedelta(hours=1), closes_at=now + closes_in, **extra,
    )
    campaign_launch(actor=head_of(cast, school), campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def assignment_of(campaign: Campaign, student: Any) -> Assignment:
    return Assignment.objects.select_related("campaign__school", "student").get(campaign=campaign, student=student)


def guardian_grants(cast: Any, assignment: Assignment) -> None:
    """The guardian consents through their link (a student under 18 in guardian-consent mode)."""
    invitation = consent.guardian_invitation_for_token(consent.guardian_token(assignment.invitations.get()))
    consent.guardian_decide(invitation=invitation, decision="granted", language="zh-hans")


def ready(cast: Any, campaign: Campaign, student: Any) -> Assignment:
    """The student's assignment with every consent it needs: the guardian's where required, then
    the student's own, both through the services a guardian and a student use."""
    assignment = assignment_of(campaign, student)
    if rules.guardian_role(assignment) is rules.GuardianRole.CONSENT:
        guardian_grants(cast, assignment)
    consent.student_consent_give(actor=student_user_ensure(student=student), assignment=assignment_of(campaign, student),
                                 agree=True, language="en")
    return assignment_of(campaign, student)


def submit(client: Any, assignment: Assignment, answers: dict[str, Any], key: str | None = "key-1",
           lang: str = "en") -> Any:
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(f"{ME}{assignment.pk}/submit/?lang={lang}", {"answers": answers}, format="json", **headers)


def draft_save(client: Any, assignment: Assignment, answers: dict[str, Any]) -> Any:
    return client.patch(f"{ME}{assignment.pk}/draft/", {"answers": answers}, format="json")


def code_of(response: Any) -> str:
    return response.json()["error"]["code"]


def fields_of(response: Any) -> dict[str, Any]:
    return response.json()["error"]["fields"]


# --- answer sets ----------------------------------------------------------------------------------


def phq9(*values: int) -> dict[str, int]:
    """PHQ-9 items 1-9 from nine values."""
    assert len(values) == 9
    return {str(i): v for i, v in enumerate(values, start=1)}


def phq9_total(total: int, item9: int = 0) -> dict[str, int]:
    """A PHQ-9 answer set with this total and this item 9 (items 1-8 filled from the top)."""
    rest, items = total - item9, []
    for _ in range(8):
        items.append(min(3, rest))
        rest -= items[-1]
    assert rest == 0, "total out of reach"
    return phq9(*items, item9)


def gad7_total(total: int) -> dict[str, int]:
    rest, items = total, {}
    for i in range(1, 8):
        items[str(i)] = min(3, rest)
        rest -= items[str(i)]
    assert rest == 0
    return items


ASQ_NEGATIVE = {"1": False, "2": False, "3": False, "4": False}
ASQ_NON_ACUTE = {"1": True, "2": False, "3": False, "4": False, "5": False}
ASQ_ACUTE = {"1": True, "2": False, "3": False, "4": False, "5": True}
