"""The student's own API (/api/v1/me/assignments/): only their own assignments, the questionnaire
in their language, drafts that merge and survive a change of device, and results only where the
campaign shares them, worded for a young reader."""

from __future__ import annotations

import json

import pytest
from campaign_test_helpers import (
    ME,
    assignment_of,
    campaign_open,
    code_of,
    draft_save,
    fields_of,
    phq9_total,
    ready,
    submit,
)
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

import scoring
from screening.campaigns.models import Assignment, Campaign
from screening.campaigns.services import campaign_create
from screening.core.models import AuditEvent
from screening.directory.services import student_user_ensure
from screening.riskmodels import estimate


@pytest.fixture
def campaign(cast):
    return campaign_open(cast, instruments=["phq9", "asq"])


# --- only my own ----------------------------------------------------------------------------------


def test_a_student_lists_only_their_own_assignments(cast, api, campaign):
    hamlet, hilda = assignment_of(campaign, cast.hamlet), assignment_of(campaign, cast.hilda)
    response = api.as_(cast.hamlet).get(ME)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [hamlet.pk]
    assert "student_name" not in response.json()["results"][0]
    assert [row["id"] for row in api.as_(cast.hilda).get(ME).json()["results"]] == [hilda.pk]
    assert api.as_(cast.cordelia).get(ME).json()["results"] == []


def test_draft_campaigns_are_not_listed(cast, api, campaign):
    from django.utils import timezone

    now = timezone.now()
    campaign_create(actor=cast.diana, school=cast.dongshan, name="未发布", instruments=["gad7"],
                    target_classes=[cast.ds_7_1], opens_at=now, closes_at=now + timezone.timedelta(days=3))
    assert Campaign.objects.count() == 2
    rows = api.as_(cast.hamlet).get(ME).json()["results"]
    assert [r["campaign_name"] for r in rows] == [campaign.name]


def test_staff_cannot_use_the_students_endpoints(cast, api, campaign):
    for user in (cast.alice, cast.diana, cast.root):
        assert api.as_(user).get(ME).status_code == 403, user
    hamlet = assignment_of(campaign, cast.hamlet)
    assert api.as_(cast.alice).patch(f"{ME}{hamlet.pk}/draft/", {"answers": {}}, format="json").status_code == 403


def test_signed_out_clients_are_refused(campaign):
    assert APIClient().get(ME).status_code == 401


@pytest.mark.parametrize("suffix", ["", "consent/", "questionnaire/", "draft/", "result/"])
def test_another_students_assignment_is_not_found(cast, api, campaign, suffix):
    hilda = ready(cast, campaign, cast.hilda)
    assert api.as_(cast.hilda).get(f"{ME}{hilda.pk}/{suffix}").status_code in (200, 403, 409)
    response = api.as_(cast.hamlet).get(f"{ME}{hilda.pk}/{suffix}")
    assert response.status_code == 404
    missing = api.as_(cast.hamlet).get(f"{ME}999999/{suffix}")
    assert missing.status_code == 404 and missing.json() == response.json()


def test_another_student_cannot_write_to_my_assignment(cast, api, campaign):
    hilda = ready(cast, campaign, cast.hilda)
    ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    assert draft_save(client, hilda, {"phq9": {"1": 3}}).status_code == 404
    assert submit(client, hilda, {"phq9": phq9_total(0)}).status_code == 404
    assert client.post(f"{ME}{hilda.pk}/consent/", {"agree": False}, format="json").status_code == 404
    after = assignment_of(campaign, cast.hilda)
    assert after.draft == {} and after.status == "pending" and after.student_consent == "granted"


