"""The risk model API (issue #5): the registry and its cards for heads of centre and platform admins,
activate and retire for platform admins only, the card's pictures as SVG, and each sitting's risk
scores for staff who cover the student (audited; never the student, a liaison or an analyst)."""

from __future__ import annotations

from typing import Any

import pytest

from screening.core.models import AuditEvent
from screening.riskmodels.models import RiskModel, RiskScore
from tests.cases.case_helpers import flag
from tests.riskmodels.risk_helpers import pointing_to, register

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, settings):
    settings.DATA_DIR = tmp_path


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return list(response.json()["results"])


def error(response: Any, status: int) -> str:
    assert response.status_code == status, response.content
    return str(response.json()["error"]["code"])


@pytest.fixture
def models(cast: Any) -> dict[str, RiskModel]:
    return {"all": register(cast), "east": register(cast, region=cast.east),
            "dongshan": register(cast, school=cast.dongshan), "xishan": register(cast, school=cast.xishan)}


# --- risk models -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "expected"), [("diana", {"all", "east", "dongshan"}), ("edgar", {"all", "xishan"}),
                                               ("root", {"all", "east", "dongshan", "xishan"})])
def test_the_list_shows_the_models_whose_cards_each_may_read(cast, api, models, who, expected):
    rows = results(api.as_(getattr(cast, who)).get(f"{V1}/risk-models/"))
    assert {row["id"] for row in rows} == {models[name].pk for name in expected}
    assert all("card" not in row for row in rows) and all(row["synthetic"] for row in rows)


def test_a_card_is_retrieved_whole_and_another_schools_is_not_found(cast, api, models):
    api.as_(cast.diana)
    body = api.get(f"{V1}/risk-models/{models['dongshan'].pk}/").json()
    assert body["scope"] == f"school:{cast.dongshan.pk}" and body["status"] == "candidate"
    assert body["card"]["metrics"]["roc_auc"]["value"] == models["dongshan"].card["metrics"]["roc_auc"]["value"]
    assert body["card"]["statement"] == "This is a screening aid, not a diagnosis."
    outsider, missing = api.get(f"{V1}/risk-models/{models['xishan'].pk}/"), api.get(f"{V1}/risk-models/999999/")
    assert (outsider.status_code, outsider.json()) == (missing.status_code, missing.json())
    assert error(outsider, 404) == "not_found"
    assert AuditEvent.objects.filter(action="denied", object_type="riskmodels.RiskModel", actor_username="diana",
                                     object_id=str(models["xishan"].pk)).exists()


@pytest.mark.parametrize("who", ["alice", "carol", "lily", "olga", "hamlet", "nobody"])
def test_everyone_else_is_refused_the_registry_for_existing_and_missing_ids(cast, api, models, who):
    api.as_(getattr(cast, who))
    assert error(api.get(f"{V1}/risk-models/"), 403) == "permission_denied"
    for suffix in ("", "roc.svg", "activate/"):
        method = api.post if suffix == "activate/" else api.get
        found, missing = method(f"{V1}/risk-models/{models['all'].pk}/{suffix}"), method(f"{V1}/risk-models/999999/{suffix}")
        assert found.status_code == missing.status_code == 403 and found.json() == missing.json()


def test_only_a_platform_admin_activates_and_retires(cast, api, models):
    dongshan = models["dongshan"]
    assert error(api.as_(cast.diana).post(f"{V1}/risk-models/{dongshan.pk}/activate/"), 403) == "forbidden"
    assert error(api.post(f"{V1}/risk-models/{dongshan.pk}/retire/"), 403) == "forbidden"
    assert error(api.as_(cast.edgar).post(f"{V1}/risk-models/{dongshan.pk}/activate/"), 404) == "not_found"
    dongshan.refresh_from_db()
    assert dongshan.status == "candidate"

    api.as_(cast.root)
    body = api.post(f"{V1}/risk-models/{dongshan.pk}/activate/").json()
    assert body["status"] == "active" and body["activated_by"] == "root" and "card" in body
    assert api.post(f"{V1}/risk-models/{dongshan.pk}/retire/").json()["status"] == "retired"
    assert error(api.post(f"{V1}/risk-models/{dongshan.pk}/activate/"), 409) == "model_retired"
    assert AuditEvent.objects.filter(action="update", object_type="riskmodels.RiskModel",
                                     object_id=str(dongshan.pk)).count() == 2


def test_a_model_whose_file_changed_is_a_conflict_not_a_crash(cast, api, models, settings):
    model = models["all"]
    path = settings.DATA_DIR / model.file
    path.write_bytes(path.read_bytes() + b"\0")
    assert error(api.as_(cast.root).post(f"{V1}/risk-models/{model.pk}/activate/"), 409) == "model_file_changed"
    model.refresh_from_db()
    assert model.status == "candidate"


@pytest.mark.parametrize(("picture", "title"), [("roc.svg", ("ROC curve", "ROC 曲线")),
                                                ("calibration.svg", ("Calibration", "校准曲线"))])
