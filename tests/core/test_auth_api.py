"""Signing in over the API: staff by password, students by access code, lockout after failures."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from screening.core.models import AuditEvent
from tests.conftest import ACCESS_CODE, STAFF_PASSWORD

TOKEN = "/api/v1/auth/token/"


def sign_in(api: Any, **credentials: str) -> Any:
    return api.post(TOKEN, credentials, format="json")


def assert_bad_credentials(response: Any) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "bad_credentials"
    assert set(error) == {"code", "message", "fields"}


def test_staff_get_a_token_with_username_and_password_and_it_works_on_me(cast, api):
    response = sign_in(api, username="diana", password=STAFF_PASSWORD)
    assert response.status_code == 200
    assert response.json()["role"] == "school_admin"

    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    me = api.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "diana"
    assert me.json()["schools"] == [cast.dongshan.pk]


def test_students_get_a_token_with_school_code_number_and_access_code(cast, api):
    response = sign_in(api, school_code="DSJH", number="D0001", access_code=ACCESS_CODE)
    assert response.status_code == 200
    assert response.json()["role"] == "student"

    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.get("/api/v1/me/").json()["student_public_id"] == cast.hamlet.public_id


def test_access_codes_forgive_case_and_missing_hyphen(cast, api):
    response = sign_in(api, school_code="dsjh", number="D0001", access_code=ACCESS_CODE.lower().replace("-", ""))
    assert response.status_code == 200


def test_wrong_password_is_a_400_in_the_error_shape_and_is_logged(cast, api):
    assert_bad_credentials(sign_in(api, username="diana", password="wrong-password"))
    assert AuditEvent.objects.filter(action="login_failed", actor_username="diana").exists()


def test_wrong_access_code_and_unknown_student_look_the_same(cast, api):
    wrong_code = sign_in(api, school_code="DSJH", number="D0001", access_code="ZZZZZ-ZZZZZ")
    unknown = sign_in(api, school_code="DSJH", number="D9999", access_code=ACCESS_CODE)
    assert_bad_credentials(wrong_code)
    assert_bad_credentials(unknown)
    assert wrong_code.json() == unknown.json()


def test_missing_or_mixed_credentials_name_the_fields(cast, api):
    missing = sign_in(api, username="diana")
    assert missing.status_code == 400
    assert set(missing.json()["error"]["fields"]) == {"password"}

    mixed = sign_in(api, username="diana", password=STAFF_PASSWORD, school_code="DSJH")
    assert mixed.status_code == 400
    assert "non_field_errors" in mixed.json()["error"]["fields"]


def test_a_roleless_user_may_sign_in_but_sees_nothing(cast, api):
    response = sign_in(api, username="nobody", password=STAFF_PASSWORD)
    assert response.status_code == 200
    assert response.json()["role"] is None


def test_repeated_failures_lock_the_account_even_against_the_right_password(cast, api):
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5
    for _ in range(limit - 1):
        assert_bad_credentials(sign_in(api, username="alice", password="wrong-password"))
    locked = sign_in(api, username="alice", password="wrong-password")
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "locked_out"

    right = sign_in(api, username="alice", password=STAFF_PASSWORD)
    assert right.status_code == 429
    assert right.json()["error"]["code"] == "locked_out"
    assert set(right.json()["error"]) == {"code", "message", "fields"}
    assert "token" not in right.json()


def test_lockout_is_per_sign_in_name_not_per_school(cast, api):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(api, school_code="DSJH", number="D0001", access_code="ZZZZZ-ZZZZZ")
    assert sign_in(api, school_code="DSJH", number="D0001", access_code=ACCESS_CODE).status_code == 429
    # hilda signs in from the same address (the school's NAT) and is not locked out.
    assert sign_in(api, school_code="DSJH", number="D0002", access_code=ACCESS_CODE).status_code == 200


def test_a_successful_sign_in_resets_the_failure_count(cast, api):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(api, username="bob", password="wrong-password")
    assert sign_in(api, username="bob", password=STAFF_PASSWORD).status_code == 200
    assert_bad_credentials(sign_in(api, username="bob", password="wrong-password"))


def test_logout_revokes_the_token(cast, api):
    token = sign_in(api, username="diana", password=STAFF_PASSWORD).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.post("/api/v1/auth/logout/").status_code == 204

    after = api.get("/api/v1/me/")
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "authentication_failed"


def test_a_deactivated_staff_members_token_stops_working(cast, api):
    token = sign_in(api, username="alice", password=STAFF_PASSWORD).json()["token"]
    cast.alice.is_active = False
    cast.alice.save(update_fields=["is_active"])
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/students/").status_code == 401


def test_token_sign_in_and_logout_are_in_the_audit_log(cast, api):
    token = sign_in(api, school_code="DSJH", number="D0001", access_code=ACCESS_CODE).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    api.post("/api/v1/auth/logout/")
    events = AuditEvent.objects.filter(actor_username=f"student-{cast.hamlet.public_id}")
    assert set(events.values_list("action", flat=True)) == {"login", "logout"}
    assert set(events.values_list("school_id", flat=True)) == {cast.dongshan.pk}
