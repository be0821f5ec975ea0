"""Referrals through the API: agreements, consents to share, the whole loop on both sides, what a
liaison sees of the packet, who may take which step, and the audit of every read."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from screening.core.models import AuditEvent
from screening.referrals.models import Agreement, Referral
from tests.cases.case_helpers import case_of, flag

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
LIMITS = {"red": {"acknowledge_hours": 2, "decide_hours": 12}, "orange": {"acknowledge_hours": 24, "decide_hours": 72}}
SECRET = "s3cret-s3cret-s3cret-s3cret-s3cret-42"


def agreement_body(cast: Any, **extra: Any) -> dict[str, Any]:
    today = timezone.localdate()
    return {"school": cast.dongshan.pk, "hospital": cast.kangning.pk, "valid_from": str(today - dt.timedelta(days=30)),
            "valid_until": str(today + dt.timedelta(days=335)), "tiers": ["red", "orange"], "limits": LIMITS,
            "packet": ["public_id", "birth_year", "tier", "reasons", "results"], "crisis_contact_name": "值班医生",
            "crisis_line": "0755-3333333", "endpoint_url": "https://his.kangning.example.org/fhir",
            "endpoint_secret": SECRET} | extra


@pytest.fixture
def agreement(cast: Any, api: Any) -> dict[str, Any]:
    response = api.as_(cast.diana).post(f"{V1}/agreements/", agreement_body(cast), format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def orange_case(cast: Any, agreement: dict[str, Any]) -> Any:
    flag(cast, cast.hamlet, "orange")
    return case_of(cast.hamlet)


def consent(cast: Any, api: Any, student: Any = None, hospital: Any = None) -> int:
    response = api.as_(cast.alice).post(f"{V1}/sharing-consents/", {
        "student": (student or cast.hamlet).public_id, "hospital": (hospital or cast.kangning).pk, "party": "guardian",
        "method": "paper", "given_at": timezone.now().isoformat(), "note": "监护人签字"}, format="json")
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def create(cast: Any, api: Any, case: Any, who: Any = None, **extra: Any) -> Any:
    body = {"case": case.pk, "hospital": cast.kangning.pk, "reason": "持续情绪低落，需专科评估", "basis": "consent"}
    if "consent" not in extra and extra.get("basis") != "emergency":
        body["consent"] = consent(cast, api, case.student)
    headers = extra.pop("headers", {})
    return api.as_(who or cast.alice).post(f"{V1}/referrals/", body | extra, format="json", headers=headers)


@pytest.fixture
def sent(cast: Any, api: Any, orange_case: Any) -> int:
    pk = create(cast, api, orange_case).json()["id"]
    assert api.as_(cast.alice).post(f"{V1}/referrals/{pk}/send/").status_code == 200
    return int(pk)


def step(api: Any, who: Any, pk: int, name: str, body: dict[str, Any] | None = None) -> Any:
    return api.as_(who).post(f"{V1}/referrals/{pk}/{name}/", body or {}, format="json")


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# --- agreements -------------------------------------------------------------------------------------


def test_an_agreement_never_shows_its_secret_and_says_whether_it_is_active(cast, api, agreement):
    assert agreement["has_endpoint_secret"] is True and "endpoint_secret" not in agreement
    assert (agreement["active"], agreement["expires_soon"]) == (True, False)
    for who in (cast.diana, cast.alice, cast.lily, cast.root):
        response = api.as_(who).get(f"{V1}/agreements/{agreement['id']}/")
        assert response.status_code == 200 and SECRET not in response.content.decode()
        assert SECRET not in api.get(f"{V1}/agreements/").content.decode()


def test_agreements_are_the_schools_and_the_hospitals_only(cast, api, agreement):
    for who, expected in (("alice", {agreement["id"]}), ("carol", {agreement["id"]}), ("lily", {agreement["id"]}),
                          ("liam", set()), ("edgar", set()), ("bob", set()), ("olga", set())):
        assert ids(api.as_(getattr(cast, who)).get(f"{V1}/agreements/")) == expected, who
    for who in (cast.liam, cast.edgar, cast.olga):
        assert api.as_(who).get(f"{V1}/agreements/{agreement['id']}/").status_code == 404
    assert api.as_(cast.hamlet).get(f"{V1}/agreements/").status_code == 403


def test_only_the_schools_head_or_a_platform_admin_records_or_changes_an_agreement(cast, api, agreement):
    pk = agreement["id"]
    assert api.as_(cast.alice).post(f"{V1}/agreements/", agreement_body(cast), format="json").status_code == 403
    assert api.as_(cast.lily).patch(f"{V1}/agreements/{pk}/", {"crisis_line": "1"}, format="json").status_code == 403
    assert api.as_(cast.edgar).patch(f"{V1}/agreements/{pk}/", {"crisis_line": "1"}, format="json").status_code == 404
    refused = api.as_(cast.edgar).post(f"{V1}/agreements/", agreement_body(cast), format="json")
    assert refused.status_code == 400 and set(refused.json()["error"]["fields"]) == {"school"}
    soon = str(timezone.localdate() + dt.timedelta(days=10))
    changed = api.as_(cast.diana).patch(f"{V1}/agreements/{pk}/", {"valid_until": soon}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["expires_soon"] is True and changed.json()["has_endpoint_secret"] is True
    assert Agreement.objects.get(pk=pk).endpoint_secret == SECRET  # left out: the one on record stays
    whole = api.as_(cast.root).put(f"{V1}/agreements/{pk}/", agreement_body(cast, endpoint_url="", endpoint_secret=""),
                                   format="json")
    assert whole.status_code == 200 and whole.json()["has_endpoint_secret"] is False
    moved = api.as_(cast.diana).patch(f"{V1}/agreements/{pk}/", {"hospital": cast.anding.pk}, format="json")
    assert moved.status_code == 400 and set(moved.json()["error"]["fields"]) == {"hospital"}


def test_an_agreement_is_checked_field_by_field(cast, api):
    response = api.as_(cast.diana).post(f"{V1}/agreements/", agreement_body(
        cast, limits={"red": {"acknowledge_hours": 5, "decide_hours": 2}, "orange": LIMITS["orange"]},
        endpoint_secret="short"), format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"limits", "endpoint_secret"}
    assert not Agreement.objects.exists()


# --- consents to share --------------------------------------------------------------------------------


def test_consents_are_recorded_and_listed_for_the_students_one_covers(cast, api):
    mine = consent(cast, api)
    hildas = consent(cast, api, cast.hilda)
    assert ids(api.as_(cast.alice).get(f"{V1}/sharing-consents/?student={cast.hamlet.public_id}")) == {mine}
    assert ids(api.as_(cast.carol).get(f"{V1}/sharing-consents/")) == {mine}
    assert api.as_(cast.carol).get(f"{V1}/sharing-consents/{hildas}/").status_code == 404
    for who in (cast.lily, cast.olga, cast.bob):
        assert ids(api.as_(who).get(f"{V1}/sharing-consents/")) == set()


def test_a_consent_for_a_student_one_does_not_cover_is_refused(cast, api):
    body = {"student": cast.hilda.public_id, "hospital": cast.kangning.pk, "party": "guardian", "method": "paper",
            "given_at": timezone.now().isoformat()}
    refused = api.as_(cast.carol).post(f"{V1}/sharing-consents/", body, format="json")
    assert refused.status_code == 400 and set(refused.json()["error"]["fields"]) == {"student"}
    assert api.as_(cast.lily).post(f"{V1}/sharing-consents/", body, format="json").status_code == 403
    under_14 = api.as_(cast.alice).post(f"{V1}/sharing-consents/", body | {"party": "student"}, format="json")
    assert under_14.status_code == 400 and set(under_14.json()["error"]["fields"]) == {"party"}


# --- the loop -------------------------------------------------------------------------------------------


def test_the_whole_loop_through_the_api(cast, api, orange_case):
    created = create(cast, api, orange_case)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["state"] == "draft" and created.json()["next_steps"] == ["sent", "cancelled"]
    assert step(api, cast.alice, pk, "send").json()["state"] == "sent"
    assert step(api, cast.lily, pk, "acknowledge", {"note": "已收到"}).json()["state"] == "acknowledged"
    assert step(api, cast.lily, pk, "accept").json()["state"] == "accepted"
    at = (timezone.now() + dt.timedelta(days=2)).isoformat()
    scheduled = step(api, cast.lily, pk, "schedule", {"at": at, "place": "康宁医院门诊三楼", "bring": "学生证"})
    assert scheduled.json()["appointment_place"] == "康宁医院门诊三楼"
    done = step(api, cast.lily, pk, "attendance", {"attended": True, "recommendation": "return_with_follow_up",
                                                   "advice": "建议学校每周随访"})
    assert (done.json()["state"], done.json()["seen"], done.json()["advice"]) == ("attended", True, "建议学校每周随访")
    assert step(api, cast.alice, pk, "close").json()["state"] == "closed"
    events = api.as_(cast.alice).get(f"{V1}/referrals/{pk}/events/").json()
    assert [(e["from"], e["to"], e["side"], e["actor"]) for e in events] == [
        ("", "draft", "school", "alice"), ("draft", "sent", "school", "alice"),
        ("sent", "acknowledged", "hospital", "lily"), ("acknowledged", "accepted", "hospital", "lily"),
        ("accepted", "scheduled", "hospital", "lily"), ("scheduled", "attended", "hospital", "lily"),
        ("attended", "closed", "school", "alice")]
    assert events[2]["note"] == "已收到"
    assert api.as_(cast.lily).get(f"{V1}/referrals/{pk}/events/").json() == events  # one timeline


def test_a_hospital_system_acts_with_its_liaisons_token(cast, api, sent):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    system = APIClient()
    system.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=cast.lily).key}")
    assert system.post(f"{V1}/referrals/{sent}/acknowledge/", {}, format="json").json()["state"] == "acknowledged"
    declined = system.post(f"{V1}/referrals/{sent}/decline/", {"reason": "no_capacity", "text": "本周已满"}, format="json")
    assert declined.status_code == 200 and declined.json()["decline_reason"] == "no_capacity"
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=cast.liam).key}")
    assert other.post(f"{V1}/referrals/{sent}/accept/", {}, format="json").status_code == 404


# --- what each person sees ------------------------------------------------------------------------------


def test_a_liaison_never_sees_a_draft_and_gets_only_the_packet(cast, api, orange_case):
    pk = create(cast, api, orange_case).json()["id"]
    assert ids(api.as_(cast.lily).get(f"{V1}/referrals/")) == set()
    assert api.get(f"{V1}/referrals/{pk}/").status_code == 404
    assert step(api, cast.lily, pk, "acknowledge").status_code == 404
    step(api, cast.alice, pk, "send")
    assert ids(api.as_(cast.lily).get(f"{V1}/referrals/")) == {pk}
    packet = api.get(f"{V1}/referrals/{pk}/")
    body, text = packet.json(), packet.content.decode()
    assert set(body["packet"]) == {"public_id", "birth_year", "tier", "reasons", "results"}  # as the agreement lists
    assert body["packet"]["public_id"] == cast.hamlet.public_id and body["packet"]["tier"] == "orange"
    assert body["packet"]["results"] and body["packet"]["reasons"]
    assert (body["student_name"], body["case"], body["consent"], body["emergency_justification"]) == (None,) * 4
    for secret in (cast.hamlet.name, cast.hamlet.number, cast.hamlet.school_class.name, "13800000000",
                   "guardian@example.org"):
        assert secret not in text
    assert cast.hamlet.name not in api.get(f"{V1}/referrals/").content.decode()
    school = api.as_(cast.alice).get(f"{V1}/referrals/{pk}/").json()
    assert school["student_name"] == cast.hamlet.name and school["case"] == orange_case.pk


@pytest.mark.parametrize(("who", "sees"), [("alice", True), ("diana", True), ("carol", True), ("lily", True),
                                           ("root", True), ("liam", False), ("bob", False), ("edgar", False),
                                           ("olga", False)])
def test_who_sees_a_sent_referral(cast, api, sent, who, sees):
    api.as_(getattr(cast, who))
    assert ids(api.get(f"{V1}/referrals/")) == ({sent} if sees else set())
    assert api.get(f"{V1}/referrals/{sent}/").status_code == (200 if sees else 404)
    assert api.get(f"{V1}/referrals/{sent}/events/").status_code == (200 if sees else 404)


def test_carol_sees_nothing_of_hildas_referral_and_students_nothing_at_all(cast, api, agreement):
    flag(cast, cast.hilda, "orange")
    pk = create(cast, api, case_of(cast.hilda)).json()["id"]
    assert ids(api.as_(cast.carol).get(f"{V1}/referrals/")) == set()
    assert api.get(f"{V1}/referrals/{pk}/").status_code == 404
    assert step(api, cast.carol, pk, "send").status_code == 404
    refused = create(cast, api, case_of(cast.hilda), who=cast.carol, consent=None)
    assert refused.status_code == 400 and "case" in refused.json()["error"]["fields"]
    for student in (cast.hamlet, cast.hilda):
        assert api.as_(student).get(f"{V1}/referrals/").status_code == 403


# --- who takes which step, and when -----------------------------------------------------------------------


def test_the_other_sides_step_is_forbidden(cast, api, sent):
    assert step(api, cast.alice, sent, "acknowledge").status_code == 403
    assert step(api, cast.alice, sent, "accept").status_code == 403
    assert step(api, cast.lily, sent, "cancel", {"note": "医院不能撤回"}).status_code == 403
    assert step(api, cast.lily, sent, "send").status_code == 403
    assert step(api, cast.olga, sent, "close").status_code == 403
    assert Referral.objects.get(pk=sent).state == "sent"


def test_a_step_the_state_does_not_allow_is_a_conflict(cast, api, sent):
    refused = step(api, cast.alice, sent, "send")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "referral_state"
    refused = step(api, cast.lily, sent, "attendance", {"attended": True, "recommendation": "outpatient"})
    assert refused.status_code == 409
    assert step(api, cast.alice, sent, "close").status_code == 409


def test_a_second_live_referral_names_the_live_one(cast, api, sent, orange_case):
    refused = create(cast, api, orange_case)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "live_referral"
    assert refused.json()["error"]["fields"] == {"referral": [str(sent)]}
    assert Referral.objects.count() == 1


def test_a_doubled_create_with_the_same_key_records_once(cast, api, orange_case):
    key = {"Idempotency-Key": "referral-attempt-1"}
    first = create(cast, api, orange_case, headers=key)
    again = create(cast, api, orange_case, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert create(cast, api, orange_case, headers={"Idempotency-Key": "another"}).status_code == 409
    assert Referral.objects.count() == 1
    assert Referral.objects.get().request_key == "referral-attempt-1"  # kept in the database, not a process's memory


def test_bad_input_gets_field_messages(cast, api, orange_case):
    refused = create(cast, api, orange_case, basis="emergency", emergency_justification=" ")
    assert refused.status_code == 400 and set(refused.json()["error"]["fields"]) == {"emergency_justification"}
    refused = create(cast, api, orange_case, consent=None)
    assert refused.status_code == 400 and set(refused.json()["error"]["fields"]) == {"consent"}
    refused = create(cast, api, orange_case, reason="", basis="sometimes")
    assert refused.status_code == 400 and set(refused.json()["error"]["fields"]) == {"reason", "basis"}
    pk = create(cast, api, orange_case).json()["id"]
    step(api, cast.alice, pk, "send")
    refused = step(api, cast.lily, pk, "decline", {"reason": "other", "text": ""})
    assert refused.status_code == 400 and set(refused.json()["error"]["fields"]) == {"text"}
    assert refused.json()["error"]["message"]
    refused = step(api, cast.alice, pk, "cancel", {})
    assert refused.status_code == 400 and set(refused.json()["error"]["fields"]) == {"note"}
    step(api, cast.lily, pk, "accept")
    past = (timezone.now() - dt.timedelta(days=2)).isoformat()
    refused = step(api, cast.lily, pk, "schedule", {"at": past, "place": ""})
    assert refused.status_code == 400 and set(refused.json()["error"]["fields"]) == {"place"}
    refused = step(api, cast.lily, pk, "schedule", {"at": past, "place": "门诊"})
    assert refused.status_code == 400 and set(refused.json()["error"]["fields"]) == {"at"}


# --- the audit --------------------------------------------------------------------------------------------


def test_every_read_of_a_referral_is_audited_on_both_sides(cast, api, sent):
    for who in (cast.lily, cast.alice):
        before = AuditEvent.objects.count()
        api.as_(who).get(f"{V1}/referrals/")
        api.get(f"{V1}/referrals/{sent}/")
        api.get(f"{V1}/referrals/{sent}/events/")
        new = AuditEvent.objects.order_by("id")[before:]
        assert [(e.action, e.student_public_id, e.actor_username) for e in new] == [
            ("list", cast.hamlet.public_id, who.username), ("read", cast.hamlet.public_id, who.username),
            ("read", cast.hamlet.public_id, who.username)]


def test_a_liaison_asking_for_another_hospitals_referral_is_logged(cast, api, sent):
    assert api.as_(cast.liam).get(f"{V1}/referrals/{sent}/").status_code == 404
    assert AuditEvent.objects.filter(action="denied", actor_username="liam", object_type="referrals.Referral",
                                     student_public_id=cast.hamlet.public_id).exists()
