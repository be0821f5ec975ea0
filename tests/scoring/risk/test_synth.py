"""scoring.risk.synth: synthetic cohorts are deterministic, valid for the engine and plausibly prevalent."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import scoring
from scoring.risk import SyntheticSitting, cohort
from scoring.risk.cli import main

ROOT = Path(scoring.__file__).resolve().parents[1]


@cache
def big() -> tuple[SyntheticSitting, ...]:
    return tuple(cohort(5000, 1))


@cache
def phq9_totals() -> np.ndarray:
    return np.array([scoring.score("phq9", s.answers["phq9"]).total for s in big()], dtype=float)


def recorded_positive_rate(sittings: list[SyntheticSitting], **match: str) -> float:
    group = [s for s in sittings if s.outcome is not None and all(getattr(s, k) == v for k, v in match.items())]
    return sum(s.outcome == "confirmed_need" for s in group) / len(group)


def test_the_same_seed_gives_the_same_cohort_and_another_seed_does_not() -> None:
    first, again, other = cohort(300, 42), cohort(300, 42), cohort(300, 43)
    assert [s.to_dict() for s in first] == [s.to_dict() for s in again]
    assert [s.to_dict() for s in first] != [s.to_dict() for s in other]


def test_a_sitting_has_the_promised_shape() -> None:
    sittings = cohort(500, 3)
    assert [s.id for s in sittings[:2]] == ["SYN-000001", "SYN-000002"]
    bands = {"primary": (10, 12), "junior": (13, 15), "senior": (16, 18), "university": (19, 25)}
    for s in sittings:
        assert set(s.answers) == {"phq9", "gad7", "asq"}
        assert s.gender in ("female", "male") and s.grade_band == s.school_kind
        assert bands[s.grade_band][0] <= s.age <= bands[s.grade_band][1]
        assert set(s.latent) == {"depression", "anxiety", "distress"}
        assert s.outcome in ("confirmed_need", "no_current_need", None)
        if s.outcome is not None:
            assert (s.outcome == "confirmed_need") == s.need  # no bias asked for: outcome is the truth
    json.dumps([s.to_dict() for s in sittings])  # plain JSON values only


@pytest.mark.parametrize("code", ["phq9", "gad7", "asq"])
def test_default_answers_score_valid_with_no_problems(code: str) -> None:
    for s in cohort(1000, 5):
        result = scoring.score(code, s.answers[code])
        assert result.valid and not result.problems, (s.id, s.answers[code], result.problems)


def test_every_instrument_is_answered_validly() -> None:
    codes = scoring.instrument_codes()
    sittings = cohort(400, 11, instruments=codes)
    for code in codes:
        definition = scoring.instrument(code)
        for s in sittings:
            answers = s.answers[code]
            result = scoring.score(code, answers)
            assert result.valid and not result.problems, (code, s.id, answers, result.problems)
            # conditional items appear exactly when the form would show them
            assert set(answers) == scoring.asked_items(code, answers)
        # answers vary: more than one printed value is used for every always-asked item
        for item in definition.items:
            if item.asked_if is None:
                assert len({repr(s.answers[code][item.id]) for s in sittings}) > 1, (code, item.id)


def test_reverse_keyed_items_run_the_scored_direction() -> None:
    """A reverse-keyed item's printed value falls as the instrument's total rises."""
    sittings = cohort(2000, 13, instruments=("sds",))
    totals = np.array([scoring.score("sds", s.answers["sds"]).total for s in sittings], dtype=float)
    for item in scoring.instrument("sds").items:
        printed = np.array([s.answers["sds"][item.id] for s in sittings], dtype=float)
        r = np.corrcoef(printed, totals)[0, 1]
        assert (r < -0.2) if item.reverse else (r > 0.2), (item.id, item.reverse, r)


def test_wellbeing_runs_against_depression() -> None:
    sittings = cohort(2000, 17, instruments=("phq9", "who5"))
    phq = [scoring.score("phq9", s.answers["phq9"]).total for s in sittings]
    who = [scoring.score("who5", s.answers["who5"]).total for s in sittings]
    assert np.corrcoef(np.array(phq, dtype=float), np.array(who, dtype=float))[0, 1] < -0.3


def test_prevalence_is_plausible_for_students() -> None:
    sittings = big()
    assert 0.15 <= float(np.mean(phq9_totals() >= 10)) <= 0.25
    assert 0.10 <= float(np.mean([s.need for s in sittings])) <= 0.15
    asq_positive = np.mean([scoring.score("asq", s.answers["asq"]).band != "negative" for s in sittings])
    assert 0.02 <= float(asq_positive) <= 0.07
    interviewed = np.array([s.outcome is not None for s in sittings])
    assert 0.15 < interviewed.mean() < 0.6
    # higher scores are far more likely to be interviewed
    totals = phq9_totals()
    assert interviewed[totals >= 10].mean() > interviewed[totals < 5].mean() + 0.3


def test_girls_and_older_students_score_a_little_higher() -> None:
    totals = phq9_totals()
    female = np.array([s.gender == "female" for s in big()])
    assert totals[female].mean() > totals[~female].mean()
    university = np.array([s.grade_band == "university" for s in big()])
    primary = np.array([s.grade_band == "primary" for s in big()])
    assert totals[university].mean() > totals[primary].mean()


def test_need_goes_with_the_phq9_total_but_is_not_a_cut_off() -> None:
    totals = phq9_totals()
    need = np.array([s.need for s in big()])
    assert totals[need].mean() > totals[~need].mean() + 4
    assert need[totals < 10].any() and not need[totals >= 10].all()


def test_under_recording_lowers_that_groups_recorded_rate_only() -> None:
    fair = cohort(5000, 1)
    biased = cohort(5000, 1, under_recorded=("male", 0.5))
    assert [s.need for s in fair] == [s.need for s in biased]  # the truth does not move
    assert [s.outcome is None for s in fair] == [s.outcome is None for s in biased]  # nor who is seen
    assert recorded_positive_rate(biased, gender="male") < 0.75 * recorded_positive_rate(fair, gender="male")
    assert recorded_positive_rate(biased, gender="female") == recorded_positive_rate(fair, gender="female")
    missed = [s for s in biased if s.gender == "male" and s.need and s.outcome == "no_current_need"]
    assert missed and all(s.outcome is not None for s in missed)


def test_under_recording_accepts_a_grade_band() -> None:
    fair = cohort(3000, 2)
    biased = cohort(3000, 2, under_recorded=("senior", 1.0))
    assert (
        recorded_positive_rate(biased, grade_band="senior") == 0.0 < recorded_positive_rate(fair, grade_band="senior")
    )
    assert recorded_positive_rate(biased, grade_band="junior") == recorded_positive_rate(fair, grade_band="junior")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"instruments": ("phq9", "nope")}, "unknown instrument 'nope'"),
        ({"instruments": ("phq9", "phq9")}, "once"),
        ({"under_recorded": ("robots", 0.5)}, "group"),
        ({"under_recorded": ("male", 1.5)}, "share"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cohort(10, 1, **kwargs)  # type: ignore[arg-type]


def test_cli_writes_a_synthetic_header_then_one_line_per_sitting(tmp_path: Path) -> None:
    out = tmp_path / "cohort.jsonl"
    assert main(["synth", "--n", "25", "--seed", "4", "--instruments", "phq9,who5", "--out", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header == {
        "synthetic": True,
        "note": "Synthetic data, not for clinical use.",
        "n": 25,
        "seed": 4,
        "instruments": ["phq9", "who5"],
    }
    rows = [json.loads(line) for line in lines[1:]]
    assert len(rows) == 25
    assert rows == [s.to_dict() for s in cohort(25, 4, instruments=("phq9", "who5"))]


def test_cli_writes_to_stdout_and_passes_the_bias_on() -> None:
    buffer = io.StringIO()
    assert main(["synth", "--n", "5", "--seed", "1", "--under-recorded", "male=0.5"], stdout=buffer) == 0
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 6 and json.loads(lines[0])["instruments"] == ["phq9", "gad7", "asq"]


@pytest.mark.parametrize(
    "args",
    [
        ["synth", "--n", "5", "--seed", "1", "--instruments", "phq9,nope"],
        ["synth", "--n", "5", "--seed", "1", "--under-recorded", "male"],
        ["synth", "--n", "5", "--seed", "1", "--under-recorded", "male=lots"],
        ["synth", "--n", "-1", "--seed", "1"],
    ],
)
def test_cli_bad_arguments_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert "error:" in capsys.readouterr().err


def test_cli_malformed_line_exits_2() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--n", "many", "--seed", "1"])
    assert exc.value.code == 2


def test_python_dash_m_scoring_risk_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scoring.risk", "synth", "--n", "3", "--seed", "9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 4 and json.loads(lines[0])["synthetic"] is True
