"""Ownership, endpoint by endpoint: the outsider gets a 404 and the list leaves their rows out.

An out-of-scope id answers exactly like a missing one (DESIGN.md §4), and the attempt is still
written to the audit log. Roles a whole endpoint is not for get a 403 before any lookup, for
existing and missing ids alike, so nothing is learnt from it either.
"""

from __future__ import annotations

from typing import Any

import pytest

from screening.core.models import AuditEvent
from screening.directory.models import Membership, RosterImport, Student
from tests.conftest import ACCESS_CODE

V1 = "/api/v1"


def rows(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def numbers(response: Any) -> set[str]:
    return {row["number"] for row in rows(response)}


def ids(response: Any) -> set[Any]:
    return {row["id"] for row in rows(response)}


def assert_not_found(response: Any) -> None:
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"


# --- students ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("alice", {"D0001", "D0002"}),
        ("diana", {"D0001", "D0002"}),
        ("carol", {"D0001"}),
        ("bob", {"X0001"}),
        ("edgar", {"X0001"}),
        ("lily", set()),
        ("liam", set()),
        ("olga", set()),
        ("hamlet", {"D0001"}),
        ("cordelia", {"X0001"}),
    ],
)
def test_student_list_shows_only_the_students_each_person_covers(cast, api, who, expected):
    assert numbers(api.as_(getattr(cast, who)).get(f"{V1}/students/")) == expected


def test_counsellor_opening_another_schools_student_gets_not_found_and_the_attempt_is_logged(cast, api):
    response = api.as_(cast.alice).get(f"{V1}/students/{cast.cordelia.public_id}/")

    assert response.status_code == 404
    body = response.json()
    assert body["error"]["code"] == "not_found"
    assert set(body["error"]) == {"code", "message", "fields"}
    assert cast.cordelia.name not in response.content.decode()
    assert AuditEvent.objects.filter(
        action="denied", student_public_id=cast.cordelia.public_id, actor_username="alice"
    ).exists()


def test_out_of_scope_student_looks_exactly_like_a_missing_one(cast, api):
    api.as_(cast.alice)
    outsider = api.get(f"{V1}/students/{cast.cordelia.public_id}/")
    missing = api.get(f"{V1}/students/SZZZZZZZZZZZ/")
    assert (outsider.status_code, outsider.json()) == (missing.status_code, missing.json())


