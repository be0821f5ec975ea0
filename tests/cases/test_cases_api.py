"""The counsellor workspace's API: the queue in the pages' order, what a counsellor does on a case
(contacts, plans, moves, closing, alert acknowledgement), escalations, the measures, and who sees
none of it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from case_helpers import case_of, flag
from django.utils import timezone

from screening.campaigns.models import CrisisAlert
from screening.cases.models import Case, Contact, FollowUp, FollowUpPlan
from screening.cases.services import work
from screening.cases.services.escalation import escalations_run
from screening.core.models import AuditEvent

pytestmark = pytest.mark.django_db

CASES = "/api/v1/cases/"
NOW = timezone.now


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def students(response: Any) -> list[str]:
    return [row["student"] for row in results(response)]


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def contact_body(**extra: Any) -> dict[str, Any]:
    return {"at": NOW().isoformat(), "method": "face_to_face", "participants": ["student"],
            "outcome": "confirmed_need", "note": "谈话记录：睡眠差", **extra}


def post(api: Any, path: str, body: Any, key: str | None = None) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return api.post(path, body, format="json", **headers)


@pytest.fixture
def two_cases(cast: Any) -> tuple[Case, Case]:
    """hamlet (class 7-1) flagged yellow, hilda (class 7-2) flagged red: both at Dongshan."""
    flag(cast, cast.hamlet, "yellow")
    flag(cast, cast.hilda, "red")
    return case_of(cast.hamlet), case_of(cast.hilda)


# --- the queue ---------------------------------------------------------------------------------------


def test_the_queue_lists_red_first_then_by_the_time_left(cast, api):
    flag(cast, cast.hamlet, "orange")
    flag(cast, cast.hilda, "orange")
    hamlet, hilda = case_of(cast.hamlet), case_of(cast.hilda)
    Case.objects.filter(pk=hamlet.pk).update(first_contact_due_at=NOW() + dt.timedelta(hours=2))
    Case.objects.filter(pk=hilda.pk).update(first_contact_due_at=NOW() + dt.timedelta(hours=5))
    api.as_(cast.alice)
    assert students(api.get(CASES)) == [cast.hamlet.public_id, cast.hilda.public_id]

    # Once hamlet is reached he has no first contact due: hilda's deadline comes first.
    assert post(api, f"{CASES}{hamlet.pk}/contacts/", contact_body()).status_code == 201
    assert students(api.get(CASES)) == [cast.hilda.public_id, cast.hamlet.public_id]

    flag(cast, cast.hamlet, "red")
    assert students(api.get(CASES)) == [cast.hamlet.public_id, cast.hilda.public_id]


def test_a_queue_row_says_who_what_and_when(cast, api, two_cases):
    _hamlet, hilda = two_cases
    row = results(api.as_(cast.alice).get(CASES))[0]
    assert row["id"] == hilda.pk
    assert row["student"] == cast.hilda.public_id and row["student_name"] == cast.hilda.name
    assert row["school_class"] == {"id": cast.ds_7_2.pk, "name": cast.ds_7_2.name}
    assert (row["school"], row["tier"], row["status"]) == (cast.dongshan.pk, "red", "open")
    assert row["first_contact_due_at"] is not None and row["first_contact_at"] is None
    assert (row["open_alerts"], row["follow_ups_due"], row["next_follow_up"]) == (1, 0, None)
    assert "close_note" not in row


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lambda c: f"school_class={c.ds_7_1.pk}", ["hamlet"]),
        (lambda c: "tier=red", ["hilda"]),
        (lambda c: "tier=orange", []),
        (lambda c: "status=open", ["hilda", "hamlet"]),
        (lambda c: "status=in_contact", []),
    ],
)
def test_the_queue_filters(cast, api, two_cases, query, expected):
    response = api.as_(cast.alice).get(f"{CASES}?{query(cast)}")
    assert students(response) == [getattr(cast, name).public_id for name in expected]


def test_the_overdue_filter_keeps_cases_past_a_first_contact_or_follow_up_day(cast, api, two_cases):
    hamlet, _hilda = two_cases
    api.as_(cast.alice)
    assert students(api.get(f"{CASES}?overdue=true")) == []
    Case.objects.filter(pk=hamlet.pk).update(first_contact_due_at=NOW() - dt.timedelta(minutes=1))
    assert students(api.get(f"{CASES}?overdue=true")) == [cast.hamlet.public_id]
    assert len(results(api.get(f"{CASES}?overdue=false"))) == 2


def test_the_campaign_filter_keeps_cases_flagged_in_that_campaign(cast, api):
    submission = flag(cast, cast.hamlet, "yellow")
    flag(cast, cast.hilda, "yellow")
    campaign = submission.assignment.campaign_id
    assert students(api.as_(cast.alice).get(f"{CASES}?campaign={campaign}")) == [cast.hamlet.public_id]


def test_closed_cases_are_listed_only_when_asked_for(cast, api, two_cases):
    hamlet, _hilda = two_cases
    work.case_close(actor=cast.alice, case=hamlet, reason="no_current_need")
    api.as_(cast.alice)
    assert students(api.get(CASES)) == [cast.hilda.public_id]
    assert set(students(api.get(f"{CASES}?include_closed=true"))) == {cast.hamlet.public_id, cast.hilda.public_id}
    assert students(api.get(f"{CASES}?status=closed")) == [cast.hamlet.public_id]
    closed = api.get(f"{CASES}{hamlet.pk}/")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"


@pytest.mark.parametrize(
    ("query", "field"),
    [("tier=purple", "tier"), ("status=lost", "status"), ("school_class=abc", "school_class"),
     ("campaign=99999999999999999999", "campaign")],
)
def test_bad_queue_filters_are_a_400_naming_the_filter(cast, api, query, field):
    assert set(error(api.as_(cast.alice).get(f"{CASES}?{query}"), 400)["fields"]) == {field}


def test_filtering_by_a_class_outside_ones_scope_looks_like_a_missing_class(cast, api, two_cases):
    api.as_(cast.carol)
    hidden = error(api.get(f"{CASES}?school_class={cast.ds_7_2.pk}"), 400)
    missing = error(api.get(f"{CASES}?school_class=999999"), 400)
    assert hidden["fields"].keys() == missing["fields"].keys() == {"school_class"}


def test_counts_by_tier_are_over_the_open_cases_one_covers(cast, api, two_cases):
    assert api.as_(cast.alice).get(f"{CASES}counts/").json() == {"red": 1, "orange": 0, "yellow": 1}
    assert api.as_(cast.carol).get(f"{CASES}counts/").json() == {"red": 0, "orange": 0, "yellow": 1}
    assert api.as_(cast.bob).get(f"{CASES}counts/").json() == {"red": 0, "orange": 0, "yellow": 0}


def test_opening_a_case_shows_its_closing_note_and_the_queue_figures(cast, api, two_cases):
    hamlet, _hilda = two_cases
    work.contact_record(actor=cast.alice, case=hamlet, at=NOW(), method="phone", participants=["student"],
                        outcome="no_current_need")
    work.follow_up_plan_create(actor=cast.alice, case=hamlet, dates=[timezone.localdate() + dt.timedelta(days=3)])
    api.as_(cast.alice)
    body = api.get(f"{CASES}{hamlet.pk}/").json()
    assert (body["status"], body["close_note"], body["open_alerts"]) == ("monitoring", "", 0)
    assert body["next_follow_up"] == (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    assert body["first_contact_at"] is not None


# --- contacts ----------------------------------------------------------------------------------------


def test_recording_a_contact_meets_the_first_contact_and_lists_with_its_note(cast, api, two_cases):
    hamlet, _hilda = two_cases
    api.as_(cast.alice)
    response = post(api, f"{CASES}{hamlet.pk}/contacts/", contact_body(participants=["student", "class_teacher"]))
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["case"], created["kind"], created["recorded_by"]) == (hamlet.pk, "student", "alice")
    assert created["participants"] == ["student", "class_teacher"] and created["note"] == "谈话记录：睡眠差"
    assert Case.objects.get(pk=hamlet.pk).status == "in_contact"

    listed = api.get(f"{CASES}{hamlet.pk}/contacts/")
    assert listed.status_code == 200
    assert [(c["id"], c["note"]) for c in listed.json()] == [(created["id"], "谈话记录：睡眠差")]


def test_guardian_communication_is_its_own_kind(cast, api, two_cases):
    hamlet, _hilda = two_cases
    api.as_(cast.alice)
    body = contact_body(kind="guardian", method="phone", participants=["guardian"], outcome="")
    assert post(api, f"{CASES}{hamlet.pk}/contacts/", body).json()["kind"] == "guardian"
    refused = post(api, f"{CASES}{hamlet.pk}/contacts/", {**body, "participants": ["student"]})
    assert set(error(refused, 400)["fields"]) == {"participants"}
    assert Case.objects.get(pk=hamlet.pk).status == "open"  # the student is not reached yet


def test_a_contact_sent_again_with_the_same_key_is_recorded_once(cast, api, two_cases):
    hamlet, _hilda = two_cases
    api.as_(cast.alice)
    path, body = f"{CASES}{hamlet.pk}/contacts/", contact_body()
    first = post(api, path, body, key="form-1")
    again = post(api, path, body, key="form-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert first.json() == again.json()
    assert Contact.objects.count() == 1
    assert post(api, path, body, key="form-2").status_code == 201
    assert post(api, path, body).status_code == post(api, path, body).status_code == 201  # no key: no de-duplication
    assert Contact.objects.count() == 4


def test_an_overlong_idempotency_key_is_a_400(cast, api, two_cases):
    hamlet, _hilda = two_cases
    response = post(api.as_(cast.alice), f"{CASES}{hamlet.pk}/contacts/", contact_body(), key="k" * 101)
    assert set(error(response, 400)["fields"]) == {"Idempotency-Key"}
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"participants": "student"}, {"participants"}),
        ({"participants": []}, {"participants"}),
        ({"participants": ["student", "student"]}, {"participants"}),
        ({"participants": ["neighbour"]}, {"participants.0"}),
        ({"method": "fax"}, {"method"}),
        ({"at": "yesterday"}, {"at"}),
        ({"at": "2020-02-30T10:00:00+08:00"}, {"at"}),
        ({"at": (timezone.now() + dt.timedelta(days=1)).isoformat()}, {"at"}),
        ({"at": "9999-12-31T23:59:59-12:00"}, {"at"}),
        ({"outcome": ""}, {"outcome"}),
        ({"note": "很" * 10_001}, {"note"}),
        ({"note": "a\x00b"}, {"note"}),
        ({"follow_up": 99999999999999999999}, {"follow_up"}),
        ({"follow_up": 12345}, {"follow_up"}),
    ],
)
def test_bad_contacts_are_a_400_naming_the_field_and_record_nothing(cast, api, two_cases, body, fields):
    hamlet, _hilda = two_cases
    response = post(api.as_(cast.alice), f"{CASES}{hamlet.pk}/contacts/", contact_body(**body))
    assert set(error(response, 400)["fields"]) == fields
    assert not Contact.objects.exists()


@pytest.mark.parametrize("payload", ['{"at": ', "[1, 2]", '"text"'])
def test_malformed_or_misshapen_json_is_a_400(cast, api, two_cases, payload):
    hamlet, _hilda = two_cases
    response = api.as_(cast.alice).post(f"{CASES}{hamlet.pk}/contacts/", payload, content_type="application/json")
    error(response, 400)


def test_a_closed_case_takes_no_contact(cast, api, two_cases):
    hamlet, _hilda = two_cases
    work.case_close(actor=cast.alice, case=hamlet, reason="no_current_need")
    response = post(api.as_(cast.alice), f"{CASES}{hamlet.pk}/contacts/", contact_body())
    assert error(response, 409)["code"] == "case_closed"


# --- follow-up plans -----------------------------------------------------------------------------------


def test_the_plan_suggests_the_tiers_rhythm_and_is_saved_once(cast, api, two_cases):
    _hamlet, hilda = two_cases
    api.as_(cast.alice)
    suggested = api.get(f"{CASES}{hilda.pk}/plan/").json()
    today = timezone.localdate()
    assert suggested["tier"] == "red"
    assert [(dt.date.fromisoformat(d) - today).days for d in suggested["dates"]] == [1, 2, 3, 10, 17, 24, 31]

    dates = suggested["dates"][:3]
    made = post(api, f"{CASES}{hilda.pk}/plan/", {"dates": dates}, key="plan-1")
    assert made.status_code == 201, made.content
    assert [f["due_on"] for f in made.json()["follow_ups"]] == dates
    assert {f["status"] for f in made.json()["follow_ups"]} == {"planned"}
    again = post(api, f"{CASES}{hilda.pk}/plan/", {"dates": dates}, key="plan-1")
    assert again.status_code == 200 and again.json()["id"] == made.json()["id"]
    assert FollowUpPlan.objects.count() == 1

    listed = api.get(f"{CASES}{hilda.pk}/follow-ups/").json()
    assert [(f["due_on"], f["status"], f["contact"]) for f in listed] == [(d, "planned", None) for d in dates]


def test_a_contact_naming_a_planned_follow_up_marks_it_done(cast, api, two_cases):
    hamlet, _hilda = two_cases
    api.as_(cast.alice)
    post(api, f"{CASES}{hamlet.pk}/plan/", {"dates": [(timezone.localdate() + dt.timedelta(days=1)).isoformat()]})
    planned = api.get(f"{CASES}{hamlet.pk}/follow-ups/").json()[0]
    post(api, f"{CASES}{hamlet.pk}/contacts/", contact_body())  # not named: it stays planned
    assert api.get(f"{CASES}{hamlet.pk}/follow-ups/").json()[0]["status"] == "planned"
    contact = post(api, f"{CASES}{hamlet.pk}/contacts/", {**contact_body(), "follow_up": planned["id"]}).json()
    follow_up = api.get(f"{CASES}{hamlet.pk}/follow-ups/").json()[0]
    assert (follow_up["status"], follow_up["contact"], contact["follow_up"]) == ("done", contact["id"], follow_up["id"])


@pytest.mark.parametrize(
    ("dates", "field"),
    [("2030-01-01", "dates"), ([], "dates"), (["2020-01-01"], "dates"), (["not-a-date"], "dates.0"),
     (["2030-02-30"], "dates.0"), (["9999-12-31"], "dates"), ([{"day": 1}], "dates.0")],
)
def test_bad_plans_are_a_400_naming_the_field(cast, api, two_cases, dates, field):
    hamlet, _hilda = two_cases
    response = post(api.as_(cast.alice), f"{CASES}{hamlet.pk}/plan/", {"dates": dates})
    assert set(error(response, 400)["fields"]) == {field}
    assert not FollowUpPlan.objects.exists()


def test_too_many_follow_ups_at_once_are_refused(cast, api, two_cases):
    hamlet, _hilda = two_cases
    today = timezone.localdate()
    dates = [(today + dt.timedelta(days=d)).isoformat() for d in range(1, 22)]
    assert set(error(post(api.as_(cast.alice), f"{CASES}{hamlet.pk}/plan/", {"dates": dates}), 400)["fields"]) == {"dates"}


# --- moving and closing ------------------------------------------------------------------------------


def test_a_case_moves_between_in_contact_and_monitoring_after_a_contact(cast, api, two_cases):
    hamlet, _hilda = two_cases
    api.as_(cast.alice)
    assert error(post(api, f"{CASES}{hamlet.pk}/move/", {"status": "monitoring"}), 409)["code"] == "case_not_contacted"
    post(api, f"{CASES}{hamlet.pk}/contacts/", contact_body())
    moved = post(api, f"{CASES}{hamlet.pk}/move/", {"status": "monitoring"})
    assert moved.status_code == 200 and moved.json()["status"] == "monitoring"
    assert moved.json()["open_alerts"] == 0  # the queue's figures come with it
    for status in ("closed", "open", "lost", ""):
        assert set(error(post(api, f"{CASES}{hamlet.pk}/move/", {"status": status}), 400)["fields"]) == {"status"}


def test_closing_needs_the_alert_acknowledged_and_a_reason(cast, api, two_cases):
    _hamlet, hilda = two_cases
    alert = CrisisAlert.objects.get(student=cast.hilda)
    api.as_(cast.alice)
    path = f"{CASES}{hilda.pk}/close/"
    assert error(post(api, path, {"reason": "no_current_need"}), 409)["code"] == "alert_open"

    acknowledged = api.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    assert acknowledged.status_code == 200, acknowledged.content
    assert acknowledged.json()["acknowledged_by"] == "alice"

    assert set(error(post(api, path, {"reason": "other", "note": "  "}), 400)["fields"]) == {"note"}
    assert set(error(post(api, path, {"reason": "moved"}), 400)["fields"]) == {"reason"}
    assert set(error(post(api, path, {}), 400)["fields"]) == {"reason"}
    assert set(error(post(api, path, {"reason": "other", "note": "x" * 10_001}), 400)["fields"]) == {"note"}
    closed = post(api, path, {"reason": "other", "note": "转学"})
    assert closed.status_code == 200, closed.content
    assert (closed.json()["status"], closed.json()["close_reason"], closed.json()["close_note"]) == ("closed", "other", "转学")
    again = post(api, path, {"reason": "no_current_need"})
    assert again.status_code == 200 and again.json()["close_reason"] == "other"


def test_the_timeline_tells_every_step_with_who_and_when(cast, api, two_cases):
    _hamlet, hilda = two_cases
    api.as_(cast.alice)
    api.post(f"/api/v1/alerts/{CrisisAlert.objects.get(student=cast.hilda).pk}/acknowledge/")
    post(api, f"{CASES}{hilda.pk}/contacts/", contact_body())
    post(api, f"{CASES}{hilda.pk}/close/", {"reason": "support_completed"})
    timeline = api.get(f"{CASES}{hilda.pk}/timeline/").json()
    assert [(e["kind"], e["actor"]) for e in timeline] == [
        ("opened", None), ("alert_raised", None), ("alert_acknowledged", "alice"), ("contact", "alice"),
        ("closed", "alice"),
    ]
    assert all(e["kind_label"] for e in timeline)
    assert "谈话记录" not in str(timeline)  # notes never go on the timeline


# --- red alerts ----------------------------------------------------------------------------------------


def test_acknowledging_an_alert_keeps_the_first_acknowledgement(cast, api, two_cases):
    alert = CrisisAlert.objects.get(student=cast.hilda)
    listed = results(api.as_(cast.alice).get("/api/v1/alerts/"))[0]
    assert listed["acknowledged_by"] is None and listed["acknowledge_due_at"] and listed["hospital_due_at"]
    assert listed["escalated_school_at"] is None and listed["escalated_hospital_at"] is None
    first = api.as_(cast.diana).post(f"/api/v1/alerts/{alert.pk}/acknowledge/").json()
    again = api.as_(cast.alice).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    assert again.status_code == 200
    assert (again.json()["acknowledged_by"], again.json()["acknowledged_at"]) == ("diana", first["acknowledged_at"])


@pytest.mark.parametrize(("who", "status"), [("carol", 404), ("bob", 404), ("lily", 403), ("olga", 403),
                                             ("root", 403), ("hilda", 403), ("nobody", 403)])
def test_only_who_covers_the_student_acknowledges(cast, api, two_cases, who, status):
    alert = CrisisAlert.objects.get(student=cast.hilda)
    error(api.as_(getattr(cast, who)).post(f"/api/v1/alerts/{alert.pk}/acknowledge/"), status)
    assert CrisisAlert.objects.get(pk=alert.pk).acknowledged_at is None


# --- who sees what -------------------------------------------------------------------------------------


def test_a_class_limited_counsellor_sees_nothing_of_a_case_outside_their_classes(cast, api, two_cases):
    hamlet, hilda = two_cases
    api.as_(cast.carol)
    assert students(api.get(CASES)) == [cast.hamlet.public_id]
    assert api.get(f"{CASES}{hamlet.pk}/").status_code == 200
    hidden, missing = api.get(f"{CASES}{hilda.pk}/"), api.get(f"{CASES}999999/")
    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json()) == (404, missing.json())
    assert AuditEvent.objects.filter(action="denied", actor_username="carol", student_public_id=cast.hilda.public_id).exists()
    for suffix in ("contacts/", "follow-ups/", "plan/", "timeline/"):
        error(api.get(f"{CASES}{hilda.pk}/{suffix}"), 404)
    error(post(api, f"{CASES}{hilda.pk}/contacts/", contact_body()), 404)
    error(post(api, f"{CASES}{hilda.pk}/plan/", {"dates": ["2020-01-01"]}), 404)  # 404 before the bad date
    error(post(api, f"{CASES}{hilda.pk}/move/", {"status": "monitoring"}), 404)
    error(post(api, f"{CASES}{hilda.pk}/close/", {"reason": "nonsense"}), 404)
    assert not Contact.objects.exists() and Case.objects.get(pk=hilda.pk).status == "open"
    assert cast.hilda.name not in api.get(CASES).content.decode() + api.get(f"{CASES}{hilda.pk}/").content.decode()


@pytest.mark.parametrize("who", ["lily", "liam", "olga", "bob"])
def test_liaisons_analysts_and_other_schools_see_no_case(cast, api, two_cases, who):
    hamlet, _hilda = two_cases
    api.as_(getattr(cast, who))
    assert results(api.get(CASES)) == []
    assert results(api.get("/api/v1/escalations/")) == []
    error(api.get(f"{CASES}{hamlet.pk}/"), 404)
    error(api.get(f"{CASES}{hamlet.pk}/timeline/"), 404)
    error(post(api, f"{CASES}{hamlet.pk}/contacts/", contact_body()), 404 if who == "bob" else 403)
    assert not Contact.objects.exists()


@pytest.mark.parametrize("who", ["hamlet", "hilda", "nobody"])
def test_students_and_roleless_users_are_refused_the_workspace(cast, api, two_cases, who):
    hamlet, _hilda = two_cases
    api.as_(getattr(cast, who))
    for path in (CASES, f"{CASES}{hamlet.pk}/", f"{CASES}counts/", f"{CASES}{hamlet.pk}/contacts/",
                 "/api/v1/escalations/", "/api/v1/kpis/"):
        error(api.get(path), 403)
    error(post(api, f"{CASES}{hamlet.pk}/contacts/", contact_body()), 403)


def test_the_platform_admin_reads_cases_audited_but_does_not_work_them(cast, api, two_cases):
    hamlet, _hilda = two_cases
    api.as_(cast.root)
    assert len(results(api.get(CASES))) == 2
    assert AuditEvent.objects.filter(actor_username="root", action="list").count() == 2
    error(post(api, f"{CASES}{hamlet.pk}/contacts/", contact_body()), 403)


def test_every_case_read_is_audited_per_student(cast, api, two_cases):
    hamlet, _hilda = two_cases
    api.as_(cast.alice)
    before = AuditEvent.objects.count()
    api.get(CASES)
    listed = AuditEvent.objects.order_by("id")[before:]
    assert sorted((e.action, e.student_public_id) for e in listed) == sorted(
        [("list", cast.hamlet.public_id), ("list", cast.hilda.public_id)])
    for suffix in ("", "contacts/", "follow-ups/", "plan/", "timeline/"):
        before = AuditEvent.objects.count()
        assert api.get(f"{CASES}{hamlet.pk}/{suffix}").status_code == 200
        assert [(e.action, e.student_public_id, e.actor_username) for e in AuditEvent.objects.order_by("id")[before:]] == [
            ("read", cast.hamlet.public_id, "alice")], suffix
    before = AuditEvent.objects.count()
    api.get(f"{CASES}counts/")
    assert AuditEvent.objects.count() == before  # counts name nobody


# --- escalations -----------------------------------------------------------------------------------------


def test_escalations_reach_the_heads_and_counsellors_who_see_the_case(cast, api, two_cases):
    escalations_run(now=NOW() + dt.timedelta(days=8))  # past the alert's limits and both first contacts
    api.as_(cast.diana)
    rows = results(api.get("/api/v1/escalations/"))
    assert {r["kind"] for r in rows} == {"alert_escalated_school", "alert_escalated_hospital", "escalated"}
    assert {r["student"] for r in rows} == {cast.hilda.public_id, cast.hamlet.public_id}
    assert all(r["kind_label"] and r["school"] == cast.dongshan.pk for r in rows)
    times = [r["at"] for r in rows]
    assert times == sorted(times, reverse=True)
    listed = AuditEvent.objects.filter(actor_username="diana", action="list")
    assert sorted(e.student_public_id for e in listed) == sorted(r["student"] for r in rows)

    only = results(api.get("/api/v1/escalations/?kind=escalated"))
    assert {r["kind"] for r in only} == {"escalated"} and len(only) == 2
    assert api.get(f"/api/v1/escalations/{rows[0]['id']}/").json()["id"] == rows[0]["id"]

    assert {r["student"] for r in results(api.as_(cast.carol).get("/api/v1/escalations/"))} == {cast.hamlet.public_id}
    hildas = next(r for r in rows if r["student"] == cast.hilda.public_id)
    error(api.get(f"/api/v1/escalations/{hildas['id']}/"), 404)
    assert results(api.as_(cast.edgar).get("/api/v1/escalations/")) == []
    assert error(api.as_(cast.diana).get("/api/v1/escalations/?kind=contact"), 400)["fields"].keys() == {"kind"}


# --- measures ----------------------------------------------------------------------------------------------


def test_the_measures_count_first_contacts_interviews_follow_ups_and_alerts(cast, api, two_cases):
    hamlet, _hilda = two_cases
    work.contact_record(actor=cast.alice, case=hamlet, at=NOW(), method="face_to_face", participants=["student"],
                        outcome="no_current_need")
    work.alert_acknowledge(actor=cast.alice, alert=CrisisAlert.objects.get(student=cast.hilda))
    response = api.as_(cast.diana).get("/api/v1/kpis/")
    (row,) = results(response)
    assert (row["school"], row["school_name"], row["since"], row["until"]) == (cast.dongshan.pk, cast.dongshan.name,
                                                                               None, None)
    by_tier = {m["tier"]: m for m in row["first_contact_measures"]}
    assert (by_tier["yellow"]["flags"], by_tier["yellow"]["contacted"], by_tier["yellow"]["within_limit"]) == (1, 1, 1)
    assert by_tier["yellow"]["share_within"] == 1.0 and by_tier["yellow"]["median_hours"] is not None
    assert (by_tier["red"]["flags"], by_tier["red"]["contacted"], by_tier["red"]["median_hours"]) == (1, 0, None)
    assert by_tier["orange"] == {"tier": "orange", "flags": 0, "contacted": 0, "within_limit": 0,
                                 "share_within": None, "median_hours": None}
    assert row["interview_rate"] == {"flagged": 2, "seen_face_to_face": 1, "rate": 0.5}
    assert row["follow_up_adherence"] == {"due": 0, "on_time": 0, "rate": None}
    assert (row["alert_acknowledgement"]["alerts"], row["alert_acknowledgement"]["acknowledged"]) == (1, 1)

    # carol covers class 7-1 only: hamlet's flag, no alert.
    (carols,) = results(api.as_(cast.carol).get("/api/v1/kpis/"))
    assert sum(m["flags"] for m in carols["first_contact_measures"]) == 1
    assert carols["alert_acknowledgement"]["alerts"] == 0


def test_the_measures_period_counts_whole_days(cast, api, two_cases):
    api.as_(cast.diana)
    today, tomorrow = timezone.localdate(), timezone.localdate() + dt.timedelta(days=1)
    (row,) = results(api.get(f"/api/v1/kpis/?since={today}&until={today}"))
    assert row["since"] == row["until"] == today.isoformat()
    assert sum(m["flags"] for m in row["first_contact_measures"]) == 2
    (later,) = results(api.get(f"/api/v1/kpis/?since={tomorrow}"))
    assert sum(m["flags"] for m in later["first_contact_measures"]) == 0
    one = api.get(f"/api/v1/kpis/{cast.dongshan.pk}/?until={today - dt.timedelta(days=1)}")
    assert one.status_code == 200 and one.json()["interview_rate"]["flagged"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [("since=yesterday", "since"), ("until=2026-13-45", "until"), ("since=2026-05-02&until=2026-05-01", "until"),
     ("since=0001-01-01", "since"), ("until=9999-12-31", "until"), ("school=abc", "school")],
)
def test_bad_measure_parameters_are_a_400_naming_the_parameter(cast, api, query, field):
    assert set(error(api.as_(cast.diana).get(f"/api/v1/kpis/?{query}"), 400)["fields"]) == {field}


def test_measures_are_only_for_schools_where_one_works_cases(cast, api):
    api.as_(cast.diana)
    assert [r["school"] for r in results(api.get("/api/v1/kpis/"))] == [cast.dongshan.pk]
    error(api.get(f"/api/v1/kpis/{cast.xishan.pk}/"), 404)
    assert set(error(api.get(f"/api/v1/kpis/?school={cast.xishan.pk}"), 400)["fields"]) == {"school"}
    for who in ("olga", "lily"):
        assert results(api.as_(getattr(cast, who)).get("/api/v1/kpis/")) == []
        error(api.get(f"/api/v1/kpis/{cast.dongshan.pk}/"), 404)
    everywhere = [s.pk for s in sorted([cast.dongshan, cast.xishan], key=lambda s: s.name)]
    assert [r["school"] for r in results(api.as_(cast.root).get("/api/v1/kpis/"))] == everywhere


def test_follow_up_adherence_counts_days_done_on_time(cast, api, two_cases):
    hamlet, _hilda = two_cases
    plan = work.follow_up_plan_create(actor=cast.alice, case=hamlet,
                                      dates=[timezone.localdate() + dt.timedelta(days=1)])
    FollowUp.objects.filter(plan=plan).update(due_on=timezone.localdate())  # its day has come
    work.contact_record(actor=cast.alice, case=hamlet, at=NOW(), method="phone", participants=["student"],
                        outcome="confirmed_need", follow_up=plan.follow_ups.get().pk)
    (row,) = results(api.as_(cast.alice).get("/api/v1/kpis/"))
    assert row["follow_up_adherence"] == {"due": 1, "on_time": 1, "rate": 1.0}
