"""The risk model in use: trained from the command, scoring each sitting on submit (probability,
version, three reasons in plain words), raising a tier by at most the allowance and never lowering
one, re-scoring a campaign beside the old scores, and labels taken from counsellors' outcomes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from scoring.risk.card import card_json
from scoring.risk.evaluate import evaluate
from scoring.risk.features import matrix
from scoring.risk.train import TrainConfig, fit
from screening.campaigns.models import Submission
from screening.cases.services import work
from screening.core.models import AuditEvent
from screening.riskmodels import estimate, services, training
from screening.riskmodels.models import RiskModel, RiskScore
from tests.campaigns.campaign_test_helpers import ASQ_NEGATIVE, gad7_total, phq9_total
from tests.cases.case_helpers import campaign_for, case_of, flag

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def data_dir(tmp_path, settings):
    settings.DATA_DIR = tmp_path


@pytest.fixture(scope="module")
def fitted() -> dict[str, Any]:
    """One synthetic model for the module (training is the slow part; registering is per test)."""
    data = training.labelled_synthetic(2500, 5)
    spec = training._spec(data, demographics=False)
    x, y = matrix(spec, data.sittings), np.asarray(data.labels)
    config = TrainConfig(seed=5)
    report = evaluate(x, y, {k: np.asarray(v) for k, v in data.groups.items()}, config)
    card = card_json(version="test", scope="all", evaluation=report, features=spec.names(), spec=spec.to_dict(),
                     data_window=("2026-09-01", "2026-11-01"), counts={"labelled": len(y), "positives": int(y.sum())},
                     synthetic=True, demographics=False, trained_by="test", trained_at="2026-11-29T00:00:00Z")
    return {"estimator": fit(x, y, config), "spec": spec, "config": config, "card": card, "y": y}


def train(cast, fitted, *extra: str) -> RiskModel:
    """Register the module's model as a candidate (``"--activate"``: and activate it)."""
    model = services.risk_model_register(
        actor=cast.root, estimator=fitted["estimator"], spec=fitted["spec"], config=fitted["config"],
        card=fitted["card"], labelled=len(fitted["y"]), positives=int(fitted["y"].sum()), synthetic=True)
    if "--activate" in extra:
        model = services.risk_model_activate(actor=cast.root, model=model)
    return model


def test_the_command_trains_registers_and_activates_with_an_audit_trail(cast, capsys):
    call_command("risk_train", "--by", cast.root.username, "--synthetic", "2500", "--seed", "5", "--activate")
    model = RiskModel.objects.get()
    out = capsys.readouterr().out
    assert "candidate " + model.version in out and "synthetic" in out and "activated" in out
    assert model.status == "active" and model.synthetic and model.card["synthetic"] is True
    assert model.card["metrics"]["roc_auc"]["value"] > 0.75
    assert set(model.card["comparison"]) == {"logistic", "boosting"}
    assert AuditEvent.objects.filter(object_type="riskmodels.RiskModel", object_id=str(model.pk)).count() == 2


def test_only_a_platform_admin_may_train_and_too_few_labels_are_refused(cast):
    with pytest.raises(CommandError, match="platform admin"):
        call_command("risk_train", "--by", cast.diana.username, "--synthetic", "2500")
    with pytest.raises(CommandError, match="200"):
        call_command("risk_train", "--by", cast.root.username)  # no outcomes recorded yet


def test_a_submit_is_scored_by_the_active_model_with_reasons_in_plain_words(cast, fitted):
    model = train(cast, fitted, "--activate")
    submission = flag(cast, cast.hamlet, "yellow", exact=False)
    score = RiskScore.objects.get(submission=submission)
    assert score.model == model and score.source == "submit" and 0.0 <= score.probability <= 1.0
    assert score.tier_before == "yellow" and score.tier_after == submission.tier
    assert 1 <= len(score.reasons) <= 3 and all(r["en"] and r["zh-hans"] for r in score.reasons)
    assert all(r["weight"] > 0 for r in score.reasons)
    if score.raised:  # the raise is a fired rule whose text names the reasons, never a score
        text = next(r for r in submission.tier_rules if r["id"] == "risk_model")["description"]["en"]
        assert model.version in text and score.reasons[0]["en"] in text and str(round(score.probability, 2)) not in text


def test_the_model_raises_by_at_most_the_allowance_and_never_lowers(cast, fitted):
    train(cast, fitted, "--activate")
    cast.dongshan.tier_overrides = {"risk_model_max_raise": 1}
    cast.dongshan.save(update_fields=["tier_overrides"])
    # Severe on every scale but no suicide item: the rules give orange; the model points higher.
    answers = {"phq9": phq9_total(24, item9=0), "gad7": gad7_total(19), "asq": ASQ_NEGATIVE}
    campaign = campaign_for(cast, cast.hamlet)
    campaign.instruments = ["phq9", "gad7", "asq"]
    campaign.save(update_fields=["instruments"])
    from screening.campaigns.services import answering
    from screening.directory.services import student_user_ensure
    from tests.campaigns.campaign_test_helpers import ready

    assignment = ready(cast, campaign, cast.hamlet)
    submission = answering.assignment_submit(actor=student_user_ensure(student=cast.hamlet), assignment_id=assignment.pk,
                                             answers=answers, idempotency_key="k", language="en").submission
    score = RiskScore.objects.get(submission=submission)
    assert score.tier_before == "orange"
    if score.model_tier == "red":
        assert submission.tier == "red" and "risk_model" in [r["id"] for r in submission.tier_rules]
        assert case_of(cast.hamlet).tier == "red"
    # whatever the model says, never below the rules
    assert submission.tier in ("orange", "red")
    low = flag(cast, cast.hilda, "red", exact=False)  # the rules' red stands even if the estimate is low
    assert low.tier == "red" and RiskScore.objects.get(submission=low).tier_after == "red"