def test_a_user_with_no_role_is_refused_the_student_list_outright(cast, api):
    response = api.as_(cast.nobody).get(f"{V1}/students/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "results" not in response.json()


@pytest.mark.parametrize(
    ("who", "own", "other"),
    [("alice", "hilda", "cordelia"), ("carol", "hamlet", "hilda"), ("bob", "cordelia", "hamlet"),
     ("hamlet", "hamlet", "hilda"), ("cordelia", "cordelia", "hamlet")],
)
def test_student_detail_opens_for_the_covered_student_only(cast, api, who, own, other):
    api.as_(getattr(cast, who))
    assert api.get(f"{V1}/students/{getattr(cast, own).public_id}/").status_code == 200
    assert_not_found(api.get(f"{V1}/students/{getattr(cast, other).public_id}/"))


@pytest.mark.parametrize("who", ["lily", "liam", "olga", "nobody"])
def test_liaisons_analysts_and_roleless_users_cannot_open_any_student(cast, api, who):
    api.as_(getattr(cast, who))
    for student in (cast.hamlet, cast.cordelia):
        response = api.get(f"{V1}/students/{student.public_id}/")
        assert response.status_code in (403, 404)
        assert "error" in response.json()
        assert student.name not in response.content.decode()


def test_school_admin_cannot_attach_a_student_to_another_schools_class(cast, api):
    before = Student.objects.count()
    response = api.as_(cast.diana).post(
        f"{V1}/students/",
        {"school_class": cast.xs_10_1.pk, "number": "D0100", "name": "新同学", "birth_date": "2013-05-01"},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"school_class"}
    assert Student.objects.count() == before
    assert AuditEvent.objects.filter(
        action="denied", actor_username="diana", object_type="directory.SchoolClass", object_id=str(cast.xs_10_1.pk)
    ).exists()


def test_school_admin_adds_a_student_to_their_own_school(cast, api):
    response = api.as_(cast.diana).post(
        f"{V1}/students/",
        {"school_class": cast.ds_7_2.pk, "number": "D0100", "name": "新同学", "birth_date": "2013-05-01"},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = Student.objects.get(public_id=response.json()["public_id"])
    assert created.school == cast.dongshan
    assert response.json()["access_code"]


def test_counsellor_may_not_add_students_even_in_their_own_school(cast, api):
    before = Student.objects.count()
    response = api.as_(cast.alice).post(
        f"{V1}/students/",
        {"school_class": cast.ds_7_1.pk, "number": "D0100", "name": "新同学", "birth_date": "2013-05-01"},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] in {"permission_denied", "forbidden"}
    assert Student.objects.count() == before


def test_school_admin_changing_another_schools_student_gets_not_found_and_nothing_changes(cast, api):
    response = api.as_(cast.diana).patch(f"{V1}/students/{cast.cordelia.public_id}/", {"name": "改名"}, format="json")
    assert_not_found(response)
    cast.cordelia.refresh_from_db()
    assert cast.cordelia.name == "陈可儿"


def test_school_admin_cannot_move_own_student_into_another_schools_class(cast, api):
    response = api.as_(cast.diana).patch(
        f"{V1}/students/{cast.hamlet.public_id}/", {"school_class": cast.xs_10_1.pk}, format="json"
    )
    assert response.status_code == 400
    assert "school_class" in response.json()["error"]["fields"]
    cast.hamlet.refresh_from_db()
    assert cast.hamlet.school_class == cast.ds_7_1


def test_student_cannot_change_their_own_record(cast, api):
    response = api.as_(cast.hamlet).patch(f"{V1}/students/{cast.hamlet.public_id}/", {"name": "x"}, format="json")
    assert response.status_code == 403
    cast.hamlet.refresh_from_db()
    assert cast.hamlet.name == "韩小明"


# --- schools, classes, regions, hospitals --------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("alice", {"DSJH"}), ("carol", {"DSJH"}), ("diana", {"DSJH"}), ("bob", {"XSSH"}), ("edgar", {"XSSH"}),
        ("olga", {"DSJH"}), ("hamlet", {"DSJH"}), ("cordelia", {"XSSH"}),
        ("lily", set()), ("nobody", set()),
    ],
)
def test_school_list_shows_own_schools_and_for_analysts_their_region(cast, api, who, expected):
    response = api.as_(getattr(cast, who)).get(f"{V1}/schools/")
    assert {row["code"] for row in rows(response)} == expected


@pytest.mark.parametrize(("who", "outside"), [("alice", "xishan"), ("olga", "xishan"), ("bob", "dongshan"),
                                               ("hamlet", "xishan"), ("lily", "dongshan")])
def test_school_outside_ones_reach_is_not_found(cast, api, who, outside):
    assert_not_found(api.as_(getattr(cast, who)).get(f"{V1}/schools/{getattr(cast, outside).pk}/"))


def test_analyst_opens_a_school_in_their_region(cast, api):
    response = api.as_(cast.olga).get(f"{V1}/schools/{cast.dongshan.pk}/")
    assert response.status_code == 200
    assert response.json()["code"] == "DSJH"


@pytest.mark.parametrize(
    ("who", "expected"),
    [("alice", {"ds_7_1", "ds_7_2"}), ("diana", {"ds_7_1", "ds_7_2"}), ("carol", {"ds_7_1"}), ("bob", {"xs_10_1"}),
     ("lily", set()), ("olga", set())],
)
def test_class_list_shows_only_covered_classes(cast, api, who, expected):
    response = api.as_(getattr(cast, who)).get(f"{V1}/classes/")
    assert ids(response) == {getattr(cast, name).pk for name in expected}


