"""The command line is a contract: exit codes, JSON keys, files written beside the input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from scoring_test_helpers import answers_for_total

import scoring

ROOT = Path(scoring.__file__).resolve().parents[1]
MADE_UP = Path(__file__).parent / "fixtures" / "made_up_licensed_pack.yaml"
KEYS = {"instrument", "version", "profile", "valid", "total", "band", "scores", "subscales", "critical", "problems"}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "XINQIAO_LICENSED_TEXT_PACK"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "scoring", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        encoding="utf-8",
    )


def score_cli(code: str, answers: Any, *extra: str) -> tuple[int, dict[str, Any]]:
    text = answers if isinstance(answers, str) else json.dumps(answers)
    proc = run("score", code, "--answers", text, *extra)
    return proc.returncode, json.loads(proc.stdout)


def test_list() -> None:
    proc = run("list")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == list(scoring.instrument_codes())
    assert "phq9\t1\tPatient Health Questionnaire-9 (PHQ-9)" in proc.stdout


@pytest.mark.parametrize(
    ("code", "answers", "profile", "expect"),
    [
        (
            "phq9",
            answers_for_total("phq9", 12),
            None,
            {"valid": True, "total": 12, "band": "moderate", "critical": [], "profile": "default"},
        ),
        (
            "phq9",
            answers_for_total("phq9", 8),
            "shanghai_general",
            {"band": "screen_positive", "profile": "shanghai_general"},
        ),
        ("phq9", {"1": 3, "9": 1}, None, {"valid": False, "total": None, "band": None, "critical": ["9"]}),
        ("sds", answers_for_total("sds", 43), None, {"total": 43, "scores": {"standard": 53}, "band": "mild"}),
        (
            "who5",
            {"1": 1, "2": 2, "3": 2, "4": 2, "5": 0},
            None,
            {"total": 7, "scores": {"percent": 28}, "band": "likely_depression", "flags": ["low_item"]},
        ),
        (
            "asq",
            {"1": "declined", "2": False, "3": False, "4": False, "5": True},
            None,
            {"band": "acute_positive", "critical": ["5"], "total": None},
        ),
        (
            "upi",
            {**{str(i): False for i in range(1, 61)}, "wants_counselling": True},
            None,
            {"band": "class_1", "total": 0},
        ),
        (
            "phqa",
            {**answers_for_total("phqa", 3), "10": True, "11": True, "12": False},
            None,
            {"critical": ["11"], "band": "minimal"},
        ),
    ],
)
def test_score_ok(code: str, answers: Any, profile: str | None, expect: dict[str, Any]) -> None:
    extra = ("--profile", profile) if profile else ()
    status, out = score_cli(code, answers, *extra)
    assert status == 0
    assert KEYS <= set(out)
    assert out["instrument"] == code and out["version"] == 1
    for key, value in expect.items():
        assert out[key] == value, key


def test_score_scl90_keys() -> None:
    status, out = score_cli("scl90", answers_for_total("scl90", 200))
    assert status == 0
    assert set(out["scores"]) == {"gsi", "positive_items"}
    assert len(out["subscales"]) == 10 and out["band"] == "screen_positive"


@pytest.mark.parametrize(
    "answers",
    [{"1": True}, {"1": 5}, {"x": 1}, {"1": "2"}, "[1, 2]", "{not json", ""],
)
def test_score_malformed_exits_2_with_problems(answers: Any) -> None:
    status, out = score_cli("phq9", answers)
    assert status == 2
    assert KEYS <= set(out) and out["problems"] and out["valid"] is False


def test_unknown_code_or_profile_exits_2() -> None:
    proc = run("score", "phq99", "--answers", "{}")
    assert proc.returncode == 2 and "phq99" in proc.stderr
    assert json.loads(proc.stdout)["problems"][0]["code"] == "unknown_instrument"
    proc = run("score", "phq9", "--answers", "{}", "--profile", "mars")
    assert proc.returncode == 2 and "mars" in proc.stderr
    assert run("show", "nope").returncode == 2


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_show_shipped(lang: str) -> None:
    proc = run("show", "phq9", "--lang", lang)
    assert proc.returncode == 0
    text = proc.stdout
    assert scoring.item_texts("phq9", lang).items["9"] in text
    assert scoring.item_texts("phq9", lang).option_label("frequency", 3) in text  # type: ignore[operator]
    for band in ("minimal", "moderately_severe", "screen_positive"):
        assert band in text
    assert "score phq9 --answers" in text


def test_show_documents_extra_keys() -> None:
    assert '"declined"' in run("show", "asq", "--lang", "en").stdout
    phqa = run("show", "phqa", "--lang", "en").stdout
    assert "  11. " in phqa and "  12. " in phqa and "critical" in phqa.lower()
    assert "wants_counselling" in run("show", "upi", "--lang", "en").stdout


@pytest.mark.parametrize("code", ["sds", "sas", "upi", "scl90"])
def test_show_licensed_without_pack(code: str) -> None:
    proc = run("show", code, "--lang", "en")
    assert proc.returncode == 0
    assert "licensed and not installed" in proc.stdout
    inst = scoring.instrument(code)
    opts = inst.items[0].options
    assert f"{opts.name}: " in proc.stdout  # option values are shown, so a user can score
    assert "MADE-UP" not in proc.stdout


def test_show_licensed_with_pack() -> None:
    proc = run("show", "sds", "--lang", "zh-hans", env={"XINQIAO_LICENSED_TEXT_PACK": str(MADE_UP)})
    assert proc.returncode == 0 and "测试用虚构文本" in proc.stdout


def _answer_rows() -> list[dict[str, Any]]:
    return [answers_for_total("phq9", 12), {"1": 3, "2": 3, "9": 2}, {**answers_for_total("phq9", 4), "8": None}]


def test_score_file_csv_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "answers.csv"
    frame = pd.DataFrame(_answer_rows())
    frame.insert(0, "student", ["a", "b", "c"])
    frame.to_csv(src, index=False)
    proc = run("score-file", "phq9", str(src), "--profile", "shanghai_general")
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(tmp_path / "answers.scored.csv", keep_default_na=False)
    assert out["student"].tolist() == ["a", "b", "c"]
    assert out["valid"].tolist() == [True, False, True]
    assert out["band"].tolist() == ["screen_positive", "", "screen_negative"]
    assert out["profile"].tolist() == ["shanghai_general"] * 3
    assert out["critical"].astype(str).tolist() == ["", "9", ""]


def test_score_file_xlsx_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "answers.xlsx"
    frame = pd.DataFrame(_answer_rows())
    frame.columns = [int(c) for c in frame.columns]  # spreadsheets often store headers as numbers
    frame.to_excel(src, index=False, engine="xlsxwriter")
    proc = run("score-file", "phq9", str(src))
    assert proc.returncode == 0, proc.stderr
    out = pd.read_excel(tmp_path / "answers.scored.xlsx", engine="openpyxl")
    assert out["total"].tolist()[0] == 12 and pd.isna(out["total"].tolist()[1])
    assert out["band"].tolist()[0] == "moderate"
    assert out["valid"].tolist() == [True, False, True]


def test_score_file_bad_values_exit_2(tmp_path: Path) -> None:
    src = tmp_path / "answers.csv"
    pd.DataFrame({str(i): [1, 7] for i in range(1, 10)}).to_csv(src, index=False)
    proc = run("score-file", "phq9", str(src))
    assert proc.returncode == 2 and "column '1'" in proc.stderr
    assert not (tmp_path / "answers.scored.csv").exists()
