"""Demo campaigns: an open screening of the junior high's first year, and a draft freshman survey."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone

from screening.campaigns import services
from screening.campaigns.models import Campaign
from screening.directory.models import School, SchoolClass
from screening.directory.services import current_school_year


def seed() -> list[tuple[Campaign, int]]:
    """Returns each demo campaign with its assignment count. Safe to run twice."""
    users = get_user_model().objects
    now = timezone.now()
    year = current_school_year()
    out = []
    junior = School.objects.get(code="JC-DHJH")
    campaign = Campaign.objects.filter(school=junior, name="2026年秋季学期心理健康筛查（初一）").first()
    if campaign is None:
        campaign = services.campaign_create(
            actor=users.get(username="dh_admin"), school=junior, name="2026年秋季学期心理健康筛查（初一）",
            instruments=["phqa", "gad7", "asq"], opens_at=now - dt.timedelta(days=1), closes_at=now + dt.timedelta(days=21),
            target_classes=SchoolClass.objects.filter(school=junior, school_year=year, grade=7),
        )
    if campaign.status == Campaign.Status.DRAFT and campaign.closes_at > now:
        services.campaign_launch(actor=users.get(username="dh_admin"), campaign=campaign)
    out.append((campaign, campaign.assignments.count()))
    university = School.objects.get(code="JC-UNI")
    draft = Campaign.objects.filter(school=university, name="2026级新生心理普查").first()
    if draft is None:
        draft = services.campaign_create(
            actor=users.get(username="uni_admin"), school=university, name="2026级新生心理普查",
            instruments=["upi", "phq9", "gad7"], profiles={"phq9": "default"}, target_grades=[1],
            opens_at=now + dt.timedelta(days=7), closes_at=now + dt.timedelta(days=28),
            consent_mode=Campaign.ConsentMode.GUARDIAN_NOTICE,
        )
    out.append((draft, draft.assignments.count()))
    return out


def describe(rows: list[tuple[Campaign, int]]) -> list[str]:
    return [f"  campaign {c.school.code}: {c.name} ({c.get_status_display()}, {n} assignments)" for c, n in rows]