def test_class_list_counts_active_students(cast, api):
    response = api.as_(cast.diana).get(f"{V1}/classes/")
    counts = {row["id"]: row["student_count"] for row in rows(response)}
    assert counts == {cast.ds_7_1.pk: 1, cast.ds_7_2.pk: 1}


@pytest.mark.parametrize(("who", "outside"), [("alice", "xs_10_1"), ("carol", "ds_7_2"), ("bob", "ds_7_1"),
                                               ("diana", "xs_10_1")])
def test_class_outside_ones_reach_is_not_found(cast, api, who, outside):
    assert_not_found(api.as_(getattr(cast, who)).get(f"{V1}/classes/{getattr(cast, outside).pk}/"))


def _a_risk_model(cast: Any) -> int:
    from tests.riskmodels.risk_helpers import register

    return register(cast, school=cast.dongshan).pk


@pytest.mark.parametrize("endpoint", ["regions", "hospitals", "classes", "risk-models"])
def test_staff_only_endpoints_refuse_students_and_roleless_users_for_existing_and_missing_ids(cast, api, endpoint,
                                                                                              tmp_path, settings):
    settings.DATA_DIR = tmp_path
    existing = {"regions": lambda: cast.east.pk, "hospitals": lambda: cast.kangning.pk, "classes": lambda: cast.ds_7_1.pk,
                "risk-models": lambda: _a_risk_model(cast)}[endpoint]()
    for who in (cast.hamlet, cast.nobody):
        api.as_(who)
        assert api.get(f"{V1}/{endpoint}/").status_code == 403
        found, missing = api.get(f"{V1}/{endpoint}/{existing}/"), api.get(f"{V1}/{endpoint}/999999/")
        assert found.status_code == missing.status_code == 403
        assert found.json() == missing.json()


@pytest.mark.parametrize("who", ["alice", "lily", "olga", "edgar"])
def test_regions_and_hospitals_are_reference_data_for_all_staff(cast, api, who):
    api.as_(getattr(cast, who))
    assert {row["code"] for row in rows(api.get(f"{V1}/hospitals/"))} == {"KNH", "ADH"}
    assert len(rows(api.get(f"{V1}/regions/"))) == 4
    assert api.get(f"{V1}/hospitals/{cast.anding.pk}/").status_code == 200


# --- memberships ----------------------------------------------------------------------------


def membership_users(response: Any) -> set[str]:
    return {row["username"] for row in rows(response)}


@pytest.mark.parametrize(
    ("who", "expected"),
    [("alice", {"alice"}), ("lily", {"lily"}), ("olga", {"olga"}), ("diana", {"alice", "carol", "diana"}),
     ("edgar", {"bob", "edgar"}), ("nobody", set()), ("hamlet", set())],
)
def test_membership_list_shows_own_and_for_admins_their_schools_staff(cast, api, who, expected):
    assert membership_users(api.as_(getattr(cast, who)).get(f"{V1}/memberships/")) == expected


@pytest.mark.parametrize(("who", "whose"), [("diana", "bob"), ("alice", "carol"), ("lily", "liam"), ("edgar", "diana")])
def test_someone_elses_membership_is_not_found(cast, api, who, whose):
    membership = Membership.objects.get(user=getattr(cast, whose))
    assert_not_found(api.as_(getattr(cast, who)).get(f"{V1}/memberships/{membership.pk}/"))


# --- roster imports -------------------------------------------------------------------------


ROSTER_CSV = "学号,姓名,性别,出生日期,年级,班级\nD0500,王同学,男,2013-03-04,7,初一(3)班\n".encode()


@pytest.fixture
def dongshan_import(cast: Any, api: Any) -> int:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("roster.csv", ROSTER_CSV, content_type="text/csv")
    response = api.as_(cast.diana).post(f"{V1}/roster-imports/", {"school": cast.dongshan.pk, "file": upload})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_roster_imports_are_seen_by_their_schools_admin_only(cast, api, dongshan_import):
    assert ids(api.as_(cast.diana).get(f"{V1}/roster-imports/")) == {dongshan_import}
    assert ids(api.as_(cast.edgar).get(f"{V1}/roster-imports/")) == set()
    assert_not_found(api.as_(cast.edgar).get(f"{V1}/roster-imports/{dongshan_import}/"))


