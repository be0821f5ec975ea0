"""Campaigns: a head of centre creates, launches and closes; students get exactly one assignment."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from screening.campaigns.models import Assignment, Campaign
from screening.core.models import AuditEvent
from screening.directory.services import student_user_ensure
from tests.conftest import make_student

URL = "/api/v1/campaigns/"


def payload(cast: Any, **changes: Any) -> dict[str, Any]:
    now = timezone.now()
    body = {
        "school": cast.dongshan.pk, "name": "秋季筛查", "instruments": ["phqa", "gad7", "asq"],
        "target_classes": [cast.ds_7_1.pk], "opens_at": now.isoformat(),
        "closes_at": (now + dt.timedelta(days=14)).isoformat(),
    }
    return {**body, **changes}


def create(api: Any, cast: Any, **changes: Any) -> Any:
    return api.as_(cast.diana).post(URL, payload(cast, **changes), format="json")


def test_a_head_of_centre_creates_a_draft_campaign(cast, api):
    response = create(api, cast, profiles={"gad7": "default"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft" and body["instruments"] == ["phqa", "gad7", "asq"]
    assert body["assignments"] == {"pending": 0, "in_progress": 0, "submitted": 0, "missed": 0}
    assert AuditEvent.objects.filter(action="create", object_type="campaigns.Campaign").exists()


def test_invalid_campaigns_are_refused_field_by_field(cast, api):
    now = timezone.now()
    response = create(
        api, cast, instruments=["phq2", "phq2"], profiles={"cesd": "default", "phq2": "nope"},
        target_classes=[], closes_at=(now - dt.timedelta(days=1)).isoformat(), stepped=False,
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert {"instruments", "profiles", "target_classes", "closes_at"} <= fields.keys()
    assert Campaign.objects.count() == 0


def test_unknown_questionnaires_and_stepping_without_a_first_step_are_refused(cast, api):
    fields = create(api, cast, instruments=["bdi"]).json()["error"]["fields"]
    assert any(name.startswith("instruments") for name in fields)
    assert "stepped" in create(api, cast, instruments=["phq9"], stepped=True).json()["error"]["fields"]


def test_another_schools_class_cannot_be_targeted(cast, api):
    response = create(api, cast, target_classes=[cast.xs_10_1.pk])
    assert response.status_code == 400 and "target_classes" in response.json()["error"]["fields"]


def test_counsellors_cannot_create_and_other_schools_cannot_see(cast, api):
    assert api.as_(cast.alice).post(URL, payload(cast), format="json").status_code == 403
    campaign_id = create(api, cast).json()["id"]
    assert api.as_(cast.alice).get(f"{URL}{campaign_id}/").status_code == 200
    assert api.as_(cast.bob).get(f"{URL}{campaign_id}/").status_code == 404
    assert api.as_(cast.edgar).get(URL).json()["count"] == 0
    assert api.as_(cast.edgar).post(f"{URL}{campaign_id}/launch/").status_code == 404


def test_launch_assigns_each_eligible_student_once(cast, api):
    campaign_id = create(api, cast, target_grades=[7], target_classes=[]).json()["id"]
    first = api.as_(cast.diana).post(f"{URL}{campaign_id}/launch/")
    assert first.status_code == 200 and first.json()["changed"] == 2
    assert first.json()["campaign"]["status"] == "launched"
    again = api.post(f"{URL}{campaign_id}/launch/")
    assert again.status_code == 200 and again.json()["changed"] == 0
    assert sorted(Assignment.objects.values_list("student__number", flat=True)) == ["D0001", "D0002"]


def test_students_who_join_an_open_campaign_get_an_assignment(cast, api):
    campaign_id = create(api, cast).json()["id"]
    api.as_(cast.diana).post(f"{URL}{campaign_id}/launch/")
    response = api.post("/api/v1/students/", {
        "school_class": cast.ds_7_1.pk, "number": "D0100", "name": "新同学", "birth_date": "2013-05-01", "gender": "male",
    }, format="json")
    assert response.status_code == 201
    assert Assignment.objects.filter(campaign_id=campaign_id, student__number="D0100").exists()
    other_class = make_student(cast.ds_7_2, "D0101", "别班同学", 12)
    assert not Assignment.objects.filter(student=other_class).exists()


def test_closing_marks_unfinished_work_missed_and_can_be_repeated(cast, api):
    campaign_id = create(api, cast).json()["id"]
    assert api.as_(cast.diana).post(f"{URL}{campaign_id}/close/").status_code == 409  # still a draft
    api.post(f"{URL}{campaign_id}/launch/")
    closed = api.post(f"{URL}{campaign_id}/close/")
    assert closed.status_code == 200 and closed.json()["changed"] == 1
    assert closed.json()["campaign"]["assignments"]["missed"] == 1
    assert api.post(f"{URL}{campaign_id}/close/").json()["changed"] == 0
    assert api.post(f"{URL}{campaign_id}/launch/").status_code == 409


def test_a_student_sees_only_campaigns_assigned_to_them(cast, api):
    campaign_id = create(api, cast).json()["id"]
    api.as_(cast.diana).post(f"{URL}{campaign_id}/launch/")
    assert api.as_(cast.hamlet).get(URL).status_code == 403  # students use their own endpoints
    assert Campaign.objects.visible_to(cast.hamlet.user).filter(pk=campaign_id).exists()
    assert not Campaign.objects.visible_to(student_user_ensure(student=cast.hilda)).filter(pk=campaign_id).exists()


def test_the_class_limited_counsellor_sees_only_their_students_assignments(cast, api):
    campaign_id = create(api, cast, target_grades=[7], target_classes=[]).json()["id"]
    api.as_(cast.diana).post(f"{URL}{campaign_id}/launch/")
    seen = Assignment.objects.visible_to(cast.carol).values_list("student__number", flat=True)
    assert list(seen) == ["D0001"]
