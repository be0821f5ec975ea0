"""The risk model's pages (issue #5): heads of centre read the cards of the models that may score
their school (metrics, calibration, per-group table, two pictures), platform admins activate and
retire; counsellors see, on a flagged student, why the model raised the tier; with no active
model the pages say tiers come from the rules alone. Students, liaisons and analysts get nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from screening.core.models import AuditEvent
from screening.directory.models import Student
from screening.directory.services import student_user_ensure
from screening.riskmodels.models import RiskModel, RiskScore
from tests.cases.case_helpers import case_of, flag
from tests.riskmodels.risk_helpers import pointing_to, register

pytestmark = pytest.mark.django_db

MODELS = reverse("web:risk-models")
RULES_ALONE = "No risk model is active for this school: tiers come from the rules alone."


@pytest.fixture(autouse=True)
def data_dir(tmp_path, settings):
    settings.DATA_DIR = tmp_path


def sign_in(client: Client, who: Any, language: str = "en") -> Client:
    client.cookies["django_language"] = language
    client.force_login(student_user_ensure(student=who) if isinstance(who, Student) else who)
    return client


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return str(response.content.decode())


def card_url(model: RiskModel) -> str:
    return reverse("web:risk-model", args=[model.pk])


# --- the registry and the cards ------------------------------------------------------------------


def test_a_head_of_centre_lists_the_models_that_may_score_their_school(cast, client):
    everyone, own = register(cast, activate=True), register(cast, school=cast.dongshan)
    xishan = register(cast, school=cast.xishan)
    html = page(sign_in(client, cast.diana), MODELS)
    assert everyone.version in html and own.version in html and xishan.version not in html
    assert "Trained on synthetic data; not for clinical use." in html
    row = re.search(rf'<tr data-model="{everyone.pk}">(.*?)</tr>', html, re.S)
    assert row is not None and "active" in row.group(1) and "every school" in row.group(1)
    assert f'href="{MODELS}"' in page(client, reverse("web:home"))  # in the navigation


def test_the_card_shows_metrics_calibration_groups_and_both_pictures(cast, client):
    model = register(cast, school=cast.dongshan)
    html = page(sign_in(client, cast.diana), card_url(model))
    card = model.card
    assert "This is a screening aid, not a diagnosis." in html
    assert "Trained on synthetic data; not for clinical use." in html
    assert f"{card['metrics']['roc_auc']['value']:.3f}" in html and f"{card['metrics']['roc_auc']['low']:.3f}" in html
    assert "Brier score" in html and "Calibration by decile" in html and "Tier thresholds" in html
    assert html.count("<svg") == 2 and "ROC curve" in html
    assert "PHQ-9 item 9" in html and "phq9.item.9</li>" not in html  # features in plain words
    groups = re.search(r'<table class="groups">.*?</table>', html, re.S)
    assert groups is not None and "female" in groups.group(0)
    flagged = re.findall(r'<tr class="flagged">(.*?)</tr>', groups.group(0), re.S)
    assert len(flagged) == 1 and "sensitivity more than 0.05 below the whole" in flagged[0]
    for threshold in card["thresholds"]:
        assert f"{threshold['sensitivity']:.3f}" in html and f"{threshold['specificity']:.3f}" in html
    assert "Limitations" in html and reverse("web:risk-model-activate", args=[model.pk]) not in html  # not diana's


def test_the_card_speaks_the_readers_language(cast, client):
    model = register(cast, school=cast.dongshan)
    html = page(sign_in(client, cast.diana, "zh-hans"), card_url(model))
    assert "这是筛查辅助工具，不是诊断。" in html and "PHQ-9 第9题" in html and "分组结果" in html
    assert "ROC 曲线" in html  # the pictures too


def test_another_schools_model_is_not_found_for_a_head_of_centre(cast, client):
    xishan = register(cast, school=cast.xishan)
    assert sign_in(client, cast.diana).get(card_url(xishan)).status_code == 404
    assert client.post(reverse("web:risk-model-activate", args=[xishan.pk])).status_code == 404
    assert AuditEvent.objects.filter(action="denied", object_type="riskmodels.RiskModel", actor_username="diana").exists()
    assert page(sign_in(Client(), cast.edgar), card_url(xishan))


@pytest.mark.parametrize("who", ["alice", "carol", "lily", "olga", "hamlet"])
def test_only_heads_of_centre_and_platform_admins_read_the_cards(cast, client, who):
    model = register(cast)
    sign_in(client, getattr(cast, who))
    assert client.get(MODELS).status_code == 403
    assert client.get(card_url(model)).status_code == 403
    assert client.post(reverse("web:risk-model-activate", args=[model.pk])).status_code == 403
    assert f'href="{MODELS}"' not in client.get(reverse("web:home")).content.decode()


def test_only_a_platform_admin_activates_and_retires(cast, client):
    model = register(cast, school=cast.dongshan)
    sign_in(client, cast.diana)
    assert client.post(reverse("web:risk-model-activate", args=[model.pk])).status_code == 403
    assert client.post(reverse("web:risk-model-retire", args=[model.pk])).status_code == 403
    model.refresh_from_db()
    assert model.status == "candidate"

    sign_in(client, cast.root)
    html = page(client, card_url(model))
    assert reverse("web:risk-model-activate", args=[model.pk]) in html and reverse("web:risk-model-retire", args=[model.pk]) in html
    response = client.post(reverse("web:risk-model-activate", args=[model.pk]), follow=True)
    assert response.status_code == 200 and "is now the active model of its scope" in response.content.decode()
    model.refresh_from_db()
    assert model.status == "active" and model.activated_by == cast.root

    client.post(reverse("web:risk-model-retire", args=[model.pk]))
    model.refresh_from_db()
    assert model.status == "retired"
    refused = client.post(reverse("web:risk-model-activate", args=[model.pk]), follow=True)
    assert "A retired model cannot be activated again" in refused.content.decode()  # the service's refusal
    model.refresh_from_db()
    assert model.status == "retired"


def test_a_model_whose_file_changed_is_not_activated(cast, client, settings):
    model = register(cast)
    path = settings.DATA_DIR / model.file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    response = sign_in(client, cast.root).post(reverse("web:risk-model-activate", args=[model.pk]), follow=True)
    assert response.status_code == 200 and "has changed since it was trained" in response.content.decode()
    model.refresh_from_db()
    assert model.status == "candidate"


def test_activate_and_retire_take_posts_only(cast, client):
    model = register(cast)
    assert sign_in(client, cast.root).get(reverse("web:risk-model-activate", args=[model.pk])).status_code == 405


# --- the reasons and the notice beside a student's tiers -------------------------------------------


def test_with_no_active_model_the_pages_say_tiers_come_from_the_rules_alone(cast, client):
    register(cast)  # a candidate only
    flag(cast, cast.hamlet, "yellow")
    sign_in(client, cast.alice)
    assert RULES_ALONE in page(client, reverse("web:case", args=[case_of(cast.hamlet).pk]))
    assert RULES_ALONE in page(client, reverse("web:student", args=[cast.hamlet.public_id]))


def test_a_counsellor_sees_why_the_model_raised_a_students_tier(cast, client, monkeypatch):
    model = register(cast, activate=True)
    pointing_to(monkeypatch, "orange")
    submission = flag(cast, cast.hamlet, "yellow", exact=False)
    score = RiskScore.objects.get(submission=submission)
    assert (score.tier_before, score.tier_after) == ("yellow", "orange") and score.reasons

    sign_in(client, cast.carol)  # class-limited, covers hamlet
    for url in (reverse("web:case", args=[case_of(cast.hamlet).pk]), reverse("web:student", args=[cast.hamlet.public_id])):
        html = page(client, url)
        assert f"The risk model {model.version} raised the tier from yellow to orange." in html
        assert all(escape(r["en"]) in html for r in score.reasons) and "raised this estimate." in html
        assert f"Tiers: rules, and the risk model {model.version} (may raise a tier by at most 1)." in html
        assert "Estimated chance that an interview finds a need for support: 42%" in html  # staff only
        assert RULES_ALONE not in html and "diagnos" not in html.replace("not a diagnosis", "")
        assert card_url(model) not in html  # a counsellor does not read cards

    html = page(sign_in(Client(), cast.diana, "zh-hans"), reverse("web:student", args=[cast.hamlet.public_id]))
    assert all(escape(r["zh-hans"]) in html for r in score.reasons)
    assert card_url(model) in html  # the head of centre may open the card


def test_the_notice_names_the_schools_allowance(cast, client):
    model = register(cast, activate=True, school=cast.dongshan)
    cast.dongshan.tier_overrides = {"risk_model_max_raise": 2}
    cast.dongshan.save(update_fields=["tier_overrides"])
    flag(cast, cast.hilda, "orange", exact=False)
    html = page(sign_in(client, cast.alice), reverse("web:student", args=[cast.hilda.public_id]))
    assert f"Tiers: rules, and the risk model {model.version} (may raise a tier by at most 2)." in html


def test_another_schools_model_leaves_a_school_with_the_rules_alone(cast, client):
    register(cast, activate=True, school=cast.xishan)
    flag(cast, cast.hamlet, "yellow")
    assert RULES_ALONE in page(sign_in(client, cast.alice), reverse("web:case", args=[case_of(cast.hamlet).pk]))


def test_a_student_never_sees_a_risk_score(cast, client, monkeypatch):
    register(cast, activate=True)
    pointing_to(monkeypatch, "orange")
    flag(cast, cast.hamlet, "yellow", exact=False)
    sign_in(client, cast.hamlet)
    assert client.get(reverse("web:student", args=[cast.hamlet.public_id])).status_code == 403
    assert client.get(reverse("web:case", args=[case_of(cast.hamlet).pk])).status_code == 403
    home = client.get(reverse("web:home"), follow=True).content.decode()
    assert "risk model" not in home.lower() and "42%" not in home and "raised this estimate" not in home


@pytest.mark.parametrize("who", ["lily", "olga"])
def test_liaisons_and_analysts_see_no_reasons(cast, client, monkeypatch, who):
    register(cast, activate=True)
    pointing_to(monkeypatch, "orange")
    flag(cast, cast.hamlet, "yellow", exact=False)
    sign_in(client, getattr(cast, who))
    assert client.get(reverse("web:student", args=[cast.hamlet.public_id])).status_code == 404
    assert client.get(reverse("web:case", args=[case_of(cast.hamlet).pk])).status_code == 403


def test_a_card_with_demographics_shows_what_they_change(cast, client):
    model = register(cast)
    card = dict(model.card)
    card["without_demographics"] = {"roc_auc": {"value": 0.811}, "groups": {
        "gender": [{"value": "female", "sensitivity": 0.7}, {"value": "male", "sensitivity": 0.6}]}}
    model.card = card
    model.save(update_fields=["card"])
    page = sign_in(client, cast.diana).get(reverse("web:risk-model", args=[model.pk])).content.decode()
    assert "What the demographic features change" in page and "0.811" in page and "0.600" in page
    plain = register(cast)
    assert "What the demographic features change" not in sign_in(client, cast.diana).get(
        reverse("web:risk-model", args=[plain.pk])).content.decode()