def test_another_schools_admin_cannot_apply_a_roster(cast, api, dongshan_import):
    assert_not_found(api.as_(cast.edgar).post(f"{V1}/roster-imports/{dongshan_import}/apply/"))
    assert RosterImport.objects.get(pk=dongshan_import).status == "preview"
    assert not Student.objects.filter(number="D0500").exists()


@pytest.mark.parametrize("who", ["alice", "carol", "lily", "olga", "hamlet", "nobody"])
def test_roster_imports_are_refused_to_everyone_but_school_admins(cast, api, dongshan_import, who):
    """The code refuses these roles outright (403), before any lookup: lists and details alike."""
    api.as_(getattr(cast, who))
    assert api.get(f"{V1}/roster-imports/").status_code == 403
    assert api.get(f"{V1}/roster-imports/{dongshan_import}/").status_code == 403
    assert api.post(f"{V1}/roster-imports/{dongshan_import}/apply/").status_code == 403
    assert RosterImport.objects.get(pk=dongshan_import).status == "preview"


# --- audit events ---------------------------------------------------------------------------


def test_audit_log_shows_a_school_admin_only_their_schools_entries(cast, api):
    api.as_(cast.alice).get(f"{V1}/students/{cast.hamlet.public_id}/")
    api.as_(cast.bob).get(f"{V1}/students/{cast.cordelia.public_id}/")

    entries = rows(api.as_(cast.diana).get(f"{V1}/audit-events/"))
    assert {e["student_public_id"] for e in entries} == {cast.hamlet.public_id}
    xishan_entry = AuditEvent.objects.filter(student_public_id=cast.cordelia.public_id).first()
    assert_not_found(api.as_(cast.diana).get(f"{V1}/audit-events/{xishan_entry.pk}/"))


@pytest.mark.parametrize("who", ["alice", "lily", "olga", "hamlet", "nobody"])
def test_audit_log_is_refused_to_everyone_but_school_admins(cast, api, who):
    api.as_(cast.alice).get(f"{V1}/students/{cast.hamlet.public_id}/")
    entry = AuditEvent.objects.filter(student_public_id=cast.hamlet.public_id).first()
    api.as_(getattr(cast, who))
    assert api.get(f"{V1}/audit-events/").status_code == 403
    assert api.get(f"{V1}/audit-events/{entry.pk}/").status_code == 403
    assert api.get(f"{V1}/audit-events/export/").status_code == 403


# --- cases, escalations and measures (the counsellor workspace) ----------------------------------


@pytest.fixture
def flagged(cast: Any) -> dict[str, Any]:
    """A red case on hilda (7-2), a yellow one on hamlet (7-1), an orange one on cordelia (Xishan),
    each with its escalation (the timers run past every limit)."""
    import datetime as dt

    from django.utils import timezone

    from screening.cases.models import Case
    from screening.cases.services.escalation import escalations_run
    from tests.cases.case_helpers import flag

    for student, tier in ((cast.hilda, "red"), (cast.hamlet, "yellow"), (cast.cordelia, "orange")):
        flag(cast, student, tier)
    escalations_run(now=timezone.now() + dt.timedelta(days=8))
    return {name: Case.objects.get(student=getattr(cast, name)) for name in ("hamlet", "hilda", "cordelia")}


def case_students(response: Any) -> set[str]:
    return {row["student"] for row in rows(response)}


WORKSPACE_SEES = [
    ("alice", {"hamlet", "hilda"}), ("diana", {"hamlet", "hilda"}), ("carol", {"hamlet"}), ("bob", {"cordelia"}),
    ("edgar", {"cordelia"}), ("lily", set()), ("liam", set()), ("olga", set()),
]