def test_with_no_active_model_tiers_come_from_the_rules_alone(cast, fitted):
    train(cast, fitted)  # a candidate only
    submission = flag(cast, cast.hamlet, "yellow")
    assert not RiskScore.objects.filter(submission=submission).exists()


def test_rescoring_adds_scores_beside_the_old_and_raised_tiers_flag_cases(cast, fitted):
    campaign = campaign_for(cast, cast.hamlet)
    first = flag(cast, cast.hamlet, "green", campaign=campaign)
    assert not RiskScore.objects.exists()
    model = train(cast, fitted, "--activate")
    call_command("risk_rescore", "--campaign", str(campaign.pk), "--by", cast.root.username)
    score = RiskScore.objects.get(submission=first)
    assert score.source == "rescore" and score.model == model and score.tier_before == "green"
    first.refresh_from_db()
    assert first.tier == "green"  # history unchanged
    if score.tier_after != "green":
        assert case_of(cast.hamlet).flags.get(risk_score=score).tier == score.tier_after
    call_command("risk_rescore", "--campaign", str(campaign.pk), "--by", cast.root.username)
    assert RiskScore.objects.filter(submission=first).count() == 1  # once per model
    assert AuditEvent.objects.filter(object_type="campaigns.Campaign", object_id=str(campaign.pk),
                                     detail__rescored_with=model.version).count() == 2


def test_a_rescore_that_raises_a_tier_opens_a_case_from_now(cast, fitted, monkeypatch):
    campaign = campaign_for(cast, cast.hamlet)
    submission = flag(cast, cast.hamlet, "green", campaign=campaign)
    model = train(cast, fitted, "--activate")
    real = estimate.estimate

    def high(*args, **kwargs):  # the model points to orange for this sitting
        est = real(*args, **kwargs)
        return estimate.Estimate(est.model, 0.5, estimate.Tier.ORANGE, est.reasons)

    monkeypatch.setattr(estimate, "estimate", high)
    before = timezone.now()
    call_command("risk_rescore", "--campaign", str(campaign.pk), "--by", cast.root.username)
    score = RiskScore.objects.get(submission=submission, model=model)
    assert (score.tier_before, score.tier_after) == ("green", "yellow")  # one tier above green at most
    case = case_of(cast.hamlet)
    assert case.tier == "yellow" and case.first_contact_due_at >= before + dt.timedelta(days=7)


def test_labels_come_from_the_first_interview_after_the_flag(cast):
    hamlet = flag(cast, cast.hamlet, "orange")
    flag(cast, cast.hilda, "yellow")
    flag(cast, cast.cordelia, "orange")
    now = timezone.now()
    work.contact_record(actor=cast.alice, case=case_of(cast.hamlet), at=now, method="phone", participants=["student"],
                        outcome="could_not_reach")
    work.contact_record(actor=cast.alice, case=case_of(cast.hamlet), at=now, method="face_to_face",
                        participants=["student"], outcome="confirmed_need")
    work.contact_record(actor=cast.alice, case=case_of(cast.hilda), at=now, method="face_to_face",
                        participants=["student"], outcome="in_care_elsewhere")  # not a label
    work.contact_record(actor=cast.bob, case=case_of(cast.cordelia), at=now, method="online",
                        participants=["student"], outcome="no_current_need")
    everyone = training.labelled_from_outcomes(actor=cast.root)
    assert sorted(everyone.labels) == [0, 1]
    dongshan = training.labelled_from_outcomes(actor=cast.root, school=cast.dongshan)
    assert dongshan.labels == [1] and dongshan.sittings[0]["answers"] == Submission.objects.get(pk=hamlet.pk).answers
    assert dongshan.groups["school_kind"] == [cast.dongshan.kind]




def test_demographics_are_a_recorded_choice_and_the_card_shows_what_they_change(cast):
    call_command("risk_train", "--by", cast.root.username, "--synthetic", "2500", "--seed", "5", "--demographics")
    model = RiskModel.objects.get()
    assert model.demographics and model.card["features"]["demographics"] is True
    assert any(name.startswith("gender.") for name in model.card["features"]["names"])
    without = model.card["without_demographics"]
    assert set(without["groups"]) == set(model.card["groups"]) == {"gender", "school_kind", "grade_band"}
    assert 0.5 < without["roc_auc"]["value"] <= 1.0
