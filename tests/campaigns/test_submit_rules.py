"""Submit: idempotent by key and body, scored and tiered in the same transaction, the crisis
response at once, stepped screening, and nothing half-written."""

from __future__ import annotations

import pytest
from campaign_test_helpers import (
    ASQ_ACUTE,
    ASQ_NEGATIVE,
    ASQ_NON_ACUTE,
    ME,
    campaign_open,
    code_of,
    draft_save,
    fields_of,
    gad7_total,
    phq9,
    phq9_total,
    ready,
    submit,
)
from django.utils import timezone

import scoring
from screening.campaigns.models import Assignment, CrisisAlert, Result, Submission
from screening.campaigns.services import campaign_close


@pytest.fixture
def campaign(cast):
    return campaign_open(cast, instruments=["phq9", "asq"])


@pytest.fixture
def hamlet(cast, api, campaign):
    """Hamlet, consented and signed in: (client, assignment)."""
    return api.as_(cast.hamlet), ready(cast, campaign, cast.hamlet)


ANSWERS = {"phq9": phq9_total(5), "asq": ASQ_NEGATIVE}


# --- idempotency ----------------------------------------------------------------------------------


def test_a_submit_without_an_idempotency_key_is_refused(hamlet):
    client, assignment = hamlet
    for key in (None, "", "   ", "k" * 101):
        response = submit(client, assignment, ANSWERS, key=key)
        assert response.status_code == 400 and "Idempotency-Key" in fields_of(response), key
    assert not Submission.objects.exists()
    assert Assignment.objects.get(pk=assignment.pk).status == "pending"


def test_the_same_key_and_body_get_the_same_response(hamlet):
    client, assignment = hamlet
    first = submit(client, assignment, ANSWERS, key="retry-me")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    # the same body with its keys in another order is the same body
    again = submit(client, assignment, {"asq": ASQ_NEGATIVE, "phq9": dict(reversed(list(phq9_total(5).items())))},
                   key="retry-me")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.content == first.content  # byte for byte: a replay is the first response
    assert Submission.objects.count() == 1
    assert Result.objects.count() == 2
    assert first.json()["status"] == "submitted" and first.json()["assignment"] == assignment.pk


def test_the_same_key_with_another_body_is_409(hamlet):
    client, assignment = hamlet
    submit(client, assignment, ANSWERS, key="k1")
    response = submit(client, assignment, {"phq9": phq9_total(6), "asq": ASQ_NEGATIVE}, key="k1")
    assert response.status_code == 409 and code_of(response) == "idempotency_key_reused"
    assert Submission.objects.get().answers["phq9"] == phq9_total(5)


def test_another_key_after_submitting_is_409(hamlet):
    client, assignment = hamlet
    submit(client, assignment, ANSWERS, key="k1")
    for answers in (ANSWERS, {"phq9": phq9_total(20), "asq": ASQ_NEGATIVE}):
        response = submit(client, assignment, answers, key="k2")
        assert response.status_code == 409 and code_of(response) == "already_submitted"
    assert Submission.objects.count() == 1 and Result.objects.count() == 2


def test_a_key_used_for_one_assignment_is_not_replayed_on_another(cast, api, campaign):
    other = campaign_open(cast, instruments=["gad7"])
    client = api.as_(cast.hamlet)
    first = ready(cast, campaign, cast.hamlet)
    second = ready(cast, other, cast.hamlet)
    assert submit(client, first, ANSWERS, key="same").status_code == 201
    response = submit(client, second, {"gad7": gad7_total(3)}, key="same")
    assert response.status_code == 409 and code_of(response) == "idempotency_key_reused"
    assert Assignment.objects.get(pk=second.pk).status == "pending"


def test_the_submission_keeps_exactly_what_was_sent(hamlet):
    client, assignment = hamlet
    answers = {"phq9": {**phq9(1, 2, 3, 0, 1, 2, 3, 0, 0), "10": 2}, "asq": ASQ_NEGATIVE}
    response = submit(client, assignment, answers, key="k1", lang="en")
    assert response.status_code == 201
    submission = Submission.objects.get()
    assert submission.answers == answers
    assert submission.language == "en" and submission.idempotency_key == "k1"
    stored = Assignment.objects.get(pk=assignment.pk)
    assert stored.status == "submitted" and stored.submitted_at == submission.submitted_at
    assert stored.draft == {}