@pytest.mark.parametrize(("who", "expected"), WORKSPACE_SEES)
@pytest.mark.parametrize("endpoint", ["cases", "escalations"])
def test_case_and_escalation_lists_show_only_the_students_each_person_covers(cast, api, flagged, who, expected,
                                                                              endpoint):
    response = api.as_(getattr(cast, who)).get(f"{V1}/{endpoint}/")
    assert case_students(response) == {getattr(cast, name).public_id for name in expected}


@pytest.mark.parametrize(("who", "expected"), WORKSPACE_SEES)
def test_a_case_outside_ones_cover_is_not_found_on_every_case_endpoint(cast, api, flagged, who, expected):
    api.as_(getattr(cast, who))
    for name, case in flagged.items():
        for suffix in ("", "contacts/", "follow-ups/", "plan/", "timeline/"):
            response = api.get(f"{V1}/cases/{case.pk}/{suffix}")
            if name in expected:
                assert response.status_code == 200, (name, suffix)
            else:
                assert_not_found(response)
                assert getattr(cast, name).name not in response.content.decode()


@pytest.fixture
def risk_scored(cast: Any, tmp_path: Any, settings: Any) -> dict[str, Any]:
    """With a model active for everyone, hilda (7-2), hamlet (7-1) and cordelia (Xishan) each submit:
    their risk scores, by name."""
    from screening.riskmodels.models import RiskScore
    from tests.cases.case_helpers import flag
    from tests.riskmodels.risk_helpers import register

    settings.DATA_DIR = tmp_path
    register(cast, activate=True)
    return {name: RiskScore.objects.get(submission=flag(cast, getattr(cast, name), tier, exact=False))
            for name, tier in (("hilda", "red"), ("hamlet", "yellow"), ("cordelia", "orange"))}


@pytest.mark.parametrize(("who", "expected"), WORKSPACE_SEES)
def test_a_risk_score_outside_ones_cover_is_not_found(cast, api, risk_scored, who, expected):
    api.as_(getattr(cast, who))
    assert {row["student"] for row in rows(api.get(f"{V1}/risk-scores/"))} == {
        getattr(cast, name).public_id for name in expected}
    for name, score in risk_scored.items():
        response = api.get(f"{V1}/risk-scores/{score.pk}/")
        if name in expected:
            assert response.status_code == 200, name
        else:
            assert_not_found(response)


@pytest.fixture
def referred(cast: Any, flagged: dict[str, Any]) -> dict[str, Any]:
    """Referrals of the flagged: hilda's and cordelia's sent (to Kangning and to Anding), hamlet's a
    draft to Kangning."""
    from tests.referrals.referral_helpers import referral_of

    return {"hilda": referral_of(cast, cast.hilda, send=True)[2],
            "cordelia": referral_of(cast, cast.cordelia, hospital=cast.anding, send=True)[2],
            "hamlet": referral_of(cast, cast.hamlet)[2]}


REFERRALS_SEEN = [
    ("alice", {"hamlet", "hilda"}), ("diana", {"hamlet", "hilda"}), ("carol", {"hamlet"}), ("bob", {"cordelia"}),
    ("edgar", {"cordelia"}), ("lily", {"hilda"}), ("liam", {"cordelia"}), ("olga", set()),
]


@pytest.mark.parametrize(("who", "expected"), REFERRALS_SEEN)
def test_referrals_outside_ones_cover_or_hospital_are_not_found(cast, api, referred, who, expected):
    """Staff see the referrals of the students they cover; a liaison, their hospital's once sent."""
    api.as_(getattr(cast, who))
    assert ids(api.get(f"{V1}/referrals/")) == {referred[name].pk for name in expected}
    for name, referral in referred.items():
        for suffix in ("", "events/"):
            response = api.get(f"{V1}/referrals/{referral.pk}/{suffix}")
            if name in expected:
                assert response.status_code == 200, (name, suffix)
            else:
                assert_not_found(response)
                assert getattr(cast, name).name not in response.content.decode()


