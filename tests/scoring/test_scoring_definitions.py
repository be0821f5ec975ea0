"""Definitions load, pass their schema, say where they are wrong, and speak of risk, not diagnosis."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

import scoring
from scoring.definition import load_definition

CODES = scoring.instrument_codes()
DEFINITIONS = Path(scoring.__file__).resolve().parent / "instruments"

# Diagnostic wording that must never appear in a band label shown to staff. 抑郁症/焦虑症 are
# caught only when not followed by 状 (抑郁症状 = depressive symptoms is fine).
DIAGNOSTIC = re.compile(
    r"disorder|diagnos|has depression|is depressed|illness|disease|patient|"
    r"患有|确诊|障碍|诊断|疾病|病人|患者|抑郁症(?!状)|焦虑症(?!状)|精神病",
    re.IGNORECASE,
)


def test_all_instruments_present() -> None:
    assert set(CODES) == {
        "phq9",
        "phq2",
        "phqa",
        "gad7",
        "gad2",
        "asq",
        "k10",
        "k6",
        "cesd",
        "who5",
        "pss10",
        "sds",
        "sas",
        "upi",
        "scl90",
    }


@pytest.mark.parametrize("code", CODES)
def test_definition_is_complete(code: str) -> None:
    inst = scoring.instrument(code)
    assert inst.code == code and inst.version >= 1
    assert inst.name["en"] and inst.name["zh-hans"]
    assert inst.description["en"] and inst.description["zh-hans"]
    assert inst.citation and inst.licence["name"]
    assert "default" in inst.profiles
    assert all(p.source for p in inst.profiles.values())


@pytest.mark.parametrize("code", CODES)
def test_band_labels_read_as_risk_not_diagnosis(code: str) -> None:
    inst = scoring.instrument(code)
    labels = [b.label[lang] for p in inst.profiles.values() for b in p.bands.levels for lang in ("en", "zh-hans")]
    labels += [f["label"][lang] for f in inst.flags for lang in ("en", "zh-hans")]
    labels += [p.label[lang] for p in inst.profiles.values() for lang in ("en", "zh-hans")]
    for label in labels:
        assert not DIAGNOSTIC.search(label), label


def test_diagnostic_word_check_catches_diagnoses() -> None:
    for bad in ["Major depressive disorder", "has depression", "患有抑郁症", "确诊焦虑症", "焦虑障碍"]:
        assert DIAGNOSTIC.search(bad)
    assert not DIAGNOSTIC.search("中度范围的抑郁症状")


def test_profiles_named_in_the_issue() -> None:
    phq9 = scoring.instrument("phq9").profiles
    assert (phq9["shanghai_general"].cutoff, phq9["us_adolescent"].cutoff) == (7, 11)
    assert "Wang" in phq9["shanghai_general"].source and "2014" in phq9["shanghai_general"].source
    assert "Richardson" in phq9["us_adolescent"].source
    cesd = scoring.instrument("cesd").profiles
    assert (cesd["chinese_adolescent_any"].cutoff, cesd["chinese_adolescent_major"].cutoff) == (24, 29)


def test_loinc_codes() -> None:
    phq9 = scoring.instrument("phq9")
    assert phq9.loinc == {"panel": "44249-1", "total": "44261-6"}
    assert [it.loinc for it in phq9.items[:9]] == [
        "44250-9",
        "44255-8",
        "44259-0",
        "44254-1",
        "44251-7",
        "44258-2",
        "44252-5",
        "44253-3",
        "44260-8",
    ]
    assert dict(phq9.option_sets["frequency"].loinc) == {0: "LA6568-5", 1: "LA6569-3", 2: "LA6570-1", 3: "LA6571-9"}
    gad7 = scoring.instrument("gad7")
    assert gad7.loinc == {"panel": "69737-5", "total": "70274-6"}
    assert scoring.instrument("pss10").loinc == {"total": "106860-0"}


def _broken(tmp_path: Path, code: str, edit: str, new: str) -> Path:
    path = tmp_path / f"{code}.yaml"
    shutil.copy(DEFINITIONS / f"{code}.yaml", path)
    text = path.read_text(encoding="utf-8")
    assert edit in text
    path.write_text(text.replace(edit, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("code", "edit", "new", "field"),
    [
        ("phq9", "version: 1", "version: one", "$.version"),
        ("phq9", "  max: 2\n", "  max: -1\n", "$.missing.max"),
        ("phq9", "      max: 4\n", "      max: 5\n", "$.bands.levels"),  # overlap
        ("phq9", '{item: "9", ge: 1}', '{item: "99", ge: 1}', "$.critical[0].item"),
        ("gad7", "options: frequency, loinc: 69725-0", "options: freq", "$.items[0].options"),
        ("cesd", "cutoff: 24", "cutoff: many", "$.profiles.chinese_adolescent_any.cutoff"),
        ("upi", "{score: total, ge: 25}", "{score: totl, ge: 25}", "$.bands.levels[0].when"),
        ("asq", "in: [true, declined]}}", "in: [true, refused]}}", "$.bands.levels[0].when"),
        ("who5", "multiply: 4, round: none", "multiply: 4.5, round: none", "$.scores.percent"),
    ],
)
def test_schema_errors_name_file_and_field(tmp_path: Path, code: str, edit: str, new: str, field: str) -> None:
    path = _broken(tmp_path, code, edit, new)
    with pytest.raises(scoring.DefinitionError) as err:
        load_definition(path)
    message = str(err.value)
    assert str(path) in message and field in message, message


def test_shipped_yaml_is_plain_data() -> None:
    for path in DEFINITIONS.glob("*.yaml"):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert raw["code"] == path.stem