def test_results_are_stored_with_instrument_version_and_profile(cast, api):
    campaign = campaign_open(cast, instruments=["phq9", "cesd"],
                             profiles={"phq9": "us_adolescent", "cesd": "chinese_adolescent_major"})
    assignment = ready(cast, campaign, cast.hamlet)
    cesd = {str(i): 1 for i in range(1, 21)}  # total 24: at risk at 16, below the 29 of this profile
    response = submit(api.as_(cast.hamlet), assignment, {"phq9": phq9_total(12), "cesd": cesd})
    assert response.status_code == 201
    submission = Submission.objects.get()
    rows = {r.instrument: r for r in submission.results.all()}
    assert [r.instrument for r in submission.results.order_by("position")] == ["phq9", "cesd"]
    assert (rows["phq9"].profile, rows["cesd"].profile) == ("us_adolescent", "chinese_adolescent_major")
    assert rows["phq9"].version == scoring.instrument("phq9").version
    assert rows["cesd"].version == scoring.instrument("cesd").version
    assert (rows["phq9"].total, rows["phq9"].valid, rows["cesd"].total) == (12, True, 24)
    assert rows["cesd"].band == "screen_negative"
    assert submission.tier == "yellow"
    assert [r["id"] for r in submission.tier_rules] == ["phq9_total_yellow"]  # the CES-D rule did not fire
    assert submission.policy_version >= 1 and submission.policy_fingerprint


def test_the_default_cesd_profile_tiers_the_same_answers_yellow(cast, api):
    campaign = campaign_open(cast, instruments=["cesd"])
    assignment = ready(cast, campaign, cast.hamlet)
    submit(api.as_(cast.hamlet), assignment, {"cesd": {str(i): 1 for i in range(1, 21)}})
    submission = Submission.objects.get()
    assert submission.results.get().profile == "default"
    assert submission.tier == "yellow" and [r["id"] for r in submission.tier_rules] == ["cesd_screen_positive"]


# --- the tier table -------------------------------------------------------------------------------

TIERS = [
    # instruments, answers, tier, rule ids, crisis shown, alert
    (["phq9", "asq"], {"phq9": phq9_total(0), "asq": ASQ_ACUTE}, "red", {"asq_acute_positive"}, True, True),
    (["phq9", "asq"], {"phq9": phq9_total(2, item9=2), "asq": ASQ_NEGATIVE}, "red", {"phq_item9_high"}, True, True),
    (["phqa"], {"phqa": {**phq9_total(0), "10": False, "11": True, "12": False}}, "red", {"phqa_item11_yes"}, True, True),
    (["phqa"], {"phqa": {**phq9_total(3, item9=3), "10": False, "11": False, "12": False}}, "red", {"phq_item9_high"},
     True, True),
    (["phq9", "asq"], {"phq9": {"9": 2}, "asq": ASQ_NEGATIVE}, "red", {"phq_item9_high"}, True, True),  # unscorable set
    (["asq"], {"asq": {"1": "declined", "2": False, "3": False, "4": False}}, "red", {"asq_acute_positive"}, True, True),
    (["phq9", "asq"], {"phq9": phq9_total(1, item9=1), "asq": ASQ_NEGATIVE}, "orange", {"phq_item9_some"}, True, False),
    (["phqa"], {"phqa": {**phq9_total(0), "10": False, "11": False, "12": True}}, "orange", {"critical_item_floor"},
     True, False),
    (["phq9", "asq"], {"phq9": phq9_total(0), "asq": ASQ_NON_ACUTE}, "orange", {"asq_non_acute_positive"}, False, False),
    (["phq9", "asq"], {"phq9": phq9_total(20), "asq": ASQ_NEGATIVE}, "orange", {"phq9_total_orange"}, False, False),
    (["gad7"], {"gad7": gad7_total(15)}, "orange", {"gad7_total_orange"}, False, False),
    (["gad7"], {"gad7": gad7_total(14)}, "yellow", {"gad7_total_yellow"}, False, False),
    (["phq9", "asq"], {"phq9": phq9_total(12), "asq": ASQ_NEGATIVE}, "yellow", {"phq9_total_yellow"}, False, False),
    (["phq9", "asq"], {"phq9": phq9_total(19), "asq": ASQ_NEGATIVE}, "yellow", {"phq9_total_yellow"}, False, False),
    (["phq9", "asq"], {"phq9": phq9_total(9), "asq": ASQ_NEGATIVE}, "green", set(), False, False),
    (["phq9", "asq"], {"phq9": phq9_total(0), "asq": ASQ_NEGATIVE}, "green", set(), False, False),
]


@pytest.mark.parametrize(("instruments", "answers", "tier", "rule_ids", "crisis", "alert"), TIERS,
                         ids=[f"{t[2]}-{'+'.join(sorted(t[3])) or 'none'}" for t in TIERS])
