"""Bad input gets a 400 or 404 in the one error shape, in the user's language, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from screening.directory.models import Student

V1 = "/api/v1"


def assert_error_shape(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in body["error"]["fields"].values())
    return body["error"]


def test_malformed_json_is_a_400_parse_error(cast, api):
    response = api.as_(cast.diana).generic(
        "POST", f"{V1}/students/", '{"name": "x",', content_type="application/json"
    )
    assert assert_error_shape(response, 400)["code"] == "parse_error"


def test_wrong_types_name_every_bad_field(cast, api):
    response = api.as_(cast.diana).post(
        f"{V1}/students/",
        {"school_class": "seven", "number": ["D1"], "name": {"x": 1}, "birth_date": 20130101, "gender": "robot"},
        format="json",
    )
    error = assert_error_shape(response, 400)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"school_class", "number", "name", "birth_date", "gender"}


def test_a_json_list_instead_of_an_object_is_a_400(cast, api):
    response = api.as_(cast.diana).post(f"{V1}/students/", [1, 2], format="json")
    assert "non_field_errors" in assert_error_shape(response, 400)["fields"]


def test_unknown_fields_are_ignored_and_cannot_set_protected_values(cast, api):
    response = api.as_(cast.diana).post(
        f"{V1}/students/",
        {"school_class": cast.ds_7_1.pk, "number": "D0200", "name": "新同学", "birth_date": "2013-05-01",
         "school": cast.xishan.pk, "public_id": "SAAAAAAAAAAA", "is_active": False, "access_code_hash": "x",
         "favourite_colour": "blue"},
        format="json",
    )
    assert response.status_code == 201, response.content
    student = Student.objects.get(number="D0200")
    assert (student.school, student.is_active) == (cast.dongshan, True)
    assert student.public_id != "SAAAAAAAAAAA"
    assert student.access_code_hash not in ("", "x")


def test_an_implausible_birth_date_is_refused_with_a_field_message(cast, api):
    response = api.as_(cast.diana).post(
        f"{V1}/students/",
        {"school_class": cast.ds_7_1.pk, "number": "D0201", "name": "新同学", "birth_date": "1900-01-01"},
        format="json",
    )
    assert set(assert_error_shape(response, 400)["fields"]) == {"birth_date"}


def test_a_duplicate_student_number_is_a_field_error_not_a_500(cast, api):
    response = api.as_(cast.diana).post(
        f"{V1}/students/",
        {"school_class": cast.ds_7_2.pk, "number": cast.hamlet.number, "name": "重号", "birth_date": "2013-05-01"},
        format="json",
    )
    assert set(assert_error_shape(response, 400)["fields"]) == {"number"}


@pytest.mark.parametrize("page_size", ["100000", "-1", "abc", "0"])
def test_odd_page_sizes_are_capped_or_ignored(cast, api, page_size):
    response = api.as_(cast.diana).get(f"{V1}/students/?page_size={page_size}")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2


def test_a_page_past_the_end_is_a_404_in_the_error_shape(cast, api):
    assert assert_error_shape(api.as_(cast.diana).get(f"{V1}/students/?page=99"), 404)["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    ["classes/abc/", "classes/99999999999999999999999/", "schools/-1/", "regions/1.5/", "memberships/%00/",
     "roster-imports/abc/", "audit-events/abc/", "students/not-a-public-id/", "students/%00/", "hospitals/%20/"],
)
def test_non_numeric_or_absurd_ids_are_a_404_in_the_error_shape(cast, api, path):
    response = api.as_(cast.diana).get(f"{V1}/{path}")
    assert assert_error_shape(response, 404)["code"] == "not_found"


@pytest.mark.parametrize(
    ("query", "field"),
    [("school_class=abc", "school_class"), ("grade=seven", "grade"), ("gender=robot", "gender"), ("q=%00", "q"),
     ("school_class=99999999999999999999", "school_class")],
)
def test_bad_filters_are_a_400_naming_the_filter(cast, api, query, field):
    response = api.as_(cast.diana).get(f"{V1}/students/?{query}")
    assert set(assert_error_shape(response, 400)["fields"]) == {field}


def test_an_unreadable_yes_no_filter_is_ignored(cast, api):
    response = api.as_(cast.diana).get(f"{V1}/students/?is_active=maybe")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2


@pytest.mark.parametrize(
    "query", ["since=yesterday", "until=2026-13-45", "action=%00", "since=0001-01-01T00:00:00%2B05:00"]
)
def test_bad_audit_filters_are_a_400_never_a_500(cast, api, query):
    assert_error_shape(api.as_(cast.diana).get(f"{V1}/audit-events/?{query}"), 400)


def test_audit_filters_accept_any_iso_offset_postgres_cannot_store(cast, api):
    """ISO 8601 allows offsets to ±23:59; PostgreSQL only to ±15:59 (this was a 500)."""
    response = api.as_(cast.diana).get(f"{V1}/audit-events/?until=2020-02-08T04:20:22%2B19:39")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_method_the_endpoint_does_not_offer_is_a_405_in_the_error_shape(cast, api):
    response = api.as_(cast.diana).delete(f"{V1}/students/{cast.hamlet.public_id}/")
    assert assert_error_shape(response, 405)["code"] == "method_not_allowed"
    assert Student.objects.filter(pk=cast.hamlet.pk).exists()


def test_not_signed_in_is_a_401_in_the_error_shape(cast, api):
    response = api.get(f"{V1}/students/")
    assert assert_error_shape(response, 401)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Token")


def test_a_bad_token_is_a_401(cast, api):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert assert_error_shape(api.get(f"{V1}/me/"), 401)["code"] == "authentication_failed"


# --- language --------------------------------------------------------------------------------


def required_message(api: Any, language: str) -> tuple[dict[str, Any], str]:
    response = api.post(f"{V1}/students/", {}, format="json", HTTP_ACCEPT_LANGUAGE=language)
    error = assert_error_shape(response, 400)
    return error, error["fields"]["name"][0]


def test_field_messages_follow_the_users_language(cast, api):
    api.as_(cast.diana)
    en_error, en = required_message(api, "en")
    zh_error, zh = required_message(api, "zh-hans")

    assert en == "This field is required."
    # DRF ships this message translated; our own catalogue is not needed for it.
    assert zh == "该字段是必填项。"
    assert en_error["code"] == zh_error["code"] == "invalid"
    assert set(en_error["fields"]) == set(zh_error["fields"]) == {"school_class", "number", "name", "birth_date"}


def test_not_found_message_follows_the_users_language(cast, api):
    api.as_(cast.alice)
    en = api.get(f"{V1}/students/{cast.cordelia.public_id}/", HTTP_ACCEPT_LANGUAGE="en").json()["error"]
    zh = api.get(f"{V1}/students/{cast.cordelia.public_id}/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()["error"]
    assert en["message"] == "Not found."
    assert zh["message"] == "未找到。"  # Django's own zh-hans catalogue
    assert en["code"] == zh["code"] == "not_found"


def test_our_own_messages_keep_their_shape_in_both_languages(cast, api):
    """The summary message is ours, translated by the project catalogue."""
    api.as_(cast.diana)
    en_error, _ = required_message(api, "en")
    zh_error, _ = required_message(api, "zh-hans")
    assert en_error["message"] == "Some fields are not valid."
    assert zh_error["message"] == "部分字段填写有误。"


def test_an_unknown_api_path_is_a_404_in_the_error_shape(cast, api):
    response = api.as_(cast.diana).get(f"{V1}/no-such-endpoint/")
    assert assert_error_shape(response, 404)["code"] == "not_found"
