"""Access codes: a school admin issues one student's code or a class sheet; new codes sign in,
old ones stop working; nobody else may issue them."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from screening.core.models import AuditEvent
from tests.conftest import ACCESS_CODE

TOKEN = "/api/v1/auth/token/"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def student_sign_in(api: Any, school_code: str, number: str, code: str) -> int:
    api.credentials()
    api.force_authenticate(user=None)
    response = api.post(TOKEN, {"school_code": school_code, "number": number, "access_code": code}, format="json")
    return response.status_code


def test_a_reissued_code_signs_in_and_the_old_one_stops_working(cast, api):
    response = api.as_(cast.diana).post(f"/api/v1/students/{cast.hamlet.public_id}/access-code/")

    assert response.status_code == 200
    body = response.json()
    assert body["public_id"] == cast.hamlet.public_id
    new_code = body["access_code"]
    assert new_code != ACCESS_CODE
    assert student_sign_in(api, "DSJH", "D0001", new_code) == 200
    assert student_sign_in(api, "DSJH", "D0001", ACCESS_CODE) == 400
    assert AuditEvent.objects.filter(action="update", object_type="access_code",
                                     student_public_id=cast.hamlet.public_id, actor_username="diana").exists()


def test_the_code_is_shown_once_and_only_its_hash_is_kept(cast, api):
    code = api.as_(cast.diana).post(f"/api/v1/students/{cast.hamlet.public_id}/access-code/").json()["access_code"]
    cast.hamlet.refresh_from_db()
    raw = code.replace("-", "")
    assert raw not in cast.hamlet.access_code_hash and code not in cast.hamlet.access_code_hash
    detail = api.as_(cast.diana).get(f"/api/v1/students/{cast.hamlet.public_id}/").json()
    assert detail["has_access_code"] is True
    assert code not in str(detail)


def read_sheet(content: bytes) -> dict[str, str]:
    """Student number → access code, from the sheet's table (the header row names the columns)."""
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    header_at = next(i for i, r in enumerate(table) if r and "School code" in [str(c) for c in r])
    header = [str(c) for c in table[header_at]]
    number, code = header.index("Student number"), header.index("Access code")
    return {str(r[number]): str(r[code]) for r in table[header_at + 1:] if r and r[number]}


def test_a_class_sheet_is_an_xlsx_whose_codes_sign_in_and_replace_the_old_ones(cast, api):
    response = api.as_(cast.diana).post(f"/api/v1/classes/{cast.ds_7_1.pk}/access-sheet/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert "attachment" in response["Content-Disposition"]
    assert cast.hamlet.name not in response["Content-Disposition"]
    codes = read_sheet(response.content)
    assert set(codes) == {"D0001"}  # only the class's students; hilda is in 7-2
    assert student_sign_in(api, "DSJH", "D0001", codes["D0001"]) == 200
    assert student_sign_in(api, "DSJH", "D0001", ACCESS_CODE) == 400
    assert student_sign_in(api, "DSJH", "D0002", ACCESS_CODE) == 200  # other classes keep their codes
    assert AuditEvent.objects.filter(action="export", object_type="access_code_sheet",
                                     student_public_id=cast.hamlet.public_id).exists()


@pytest.mark.parametrize("who", ["alice", "carol", "hamlet", "lily"])
def test_only_school_admins_may_issue_codes(cast, api, who):
    api.as_(getattr(cast, who))
    assert api.post(f"/api/v1/students/{cast.hamlet.public_id}/access-code/").status_code == 403
    assert api.post(f"/api/v1/classes/{cast.ds_7_1.pk}/access-sheet/").status_code == 403
    assert student_sign_in(api, "DSJH", "D0001", ACCESS_CODE) == 200


def test_another_schools_admin_cannot_issue_codes_here(cast, api):
    api.as_(cast.edgar)
    assert api.post(f"/api/v1/students/{cast.hamlet.public_id}/access-code/").status_code == 404
    assert api.post(f"/api/v1/classes/{cast.ds_7_1.pk}/access-sheet/").status_code == 404
    assert student_sign_in(api, "DSJH", "D0001", ACCESS_CODE) == 200