def test_the_tier_table(cast, api, instruments, answers, tier, rule_ids, crisis, alert):
    campaign = campaign_open(cast, instruments=instruments)
    assignment = ready(cast, campaign, cast.hamlet)
    response = submit(api.as_(cast.hamlet), assignment, answers)
    assert response.status_code == 201, response.json()
    body = response.json()
    submission = Submission.objects.get()
    assert submission.tier == tier
    assert {r["id"] for r in submission.tier_rules} == rule_ids
    assert all(r["tier"] == tier for r in submission.tier_rules)
    assert (body["crisis"] is not None) is crisis
    assert submission.crisis is crisis
    assert CrisisAlert.objects.filter(submission=submission).exists() is alert
    assert "tier" not in body and "results" not in body and "answers" not in body
    limits = {"red": 3600, "orange": 24 * 3600, "yellow": 7 * 24 * 3600}
    if tier in limits:
        due = submission.first_contact_due_at - submission.submitted_at
        assert due.total_seconds() == limits[tier]
    else:
        assert submission.first_contact_due_at is None


def test_the_crisis_response_lists_every_line_to_call(cast, api, campaign):
    cast.dongshan.partner_hospital = cast.kangning
    cast.dongshan.save()
    client, assignment = api.as_(cast.hamlet), ready(cast, campaign, cast.hamlet)
    response = submit(client, assignment, {"phq9": phq9_total(0), "asq": ASQ_ACUTE}, lang="en")
    lines = response.json()["crisis"]["resources"]
    assert [(line["kind"], line["phone"]) for line in lines] == [
        ("school", "0755-1111111"), ("hospital", "0755-3333333"), ("hotline", "12356"), ("police", "110"),
        ("ambulance", "120"),
    ]
    assert all(line["label"] for line in lines)
    assert "Kangning" in lines[1]["label"] or "康宁" in lines[1]["label"]


def test_the_crisis_resources_are_in_the_students_language(cast, api):
    campaign_en = campaign_open(cast, instruments=["asq"])
    en = submit(api.as_(cast.hamlet), ready(cast, campaign_en, cast.hamlet), {"asq": ASQ_ACUTE}, lang="en")
    zh = submit(api.as_(cast.hilda), ready(cast, campaign_en, cast.hilda), {"asq": ASQ_ACUTE}, lang="zh-hans")
    en_labels = [line["label"] for line in en.json()["crisis"]["resources"]]
    zh_labels = [line["label"] for line in zh.json()["crisis"]["resources"]]
    assert en_labels[0] != zh_labels[0]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh_labels[0])


def test_a_schools_override_changes_the_tier(cast, api, campaign):
    cast.dongshan.tier_overrides = {"rules": {"phq9_total_yellow": {"enabled": False}}}
    cast.dongshan.save()
    client, assignment = api.as_(cast.hamlet), ready(cast, campaign, cast.hamlet)
    submit(client, assignment, {"phq9": phq9_total(12), "asq": ASQ_NEGATIVE})
    assert Submission.objects.get().tier == "green"
    # the other school keeps the defaults
    xishan = campaign_open(cast, school=cast.xishan, instruments=["phq9", "asq"])
    submit(api.as_(cast.cordelia), ready(cast, xishan, cast.cordelia), {"phq9": phq9_total(12), "asq": ASQ_NEGATIVE})
    assert Submission.objects.get(student=cast.cordelia).tier == "yellow"


def test_a_schools_override_can_raise_a_tier(cast, api, campaign):
    cast.dongshan.tier_overrides = {"rules": {"phq9_total_yellow": {"tier": "orange"}}, "limits": {"orange": "PT12H"}}
    cast.dongshan.save()
    client, assignment = api.as_(cast.hamlet), ready(cast, campaign, cast.hamlet)
    submit(client, assignment, {"phq9": phq9_total(12), "asq": ASQ_NEGATIVE})
    submission = Submission.objects.get()
    assert submission.tier == "orange"
    assert (submission.first_contact_due_at - submission.submitted_at).total_seconds() == 12 * 3600


# --- stepped screening ----------------------------------------------------------------------------


@pytest.fixture
def stepped(cast, api):
    campaign = campaign_open(cast, instruments=["phq2", "gad2"], stepped=True)
    return campaign, api.as_(cast.hamlet), ready(cast, campaign, cast.hamlet)


def test_a_phq2_of_3_adds_the_phq9_to_the_plan(stepped):
    _campaign, client, assignment = stepped
    below = draft_save(client, assignment, {"phq2": {"1": 1, "2": 1}})
    assert below.json()["plan"] == ["phq2", "gad2"]
    above = draft_save(client, assignment, {"phq2": {"2": 2}})
    assert above.json()["plan"] == ["phq2", "phq9", "gad2"]
    assert client.get(f"{ME}{assignment.pk}/draft/").json()["plan"] == ["phq2", "phq9", "gad2"]
    pages = client.get(f"{ME}{assignment.pk}/questionnaire/?lang=en").json()["instruments"]
    assert [p["code"] for p in pages] == ["phq2", "phq9", "gad2"]
    phq9_items = pages[1]["items"]
    assert [i["answer"] for i in phq9_items[:3]] == [1, 2, None]  # items 1-2 carried from the PHQ-2
    both = draft_save(client, assignment, {"gad2": {"1": 3, "2": 0}})
    assert both.json()["plan"] == ["phq2", "phq9", "gad2", "gad7"]


