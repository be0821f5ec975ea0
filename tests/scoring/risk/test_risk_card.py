"""scoring.risk.card: the model card as JSON and Markdown (English, Simplified Chinese), and its two SVG pictures."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from scoring.risk import card as card_mod
from scoring.risk.card import STRINGS, calibration_svg, card_json, card_markdown, roc_svg

SVG = "{http://www.w3.org/2000/svg}"


def evaluation() -> dict:
    return {
        "model": "logistic",
        "n": 400,
        "positives": 60,
        "folds": 5,
        "roc_auc": {"value": 0.81, "low": 0.76, "high": 0.86},
        "pr_auc": {"value": 0.44, "low": 0.35, "high": 0.53},
        "brier": 0.102,
        "calibration_error": 0.031,
        "calibration": [
            {"bin": i, "predicted": (i - 0.5) / 10, "observed": (i - 0.4) / 10, "count": 40} for i in range(1, 11)
        ],
        "roc_curve": [[0.0, 0.0], [0.05, 0.3], [0.1, 0.5], [0.3, 0.8], [0.6, 0.95], [1.0, 1.0]],
        "thresholds": [
            {
                "tier": "yellow",
                "threshold": 0.2,
                "sensitivity": 0.8,
                "specificity": 0.7,
                "ppv": 0.32,
                "flagged_share": 0.37,
            },
            {
                "tier": "red",
                "threshold": 0.6,
                "sensitivity": 0.3,
                "specificity": 0.97,
                "ppv": None,
                "flagged_share": 0.06,
            },
        ],
        "groups": {
            "gender": [
                {
                    "value": "female",
                    "n": 210,
                    "positives": 35,
                    "roc_auc": 0.83,
                    "sensitivity": 0.82,
                    "specificity": 0.7,
                    "ppv": 0.35,
                    "flagged": False,
                },
                {
                    "value": "male",
                    "n": 190,
                    "positives": 25,
                    "roc_auc": 0.74,
                    "sensitivity": 0.68,
                    "specificity": 0.71,
                    "ppv": 0.28,
                    "flagged": True,
                },
            ],
            "school": [
                {
                    "value": "North <b>|</b>",
                    "n": 12,
                    "positives": 0,
                    "roc_auc": None,
                    "sensitivity": None,
                    "specificity": 0.9,
                    "ppv": None,
                    "flagged": False,
                },
            ],
        },
    }


def make_card(*, synthetic: bool = False, demographics: bool = False, comparison: dict | None = None) -> dict:
    return card_json(
        version="2025.1",
        scope="middle-school-demo",
        evaluation=evaluation(),
        features=["phq9.item.9", "phq9.total", "gad7.total", "rule.phq_item9_high"],
        spec={"instruments": ["phq9", "gad7"], "rules": ["phq_item9_high"], "demographics": demographics},
        data_window=("2024-09-01", "2025-06-30"),
        counts={"sittings": 400, "students": 380, "schools": 3},
        synthetic=synthetic,
        demographics=demographics,
        trained_by="counsellor-admin",
        trained_at="2025-07-01T10:00:00Z",
        comparison=comparison,
    )


def test_json_card_holds_every_section_and_the_screening_aid_sentence():
    card = make_card()
    for key in (
        "version",
        "scope",
        "model",
        "trained_by",
        "trained_at",
        "intended_use",
        "data",
        "features",
        "metrics",
        "calibration",
        "roc_curve",
        "thresholds",
        "groups",
        "flagged_groups",
        "limitations",
        "statement",
    ):
        assert key in card, key
    assert card["statement"] == "This is a screening aid, not a diagnosis."
    assert "raises a screening tier, never lowers one" in card["intended_use"]
    assert card["data"]["window"] == {"start": "2024-09-01", "end": "2025-06-30"}
    assert card["data"]["positives"] == 60 and card["data"]["negatives"] == 340
    assert card["data"]["positive_share"] == pytest.approx(0.15)
    assert card["data"]["counts"]["students"] == 380
    assert card["features"]["count"] == 4 and card["features"]["demographics"] is False
    assert card["metrics"]["roc_auc"] == {"value": 0.81, "low": 0.76, "high": 0.86}
    assert len(card["thresholds"]) == 2 and len(card["calibration"]) == 10
    assert card["limitations"] and all(item["text"] for item in card["limitations"])
    json.dumps(card)  # JSON-ready


def test_synthetic_sentence_appears_if_and_only_if_synthetic():
    sentence = "Trained on synthetic data; not for clinical use."
    real, synth = make_card(synthetic=False), make_card(synthetic=True)
    assert sentence not in json.dumps(real) and sentence not in card_markdown(real)
    assert synth["warning"] == sentence and synth["synthetic"] is True
    md = card_markdown(synth)
    assert sentence in md and md.index(sentence) < md.index("## ")  # prominent: before the first section
    assert "使用合成数据训练" in card_markdown(synth, "zh-hans")
    assert "使用合成数据训练" not in card_markdown(real, "zh-hans")


def test_demographics_are_recorded_as_a_choice():
    on, off = make_card(demographics=True), make_card(demographics=False)
    assert on["features"]["demographics"] is True and "recorded choice" in on["features"]["demographics_note"]
    assert any(item["key"] == "demographics" for item in on["limitations"])
    assert not any(item["key"] == "demographics" for item in off["limitations"])
    assert STRINGS["en"]["demographics_used"] in card_markdown(on)
    assert STRINGS["en"]["demographics_not_used"] in card_markdown(off)


def test_flagged_groups_are_listed_and_marked():
    card = make_card()
    assert card["flagged_groups"] == [
        {"group": "gender", "value": "male", "n": 190, "positives": 25, "sensitivity": 0.68}
    ]
    md = card_markdown(card)
    flag = "⚠ sensitivity more than 0.05 below the whole"
    flagged_rows = [line for line in md.splitlines() if line.startswith("|") and flag in line]
    assert len(flagged_rows) == 1 and "| male |" in flagged_rows[0]
    assert not any(flag in line for line in md.splitlines() if line.startswith("|") and "| female |" in line)
    assert "### Flagged groups" in md and "- gender = male" in md


def test_markdown_has_tables_with_intervals_and_deciles():
    md = card_markdown(make_card())
    assert "| ROC AUC | 0.810 | 0.760–0.860 |" in md
    assert "## Calibration by decile" in md and "| 10 | 0.950 | 0.960 | 40 |" in md
    assert "| yellow | 0.200 | 0.800 | 0.700 | 0.320 | 37.0% |" in md
    assert "| red | 0.600 | 0.300 | 0.970 | — | 6.0% |" in md  # ppv None


def test_outside_text_is_escaped_in_markdown():
    md = card_markdown(make_card())
    assert "<b>" not in md and "North &lt;b&gt;\\|&lt;/b&gt;" in md


def test_chinese_markdown_is_complete_and_has_no_english_headings():
    md = card_markdown(make_card(synthetic=True, demographics=True), "zh-hans")
    for key in (
        "title",
        "intended_use_heading",
        "overview_heading",
        "data_heading",
        "features_heading",
        "metrics_heading",
        "calibration_heading",
        "thresholds_heading",
        "groups_heading",
        "limitations_heading",
        "flagged_heading",
    ):
        assert STRINGS["en"][key] not in md, key
        assert STRINGS["zh-hans"][key] in md, key
    assert "不是诊断" in md
    assert STRINGS["en"]["flag"] not in md and STRINGS["zh-hans"]["flag"] in md
    assert not re.search(r"^#+ .*[A-Za-z]{4,}", md.replace("2025.1", ""), re.MULTILINE)


def test_both_languages_have_the_same_keys():
    assert set(STRINGS["en"]) == set(STRINGS["zh-hans"])
    assert all(value.strip() for strings in STRINGS.values() for value in strings.values())


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="language"):
        card_markdown(make_card(), "fr")


def test_no_diagnosis_talk_beyond_the_not_a_diagnosis_sentence():
    for synthetic in (False, True):
        for demographics in (False, True):
            md = card_markdown(make_card(synthetic=synthetic, demographics=demographics))
            assert "not a diagnosis" in md
            assert "diagnos" not in md.replace("This is a screening aid, not a diagnosis.", "").lower()
            zh = card_markdown(make_card(synthetic=synthetic, demographics=demographics), "zh-hans")
            assert zh.count("诊断") == zh.count("不是诊断")


def test_comparison_is_recorded_and_rendered():
    comparison = {"logistic": {"roc_auc": {"value": 0.81, "low": 0.76, "high": 0.86}}, "chosen": "logistic"}
    card = make_card(comparison=comparison)
    assert card["comparison"] == comparison
    md = card_markdown(card)
    assert "## Model comparison" in md and "| logistic.roc_auc | 0.810 (0.760–0.860) |" in md
    assert "## Model comparison" not in card_markdown(make_card())


def test_a_comparison_of_full_reports_is_summarised():
    boosting = evaluation() | {"model": "boosting", "roc_auc": {"value": 0.79, "low": 0.74, "high": 0.84}}
    card = make_card(comparison={"logistic": evaluation(), "boosting": boosting, "chosen": "logistic"})
    assert set(card["comparison"]["boosting"]) >= {"roc_auc", "pr_auc", "brier", "calibration_error"}
    assert "roc_curve" not in card["comparison"]["boosting"] and "groups" not in card["comparison"]["boosting"]
    md = card_markdown(card)
    assert "| gradient boosting | 0.790 (0.740–0.840) | 0.440 (0.350–0.530) | 0.102 | 0.031 |" in md
    assert "| chosen | logistic |" in md
    assert "| 梯度提升 | 0.790 (0.740–0.840)" in card_markdown(card, "zh-hans")


def test_missing_evaluation_keys_are_named():
    bad = evaluation()
    del bad["roc_curve"]
    with pytest.raises(ValueError, match="roc_curve"):
        card_json(
            version="1",
            scope="s",
            evaluation=bad,
            features=[],
            spec={},
            data_window=("a", "b"),
            counts={},
            synthetic=False,
            demographics=False,
            trained_by="x",
            trained_at="y",
        )


def _polyline_points(svg: str) -> list[tuple[float, float]]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 320 320"
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}title").text
    lines = root.findall(f".//{SVG}polyline")
    assert len(lines) == 1
    return [tuple(float(v) for v in pair.split(",")) for pair in lines[0].get("points").split()]


def test_roc_svg_parses_and_draws_every_point():
    ev = evaluation()
    svg = roc_svg(ev)
    points = _polyline_points(svg)
    assert len(points) == len(ev["roc_curve"])
    # (0,0) is the bottom-left corner, (1,1) the top-right
    assert points[0][0] < points[-1][0] and points[0][1] > points[-1][1]
    root = ET.fromstring(svg)
    assert any(line.get("stroke-dasharray") for line in root.iter(f"{SVG}line"))  # dashed diagonal
    assert "AUC 0.810" in root.find(f"{SVG}title").text
    assert "False positive rate" in svg and "True positive rate" in svg


def test_calibration_svg_parses_and_draws_every_bin():
    ev = evaluation()
    svg = calibration_svg(ev)
    assert len(_polyline_points(svg)) == len(ev["calibration"])
    assert len(ET.fromstring(svg).findall(f".//{SVG}circle")) == 10
    assert "Predicted risk" in svg


def test_svgs_in_chinese_and_with_hostile_text_stay_well_formed():
    ev = evaluation()
    ev["calibration"][0]["bin"] = '<script>alert("x")</script>'
    svg = calibration_svg(ev, "zh-hans")
    assert "<script>" not in svg and "校准曲线" in svg
    ET.fromstring(svg)
    ET.fromstring(roc_svg(ev, "zh-hans"))


def test_empty_calibration_bins_are_left_out():
    ev = evaluation()
    ev["calibration"][3] = {"bin": 4, "predicted": None, "observed": None, "count": 0}
    assert len(_polyline_points(calibration_svg(ev))) == 9


def test_flag_rule_is_recorded():
    assert make_card()["flag_rule"]["sensitivity_gap"] == card_mod.FLAG_GAP == 0.05
