"""Defects found in review, each pinned: filters that leak existence, sign-in spellings that dodge
the lockout, codes that are reissued but leave the old sign-in alive, doubled creates, silent applies."""

from __future__ import annotations

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from screening.core.models import AuditEvent
from screening.directory.models import Student
from tests.conftest import ACCESS_CODE

TOKEN = "/api/v1/auth/token/"


@pytest.mark.parametrize(
    ("path", "param", "outside"),
    [
        ("/api/v1/students/", "school_class", lambda c: c.xs_10_1.pk),
        ("/api/v1/classes/", "school", lambda c: c.xishan.pk),
        ("/api/v1/memberships/", "school", lambda c: c.xishan.pk),
    ],
)
def test_filtering_by_an_id_outside_scope_looks_like_a_missing_id(cast, api, path, param, outside):
    api.as_(cast.carol)
    hidden = api.get(f"{path}?{param}={outside(cast)}")
    missing = api.get(f"{path}?{param}=999999")
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["error"]["fields"].keys() == missing.json()["error"]["fields"].keys() == {param}


def test_filtering_by_an_id_in_scope_works(cast, api):
    api.as_(cast.carol)
    response = api.get(f"/api/v1/students/?school_class={cast.ds_7_1.pk}")
    assert response.status_code == 200
    assert [s["number"] for s in response.json()["results"]] == ["D0001"]


def test_the_api_answers_json_even_to_a_browser(cast, api):
    api.as_(cast.lily)
    response = api.get("/api/v1/memberships/", HTTP_ACCEPT="text/html")
    assert response["Content-Type"].startswith("application/json")
    assert cast.dongshan.name not in response.content.decode()


def test_student_sign_in_spellings_share_one_lockout(cast, api, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api.post(TOKEN, {"school_code": "DSJH", "number": "D0001", "access_code": "ZZZZZ-ZZZZZ"}, format="json")
    for spelling in ({"school_code": "dsjh", "number": " D0001 "}, {"school_code": "DSJH", "number": "D0001"}):
        response = api.post(TOKEN, {**spelling, "access_code": ACCESS_CODE}, format="json")
        assert response.status_code == 429, spelling
    # The staff field cannot carry a student name spelled another way past the lockout.
    for name in ("DSJH /D0001", "dsjh/D0001", " DSJH/D0001"):
        assert api.post(TOKEN, {"username": name, "password": ACCESS_CODE}, format="json").status_code in (400, 429)


def test_a_lower_case_school_code_still_signs_in(cast, api):
    response = api.post(TOKEN, {"school_code": "dsjh", "number": "D0001", "access_code": ACCESS_CODE}, format="json")
    assert response.status_code == 200


def test_reissuing_a_code_ends_the_students_tokens_and_sessions(cast, api, client):
    token = api.post(TOKEN, {"school_code": "DSJH", "number": "D0001", "access_code": ACCESS_CODE}, format="json").json()["token"]
    client.post("/student/login/", {"school_code": "DSJH", "number": "D0001", "access_code": ACCESS_CODE})
    assert client.get("/home/").status_code == 200
    admin = type(api)()
    admin.force_authenticate(cast.diana)
    assert admin.post(f"/api/v1/students/{cast.hamlet.public_id}/access-code/").status_code == 200
    old = type(api)()
    old.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert old.get("/api/v1/me/").status_code == 401
    assert client.get("/home/").status_code == 302  # back to sign-in


def test_a_class_sheet_ends_the_classs_sign_ins_too(cast, api):
    token = api.post(TOKEN, {"school_code": "DSJH", "number": "D0001", "access_code": ACCESS_CODE}, format="json").json()["token"]
    admin = type(api)()
    admin.force_authenticate(cast.diana)
    assert admin.post(f"/api/v1/classes/{cast.ds_7_1.pk}/access-sheet/").status_code == 200
    old = type(api)()
    old.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert old.get("/api/v1/me/").status_code == 401


NEW_STUDENT = {"number": "D0099", "name": "新同学", "birth_date": "2013-03-01", "gender": "male"}


def test_a_taken_number_is_a_field_error(cast, api):
    api.as_(cast.diana)
    response = api.post("/api/v1/students/", {**NEW_STUDENT, "number": "D0001", "school_class": cast.ds_7_1.pk}, format="json")
    assert response.status_code == 400
    assert "number" in response.json()["error"]["fields"]


def test_a_counsellor_learns_nothing_about_numbers_before_being_refused(cast, api):
    api.as_(cast.alice)
    taken = api.post("/api/v1/students/", {**NEW_STUDENT, "number": "D0001", "school_class": cast.ds_7_1.pk}, format="json")
    free = api.post("/api/v1/students/", {**NEW_STUDENT, "school_class": cast.ds_7_1.pk}, format="json")
    assert taken.status_code == free.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_doubled_creates_give_one_student_and_no_server_error(cast, api):
    if connection.vendor != "postgresql":
        pytest.skip("true concurrency needs PostgreSQL (SQLite serialises writers)")
    from rest_framework.test import APIClient

    statuses: list[int] = []

    def create() -> None:
        client = APIClient()
        client.force_authenticate(cast.diana)
        statuses.append(client.post("/api/v1/students/", {**NEW_STUDENT, "school_class": cast.ds_7_1.pk}, format="json").status_code)
        connection.close()

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [400] * 5
    assert Student.objects.filter(number=NEW_STUDENT["number"]).count() == 1


def test_applying_a_roster_is_itself_audited_even_when_it_changes_nothing(cast, api):
    h = cast.hamlet
    csv = (
        "学号,姓名,性别,出生日期,年级,班级,监护人姓名,监护人电话,监护人邮箱\n"
        f"{h.number},{h.name},{h.gender},{h.birth_date.isoformat()},{h.school_class.grade},{h.school_class.name},"
        f"{h.guardian_name},{h.guardian_phone},{h.guardian_email}\n"
    ).encode()
    api.as_(cast.diana)
    record = api.post("/api/v1/roster-imports/", {"school": cast.dongshan.pk, "file": SimpleUploadedFile("r.csv", csv)}, format="multipart").json()
    assert record["summary"]["unchanged"] == 1
    assert api.post(f"/api/v1/roster-imports/{record['id']}/apply/").status_code == 200
    entry = AuditEvent.objects.get(object_type="roster_import", action="update", object_id=str(record["id"]))
    assert entry.detail["unchanged"] == 1 and entry.school_id == cast.dongshan.pk