@pytest.mark.parametrize(("who", "expected"), [(w, e) for w, e in REFERRALS_SEEN if w not in ("lily", "liam")])
def test_consents_to_share_outside_ones_cover_are_not_found(cast, api, referred, who, expected):
    from screening.referrals.models import SharingConsent

    api.as_(getattr(cast, who))
    consents = {c.student.name: c for c in SharingConsent.objects.select_related("student")}
    assert ids(api.get(f"{V1}/sharing-consents/")) == {consents[getattr(cast, n).name].pk for n in expected}
    for name in ("hamlet", "hilda", "cordelia"):
        response = api.get(f"{V1}/sharing-consents/{consents[getattr(cast, name).name].pk}/")
        assert response.status_code == (200 if name in expected else 404), name


@pytest.mark.parametrize("who", ["alice", "carol", "bob", "diana"])
def test_a_counsellor_cannot_act_on_a_case_or_alert_they_do_not_cover(cast, api, flagged, who):
    from screening.campaigns.models import CrisisAlert
    from screening.cases.models import CaseEvent

    outside = {"alice": "cordelia", "carol": "hilda", "bob": "hilda", "diana": "cordelia"}[who]
    case = flagged[outside]
    api.as_(getattr(cast, who))
    before = CaseEvent.objects.filter(case=case).count()
    for action, body in (("contacts", {"at": "2030-01-01T00:00:00Z", "method": "phone", "participants": ["student"]}),
                         ("plan", {"dates": ["2030-01-01"]}), ("move", {"status": "monitoring"}),
                         ("close", {"reason": "no_current_need"})):
        assert_not_found(api.post(f"{V1}/cases/{case.pk}/{action}/", body, format="json"))
    alert = CrisisAlert.objects.filter(student=case.student).first()
    if alert is not None:
        assert_not_found(api.post(f"{V1}/alerts/{alert.pk}/acknowledge/"))
    assert CaseEvent.objects.filter(case=case).count() == before
    assert AuditEvent.objects.filter(action="denied", actor_username=who, object_type="cases.Case",
                                     student_public_id=case.student.public_id).exists()


@pytest.mark.parametrize(("who", "schools"), [("alice", {"dongshan"}), ("carol", {"dongshan"}), ("edgar", {"xishan"}),
                                              ("lily", set()), ("olga", set())])
def test_measures_are_given_only_for_schools_where_one_works_cases(cast, api, flagged, who, schools):
    response = api.as_(getattr(cast, who)).get(f"{V1}/kpis/")
    assert {row["school"] for row in rows(response)} == {getattr(cast, s).pk for s in schools}


# --- me and sign-in ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "role", "schools"),
    [("alice", "counsellor", ["dongshan"]), ("edgar", "school_admin", ["xishan"]), ("lily", "hospital_liaison", []),
     ("olga", "bureau_analyst", []), ("nobody", None, [])],
)
def test_me_describes_the_caller_and_no_one_else(cast, api, who, role, schools):
    body = api.as_(getattr(cast, who)).get(f"{V1}/me/").json()
    assert body["username"] == who
    assert body["role"] == role
    assert body["schools"] == [getattr(cast, s).pk for s in schools]
    assert body["student_public_id"] is None


def test_me_for_a_student_gives_their_own_public_id_only(cast, api):
    body = api.as_(cast.hamlet).get(f"{V1}/me/").json()
    assert body["role"] == "student"
    assert body["student_public_id"] == cast.hamlet.public_id
    assert cast.hilda.public_id not in str(body)


def test_me_needs_a_signed_in_user(api, cast):
    response = api.get(f"{V1}/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_students_code_does_not_sign_in_at_another_school(cast, api):
    response = api.post(
        f"{V1}/auth/token/", {"school_code": "XSSH", "number": cast.hamlet.number, "access_code": ACCESS_CODE},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_credentials"


def test_a_token_speaks_for_its_own_user_only(cast, api):
    token = api.post(
        f"{V1}/auth/token/", {"school_code": "DSJH", "number": cast.hamlet.number, "access_code": ACCESS_CODE},
        format="json",
    ).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert numbers(api.get(f"{V1}/students/")) == {"D0001"}
    assert_not_found(api.get(f"{V1}/students/{cast.hilda.public_id}/"))