def test_phq2_items_are_carried_into_the_phq9(stepped):
    _campaign, client, assignment = stepped
    answers = {"phq2": {"1": 2, "2": 2}, "phq9": {str(i): 1 for i in range(3, 10)}, "gad2": {"1": 0, "2": 0}}
    response = submit(client, assignment, answers)
    assert response.status_code == 201, response.json()
    rows = {r.instrument: r for r in Submission.objects.get().results.all()}
    assert set(rows) == {"phq2", "phq9", "gad2"}
    assert rows["phq9"].valid and rows["phq9"].total == 2 + 2 + 7
    assert Submission.objects.get().tier == "orange"  # item 9 = 1, total 11 yellow: orange wins


def test_the_planned_phq9_may_be_left_out(stepped):
    _campaign, client, assignment = stepped
    response = submit(client, assignment, {"phq2": {"1": 3, "2": 1}, "gad2": {"1": 0, "2": 1}})
    assert response.status_code == 201, response.json()
    submission = Submission.objects.get()
    phq9_row = submission.results.get(instrument="phq9")
    assert phq9_row.valid is False and phq9_row.total is None
    assert "phq9" in submission.unscored


def test_phq9_answers_without_a_positive_phq2_are_refused(stepped):
    _campaign, client, assignment = stepped
    draft_save(client, assignment, {"phq2": {"1": 1}})
    response = submit(client, assignment, {"phq2": {"1": 1, "2": 1}, "phq9": phq9_total(4), "gad2": {"1": 0, "2": 0}})
    assert response.status_code == 400 and "answers.phq9" in fields_of(response)
    assert not Submission.objects.exists()
    assert Assignment.objects.get(pk=assignment.pk).draft == {"phq2": {"1": 1}}


# --- state and atomicity --------------------------------------------------------------------------


def test_a_closed_campaign_refuses_submits(cast, hamlet, campaign):
    client, assignment = hamlet
    draft_save(client, assignment, {"phq9": {"1": 1}})
    campaign_close(actor=cast.diana, campaign=campaign)
    response = submit(client, assignment, ANSWERS)
    assert response.status_code == 409 and code_of(response) == "campaign_closed"
    late_draft = draft_save(client, assignment, {"phq9": {"2": 1}})
    assert late_draft.status_code == 409 and code_of(late_draft) == "campaign_closed"
    assert not Submission.objects.exists()
    after = Assignment.objects.get(pk=assignment.pk)
    assert after.status == "missed" and after.draft == {"phq9": {"1": 1}}  # kept, never scored


def test_a_campaign_past_its_window_refuses_submits(hamlet, campaign):
    client, assignment = hamlet
    type(campaign).objects.filter(pk=campaign.pk).update(closes_at=timezone.now() - timezone.timedelta(seconds=1),
                                                         opens_at=timezone.now() - timezone.timedelta(days=1))
    response = submit(client, assignment, ANSWERS)
    assert response.status_code == 409 and code_of(response) == "campaign_closed"
    assert not Submission.objects.exists()


def test_an_invalid_submit_writes_nothing(hamlet):
    client, assignment = hamlet
    draft_save(client, assignment, {"phq9": {"1": 1, "2": 2}})
    before = Assignment.objects.get(pk=assignment.pk)
    bad = {"phq9": {**phq9_total(5), "9": 4}, "asq": {**ASQ_NEGATIVE, "1": "maybe"}}
    response = submit(client, assignment, bad)
    assert response.status_code == 400
    assert {"answers.phq9.9", "answers.asq.1"} <= fields_of(response).keys()
    assert not Submission.objects.exists() and not Result.objects.exists()
    after = Assignment.objects.get(pk=assignment.pk)
    assert (after.status, after.draft, after.draft_saved_at) == ("in_progress", before.draft, before.draft_saved_at)
    # the key of a refused body is not spent: the corrected answers go through with it
    assert submit(client, assignment, ANSWERS).status_code == 201


def test_a_questionnaire_outside_the_sitting_is_refused_on_submit(hamlet):
    client, assignment = hamlet
    response = submit(client, assignment, {**ANSWERS, "gad7": gad7_total(3)})
    assert response.status_code == 400 and "answers.gad7" in fields_of(response)
    assert not Submission.objects.exists()


def test_only_the_student_submits(cast, api, hamlet):
    _client, assignment = hamlet
    for user in (cast.alice, cast.diana):
        assert submit(api.as_(user), assignment, ANSWERS).status_code == 403
    assert not Submission.objects.exists()