def test_a_submit_to_another_students_assignment_is_not_found_and_logged(cast, api, campaign):
    hilda = ready(cast, campaign, cast.hilda)
    ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    response = submit(client, hilda, {"phq9": phq9_total(0)}, key="outsider")
    missing = client.post(f"{ME}999999/submit/", {"answers": {}}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == missing.status_code == 404 and response.json() == missing.json()
    for odd in ("abc", "１２", "9" * 30):  # not an id: 404, never a 500
        assert client.post(f"{ME}{odd}/submit/", {"answers": {}}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 404
    # Bad input to another student's assignment is still a logged 404, not a 400.
    no_key = client.post(f"{ME}{hilda.pk}/submit/", {"answers": {"phq9": phq9_total(0)}}, format="json")
    bad_body = client.post(f"{ME}{hilda.pk}/submit/", {"nope": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert no_key.status_code == bad_body.status_code == 404 and no_key.json() == missing.json()
    denied = AuditEvent.objects.filter(action="denied", object_type="campaigns.Assignment", actor_id=cast.hamlet.user_id)
    assert [e.student_public_id for e in denied] == [cast.hilda.public_id] * 3


def test_a_submit_signed_in_by_token_takes_the_statements_the_docs_count(cast, campaign):
    """docs/screening.md "How the submit stays fast": token, principal, the locked read, the
    submission, its results, the assignment, the audit entry, in one transaction (the active risk
    models are read at most every few seconds per process, here before); a green sitting opens no
    case."""
    assignment = ready(cast, campaign, cast.hamlet)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=cast.hamlet.user).key}")
    estimate.active_for(assignment.student.school)  # the process's copy of the active models, read
    with CaptureQueriesContext(connection) as queries:
        response = submit(client, assignment, {"phq9": phq9_total(0), "asq": NEGATIVE_ASQ})
    assert response.status_code == 201
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    work = [s for s in statements if s not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")]
    assert work == ["SELECT", "SELECT", "SELECT", "INSERT", "INSERT", "UPDATE", "INSERT"], statements


# --- the questionnaire ----------------------------------------------------------------------------


def test_the_questionnaire_comes_in_the_language_asked_for(cast, api, campaign):
    assignment = ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    en = client.get(f"{ME}{assignment.pk}/questionnaire/?lang=en")
    zh = client.get(f"{ME}{assignment.pk}/questionnaire/?lang=zh-hans")
    assert en.status_code == zh.status_code == 200
    assert [i["code"] for i in en.json()["instruments"]] == ["phq9", "asq"]
    en_item = en.json()["instruments"][0]["items"][0]
    zh_item = zh.json()["instruments"][0]["items"][0]
    assert en_item["text"] == scoring.item_texts("phq9", "en").item("1")
    assert zh_item["text"] == scoring.item_texts("phq9", "zh-hans").item("1")
    assert en_item["text"] != zh_item["text"]
    assert [o["value"] for o in en_item["options"]] == [0, 1, 2, 3]
    assert en_item["options"][0]["label"] != zh_item["options"][0]["label"]
    assert en.json()["instruments"][0]["title"] != zh.json()["instruments"][0]["title"]


def test_the_questionnaire_marks_the_conditional_asq_item(cast, api, campaign):
    assignment = ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    asq = client.get(f"{ME}{assignment.pk}/questionnaire/?lang=en").json()["instruments"][1]
    item5 = next(i for i in asq["items"] if i["id"] == "5")
    assert item5["asked"] is False
    draft_save(client, assignment, {"asq": {"1": True}})
    asq = client.get(f"{ME}{assignment.pk}/questionnaire/?lang=en").json()["instruments"][1]
    assert next(i for i in asq["items"] if i["id"] == "5")["asked"] is True


# --- drafts ---------------------------------------------------------------------------------------


def test_a_draft_merges_and_null_clears(cast, api, campaign):
    assignment = ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    first = draft_save(client, assignment, {"phq9": {"1": 2}})
    assert first.status_code == 200 and first.json()["answers"] == {"phq9": {"1": 2}}
    second = draft_save(client, assignment, {"phq9": {"2": 1}, "asq": {"1": False}})
    assert second.json()["answers"] == {"phq9": {"1": 2, "2": 1}, "asq": {"1": False}}
    cleared = draft_save(client, assignment, {"phq9": {"1": None}})
    assert cleared.json()["answers"] == {"phq9": {"2": 1}, "asq": {"1": False}}
    stored = assignment_of(campaign, cast.hamlet)
    assert stored.draft == {"phq9": {"2": 1}, "asq": {"1": False}}
    assert stored.status == "in_progress" and stored.started_at is not None
    assert first.json()["plan"] == ["phq9", "asq"]


def test_invalid_draft_answers_are_refused_item_by_item(cast, api, campaign):
    assignment = ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    draft_save(client, assignment, {"phq9": {"1": 2}})
    response = draft_save(client, assignment, {"phq9": {"2": 9, "3": "often", "4": 1, "99": 1}, "asq": {"1": 3}})
    assert response.status_code == 400
    fields = fields_of(response)
    assert {"answers.phq9.2", "answers.phq9.3", "answers.phq9.99", "answers.asq.1"} <= fields.keys()
    assert "answers.phq9.4" not in fields
    assert "often" not in response.content.decode()  # no answer is echoed in an error
    assert all(messages and all(isinstance(m, str) and m for m in messages) for messages in fields.values())
    assert assignment_of(campaign, cast.hamlet).draft == {"phq9": {"1": 2}}  # nothing of the bad body kept


@pytest.mark.parametrize("code", ["bdi", "gad7"])
def test_a_questionnaire_outside_the_sitting_is_refused(cast, api, campaign, code):
    assignment = ready(cast, campaign, cast.hamlet)
    response = draft_save(api.as_(cast.hamlet), assignment, {code: {"1": 1}})
    assert response.status_code == 400 and f"answers.{code}" in fields_of(response)
    assert assignment_of(campaign, cast.hamlet).draft == {}


def test_a_malformed_draft_body_is_a_field_error(cast, api, campaign):
    assignment = ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    for body in ({"answers": {"phq9": 3}}, {"answers": [1, 2]}, {}):
        response = client.patch(f"{ME}{assignment.pk}/draft/", body, format="json")
        assert response.status_code == 400, body
        assert any(key.startswith("answers") for key in fields_of(response)), fields_of(response)


def test_a_draft_is_there_on_another_device(cast, api, campaign):
    assignment = ready(cast, campaign, cast.hamlet)
    draft_save(api.as_(cast.hamlet), assignment, {"phq9": {"1": 2, "2": 3}, "asq": {"1": False}})
    phone = APIClient()
    phone.force_authenticate(user=student_user_ensure(student=cast.hamlet))
    response = phone.get(f"{ME}{assignment.pk}/draft/")
    assert response.status_code == 200
    assert response.json()["answers"] == {"phq9": {"1": 2, "2": 3}, "asq": {"1": False}}
    assert response.json()["saved_at"] is not None
    items = phone.get(f"{ME}{assignment.pk}/questionnaire/?lang=en").json()["instruments"][0]["items"]
    assert [i["answer"] for i in items[:3]] == [2, 3, None]
    listed = phone.get(ME).json()["results"][0]
    assert listed["status"] == "in_progress" and listed["draft_saved_at"] is not None


def test_a_draft_cannot_be_saved_after_submitting(cast, api, campaign):
    assignment = ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    assert submit(client, assignment, {"phq9": phq9_total(0), "asq": {"1": False, "2": False, "3": False, "4": False}}).status_code == 201
    response = draft_save(client, assignment, {"phq9": {"1": 3}})
    assert response.status_code == 409 and code_of(response) == "already_submitted"
    assert assignment_of(campaign, cast.hamlet).draft == {}


# --- results --------------------------------------------------------------------------------------

NEGATIVE_ASQ = {"1": False, "2": False, "3": False, "4": False}


def test_results_are_refused_where_the_campaign_does_not_share_them(cast, api, campaign):
    assignment = ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    response = submit(client, assignment, {"phq9": phq9_total(12), "asq": NEGATIVE_ASQ})
    assert response.status_code == 201 and response.json()["results_available"] is False
    result = client.get(f"{ME}{assignment.pk}/result/")
    assert result.status_code == 403 and code_of(result) == "results_not_shared"
    assert "12" not in json.dumps(result.json())
    assert client.get(ME).json()["results"][0]["results_available"] is False


def test_shared_results_are_409_before_submitting(cast, api):
    campaign = campaign_open(cast, instruments=["phq9", "asq"], students_see_results=True)
    assignment = ready(cast, campaign, cast.hamlet)
    response = api.as_(cast.hamlet).get(f"{ME}{assignment.pk}/result/")
    assert response.status_code == 409 and code_of(response) == "not_submitted"


STAFF_WORDS = ("tier", "yellow", "orange", "red", "moderate", "severe", "depress", "diagnos", "band", "phq9_total")


def test_shared_results_are_worded_for_a_young_reader(cast, api):
    campaign = campaign_open(cast, instruments=["phq9", "asq"], students_see_results=True)
    assignment = ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    submitted = submit(client, assignment, {"phq9": phq9_total(12), "asq": NEGATIVE_ASQ})
    assert submitted.json()["results_available"] is True
    response = client.get(f"{ME}{assignment.pk}/result/?lang=en")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"summary", "instruments", "talk"}
    by_code = {row["code"]: row for row in body["instruments"]}
    assert by_code["phq9"]["message"].startswith("Your answers suggest things may have been hard for you lately")
    assert by_code["asq"]["message"].startswith("Your answers look like what many students feel")
    assert "counsellor" in body["summary"] and "12356" in body["talk"]
    text = json.dumps(body).lower()
    for word in STAFF_WORDS:
        assert word not in text, word
    assert client.get(ME).json()["results"][0]["results_available"] is True


def test_a_green_result_does_not_say_a_counsellor_will_call(cast, api):
    campaign = campaign_open(cast, instruments=["phq9", "asq"], students_see_results=True)
    assignment = ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    submit(client, assignment, {"phq9": phq9_total(2), "asq": NEGATIVE_ASQ})
    body = client.get(f"{ME}{assignment.pk}/result/?lang=en").json()
    assert "get in touch" not in body["summary"]
    assert all(row["message"].startswith("Your answers look like") for row in body["instruments"])


def test_results_come_in_the_students_language(cast, api):
    campaign = campaign_open(cast, instruments=["phq9", "asq"], students_see_results=True)
    assignment = ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    submit(client, assignment, {"phq9": phq9_total(12), "asq": NEGATIVE_ASQ})
    en = client.get(f"{ME}{assignment.pk}/result/?lang=en").json()
    zh = client.get(f"{ME}{assignment.pk}/result/?lang=zh-hans").json()
    assert en["instruments"][0]["name"] != zh["instruments"][0]["name"]
    assert en["summary"] != zh["summary"]


def test_the_list_says_what_the_student_must_do_next(cast, api, campaign):
    assignment = assignment_of(campaign, cast.hamlet)
    consent_row = api.as_(cast.hamlet).get(f"{ME}{assignment.pk}/").json()
    assert consent_row["blocker"] == "guardian_consent_pending" and consent_row["needs_own_consent"] is False
    ready(cast, campaign, cast.hamlet)
    row = api.as_(cast.hamlet).get(f"{ME}{assignment.pk}/").json()
    assert row["blocker"] is None and row["needs_own_consent"] is False
    assert Assignment.objects.get(pk=assignment.pk).student_consent == "granted"