def test_the_cards_pictures_are_svg_in_the_readers_language(cast, api, models, picture, title):
    api.as_(cast.diana)
    response = api.get(f"{V1}/risk-models/{models['east'].pk}/{picture}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and response["Content-Type"].startswith("image/svg+xml")
    svg = response.content.decode()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>") and f"<title>{title[0]}" in svg
    assert f"<title>{title[1]}" in api.get(f"{V1}/risk-models/{models['east'].pk}/{picture}",
                                          HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert error(api.get(f"{V1}/risk-models/{models['xishan'].pk}/{picture}"), 404) == "not_found"


def test_the_card_is_also_markdown_in_the_readers_language(cast, api, models):
    api.as_(cast.diana)
    response = api.get(f"{V1}/risk-models/{models['east'].pk}/card.md", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/markdown")
    text = response.content.decode()
    assert text.startswith("#") and "not a diagnosis" in text and "synthetic" in text
    assert "筛查" in api.get(f"{V1}/risk-models/{models['east'].pk}/card.md", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert error(api.get(f"{V1}/risk-models/{models['xishan'].pk}/card.md"), 404) == "not_found"


# --- risk scores -------------------------------------------------------------------------------------


@pytest.fixture
def scored(cast: Any, monkeypatch: Any) -> dict[str, Any]:
    """An active model for everyone that raises every sitting to orange; hamlet (7-1) and hilda
    (7-2) at Dongshan and cordelia at Xishan each submit a yellow sitting."""
    register(cast, activate=True)
    pointing_to(monkeypatch, "orange")
    return {name: flag(cast, getattr(cast, name), "yellow", exact=False) for name in ("hamlet", "hilda", "cordelia")}


@pytest.mark.parametrize(("who", "expected"), [
    ("alice", {"hamlet", "hilda"}), ("diana", {"hamlet", "hilda"}), ("carol", {"hamlet"}), ("bob", {"cordelia"}),
    ("edgar", {"cordelia"}), ("lily", set()), ("liam", set()), ("olga", set()),
])
def test_risk_scores_are_listed_for_the_students_each_covers(cast, api, scored, who, expected):
    rows = results(api.as_(getattr(cast, who)).get(f"{V1}/risk-scores/"))
    assert {row["student"] for row in rows} == {getattr(cast, name).public_id for name in expected}


def test_a_score_says_the_tiers_and_the_reasons_in_both_languages(cast, api, scored):
    hamlet = scored["hamlet"]
    rows = results(api.as_(cast.alice).get(f"{V1}/risk-scores/?submission={hamlet.pk}"))
    assert len(rows) == 1
    row = rows[0]
    score = RiskScore.objects.get(submission=hamlet)
    assert (row["id"], row["submission"], row["tier_before"], row["tier_after"], row["raised"]) == (
        score.pk, hamlet.pk, "yellow", "orange", True)
    assert row["probability"] == pytest.approx(0.42) and row["source"] == "submit"
    assert row["reasons"] and all({"feature", "weight", "en", "zh-hans"} <= set(r) for r in row["reasons"])


def test_students_are_refused_risk_scores_outright(cast, api, scored):
    score = RiskScore.objects.get(submission=scored["hamlet"])
    api.as_(cast.hamlet)
    assert error(api.get(f"{V1}/risk-scores/"), 403) == "permission_denied"
    assert error(api.get(f"{V1}/risk-scores/{score.pk}/"), 403) == "permission_denied"


def test_a_score_outside_ones_cover_is_not_found_and_the_attempt_logged(cast, api, scored):
    hilda = RiskScore.objects.get(submission=scored["hilda"])
    api.as_(cast.carol)
    outsider, missing = api.get(f"{V1}/risk-scores/{hilda.pk}/"), api.get(f"{V1}/risk-scores/999999/")
    assert (outsider.status_code, outsider.json()) == (missing.status_code, missing.json())
    assert error(outsider, 404) == "not_found"
    assert AuditEvent.objects.filter(action="denied", object_type="riskmodels.RiskScore", actor_username="carol").exists()
    assert error(api.get(f"{V1}/risk-scores/?submission={scored['hilda'].pk}"), 400) == "invalid"


def test_reading_risk_scores_is_audited_per_student(cast, api, scored):
    before = AuditEvent.objects.count()
    api.as_(cast.alice).get(f"{V1}/risk-scores/")
    listed = list(AuditEvent.objects.order_by("id")[before:])
    assert sorted((e.action, e.student_public_id) for e in listed) == sorted(
        [("list", cast.hamlet.public_id), ("list", cast.hilda.public_id)])

    score = RiskScore.objects.get(submission=scored["hamlet"])
    before = AuditEvent.objects.count()
    api.get(f"{V1}/risk-scores/{score.pk}/")
    assert [(e.action, e.student_public_id, e.actor_username) for e in AuditEvent.objects.order_by("id")[before:]] == [
        ("read", cast.hamlet.public_id, "alice")]
