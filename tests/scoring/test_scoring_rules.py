"""Table-driven tests of the published scoring rules (INSTRUMENTS.md). No database."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from scoring_test_helpers import answers_for_total

import scoring

# (code, profile, total, expected band): both sides of every band boundary.
BOUNDARIES = [
    *[
        ("phq9", None, t, b)
        for t, b in [
            (0, "minimal"),
            (4, "minimal"),
            (5, "mild"),
            (9, "mild"),
            (10, "moderate"),
            (14, "moderate"),
            (15, "moderately_severe"),
            (19, "moderately_severe"),
            (20, "severe"),
            (27, "severe"),
        ]
    ],
    *[
        ("phqa", None, t, b)
        for t, b in [
            (0, "minimal"),
            (4, "minimal"),
            (5, "mild"),
            (9, "mild"),
            (10, "moderate"),
            (14, "moderate"),
            (15, "moderately_severe"),
            (19, "moderately_severe"),
            (20, "severe"),
            (27, "severe"),
        ]
    ],
    ("phq9", "shanghai_general", 6, "screen_negative"),
    ("phq9", "shanghai_general", 7, "screen_positive"),
    ("phq9", "us_adolescent", 10, "screen_negative"),
    ("phq9", "us_adolescent", 11, "screen_positive"),
    ("phq9", "default", 9, "mild"),
    ("phq2", None, 0, "negative"),
    ("phq2", None, 2, "negative"),
    ("phq2", None, 3, "positive"),
    ("phq2", None, 6, "positive"),
    ("gad2", None, 2, "negative"),
    ("gad2", None, 3, "positive"),
    *[
        ("gad7", None, t, b)
        for t, b in [
            (0, "minimal"),
            (4, "minimal"),
            (5, "mild"),
            (9, "mild"),
            (10, "moderate"),
            (14, "moderate"),
            (15, "severe"),
            (21, "severe"),
        ]
    ],
    *[
        ("k10", None, t, b)
        for t, b in [
            (10, "low"),
            (15, "low"),
            (16, "moderate"),
            (21, "moderate"),
            (22, "high"),
            (29, "high"),
            (30, "very_high"),
            (50, "very_high"),
        ]
    ],
    ("k6", None, 0, "below_threshold"),
    ("k6", None, 12, "below_threshold"),
    ("k6", None, 13, "serious_distress"),
    ("k6", None, 24, "serious_distress"),
    ("cesd", None, 15, "below_threshold"),
    ("cesd", None, 16, "at_risk"),
    ("cesd", "chinese_adolescent_any", 23, "screen_negative"),
    ("cesd", "chinese_adolescent_any", 24, "screen_positive"),
    ("cesd", "chinese_adolescent_major", 28, "screen_negative"),
    ("cesd", "chinese_adolescent_major", 29, "screen_positive"),
    *[
        ("pss10", None, t, b)
        for t, b in [(0, "low"), (13, "low"), (14, "moderate"), (26, "moderate"), (27, "high"), (40, "high")]
    ],
    # who5 bands are on percent = raw x 4: 7 -> 28, 8 -> 32, 12 -> 48, 13 -> 52.
    ("who5", None, 7, "likely_depression"),
    ("who5", None, 8, "poor_wellbeing"),
    ("who5", None, 12, "poor_wellbeing"),
    ("who5", None, 13, "adequate"),
    # sds/sas bands are on standard = floor(raw x 1.25).
    ("sds", None, 42, "normal"),
    ("sds", None, 43, "mild"),
    ("sds", None, 50, "mild"),
    ("sds", None, 51, "moderate"),
    ("sds", None, 58, "moderate"),
    ("sds", None, 59, "severe"),
    ("sas", None, 39, "normal"),
    ("sas", None, 40, "mild"),
    ("sas", None, 47, "mild"),
    ("sas", None, 48, "moderate"),
    ("sas", None, 55, "moderate"),
    ("sas", None, 56, "severe"),
]


@pytest.mark.parametrize(("code", "profile", "total", "band"), BOUNDARIES)
def test_band_boundaries(code: str, profile: str | None, total: int, band: str) -> None:
    result = scoring.score(code, answers_for_total(code, total), profile)
    assert result.valid
    assert result.total == total
    assert result.band == band
    assert result.profile == (profile or "default")


def test_every_range_band_boundary_is_in_the_table() -> None:
    """Each range band of each profile has its lowest and highest total tested (where reachable)."""
    tested = {(c, p or "default", b) for c, p, _, b in BOUNDARIES}
    for code in scoring.instrument_codes():
        inst = scoring.instrument(code)
        for profile in inst.profiles.values():
            if profile.bands.score is None:
                continue
            for band in profile.bands.levels:
                assert (code, profile.name, band.code) in tested, (code, profile.name, band.code)


@pytest.mark.parametrize(
    ("code", "raw", "standard"),
    [
        ("sds", 20, 25),
        ("sds", 21, 26),
        ("sds", 22, 27),
        ("sds", 41, 51),
        ("sds", 43, 53),
        ("sds", 80, 100),
        ("sas", 39, 48),
        ("sas", 47, 58),
        ("sas", 45, 56),
    ],
)
def test_standard_score_is_floored_not_rounded(code: str, raw: int, standard: int) -> None:
    # 22 x 1.25 = 27.5 and 43 x 1.25 = 53.75: floor gives 27 and 53 (rounding would give 28, 54).
    result = scoring.score(code, answers_for_total(code, raw))
    assert result.total == raw
    assert result.scores["standard"] == standard


def test_who5_percent_and_low_item_flag() -> None:
    result = scoring.score("who5", {"1": 5, "2": 5, "3": 5, "4": 5, "5": 1})
    assert (result.total, result.scores["percent"], result.band) == (21, 84, "adequate")
    assert result.flags == ("low_item",) and result.critical == ()
    assert scoring.score("who5", {"1": 2, "2": 2, "3": 2, "4": 2, "5": 2}).flags == ()
    zero = scoring.score("who5", {"1": 0, "2": 3, "3": 3, "4": 3})
    assert not zero.valid and zero.flags == ("low_item",)


@pytest.mark.parametrize(
    ("code", "answers", "total"),
    [
        ("cesd", dict.fromkeys(map(str, range(1, 21)), 0), 12),  # items 4, 8, 12, 16 count 3
        ("cesd", {**dict.fromkeys(map(str, range(1, 21)), 0), "4": 3, "8": 2}, 7),  # 0+1+3+3
        ("pss10", dict.fromkeys(map(str, range(1, 11)), 0), 16),  # items 4, 5, 7, 8 count 4
        ("pss10", dict.fromkeys(map(str, range(1, 11)), 4), 24),
        ("sds", dict.fromkeys(map(str, range(1, 21)), 1), 50),  # 10 reverse items count 4
        ("sas", dict.fromkeys(map(str, range(1, 21)), 1), 35),  # 5 reverse items count 4
    ],
)
def test_reverse_keying(code: str, answers: dict[str, int], total: int) -> None:
    assert scoring.score(code, answers).total == total


CESD_ONES = {str(i): 2 if i in (4, 8, 12, 16) else 1 for i in range(1, 21)}


def _drop(answers: dict[str, Any], *ids: str) -> dict[str, Any]:
    return {k: v for k, v in answers.items() if k not in ids}


@pytest.mark.parametrize(
    ("code", "answers", "valid", "total"),
    [
        # PHQ-9: 2 missing prorated, 3 missing not scored. 4 x 9 / 8 = 4.5 -> 5 (round half up;
        # Python's round() would give 4).
        ("phq9", {"1": 1, "2": 1, "3": 1, "4": 1, "5": 0, "6": 0, "7": 0, "8": 0}, True, 5),
        ("phq9", {"1": 3, "2": 3, "3": 3, "4": 3, "5": 0, "6": 0, "7": 0}, True, 15),  # 12x9/7
        ("phq9", {"1": 3, "2": 3, "3": 3, "4": 3, "5": 0, "6": 0}, False, None),
        ("phqa", {"1": 1, "2": 1, "3": 1, "4": 1, "5": 0, "6": 0, "7": 0, "8": 0}, True, 5),
        ("phqa", {"1": 1, "2": 1, "3": 1, "4": 1, "5": 0, "6": 0}, False, None),
        # GAD-7: 1 missing prorated: 9 x 7 / 6 = 10.5 -> 11 (round() would give 10).
        ("gad7", {"1": 3, "2": 3, "3": 3, "4": 0, "5": 0, "6": 0}, True, 11),
        ("gad7", {"1": 3, "2": 3, "3": 3, "4": 0, "5": 0}, False, None),
        # K10: 1 missing prorated (20 x 10 / 9 = 22.2 -> 22), 2 missing not scored.
        ("k10", {**{str(i): 2 for i in range(1, 9)}, "9": 4}, True, 22),
        ("k10", {str(i): 2 for i in range(1, 9)}, False, None),
        # CES-D: 4 missing prorated: keyed sum 2 over 16 answered -> 2 x 20 / 16 = 2.5 -> 3.
        (
            "cesd",
            {**{str(i): 0 for i in range(1, 17) if i not in (4, 8, 12, 16)}, "4": 3, "8": 3, "12": 3, "16": 2, "1": 1},
            True,
            3,
        ),
        # every item keyed 1 (reverse items printed 2): 16 x 20 / 16 = 20
        ("cesd", _drop(CESD_ONES, "1", "2", "3", "4"), True, 20),
        ("cesd", _drop(CESD_ONES, "1", "2", "3", "4", "5"), False, None),
        # None allowed.
        ("phq2", {"1": 3}, False, None),
        ("gad2", {"2": 3}, False, None),
        ("k6", _drop(answers_for_total("k6", 13), "6"), False, None),
        ("who5", {"1": 5, "2": 5, "3": 5, "4": 5}, False, None),
        ("pss10", _drop(answers_for_total("pss10", 20), "3"), False, None),
        ("sds", _drop(answers_for_total("sds", 50), "20"), False, None),
        ("scl90", _drop(answers_for_total("scl90", 100), "90"), False, None),
        ("upi", {str(i): False for i in range(1, 60)}, False, None),
    ],
)
def test_missing_items(code: str, answers: dict[str, Any], valid: bool, total: int | None) -> None:
    result = scoring.score(code, answers)
    assert (result.valid, result.total) == (valid, total)
    if valid:
        assert result.problems == ()
        assert result.band is not None
    else:
        assert result.band is None
        assert [p.code for p in result.problems] == ["too_many_missing"]
        assert "missing" in result.problems[0].message
        assert not result.malformed


def test_missing_answer_may_be_none() -> None:
    answers = {**answers_for_total("phq9", 8), "9": None, "10": None}
    assert scoring.score("phq9", answers).total == scoring.score("phq9", _drop(answers, "9")).total


def test_critical_fires_when_too_many_missing() -> None:
    result = scoring.score("phq9", {"9": 2})
    assert not result.valid and result.critical == ("9",)
    assert scoring.score("phq9", {"9": 0}).critical == ()


def test_phq9_difficulty_item_is_accepted_and_unscored() -> None:
    base = answers_for_total("phq9", 12)
    assert scoring.score("phq9", {**base, "10": 3}).total == 12
    assert scoring.score("phq9", {**base, "10": 3}).problems == ()


# --- PHQ-A ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "critical"),
    [
        ({"9": 0, "10": True, "11": False, "12": False}, ()),
        ({"9": 1, "10": False, "11": False, "12": False}, ("9",)),
        ({"9": 0, "11": True}, ("11",)),
        ({"9": 0, "12": True}, ("12",)),
        ({"9": 3, "10": True, "11": True, "12": True}, ("9", "11", "12")),
    ],
)
def test_phqa_critical_items(extra: dict[str, Any], critical: tuple[str, ...]) -> None:
    result = scoring.score("phqa", {**answers_for_total("phqa", 6), **extra})
    assert result.valid and result.critical == critical


def test_phqa_critical_items_fire_without_a_total() -> None:
    result = scoring.score("phqa", {"11": True, "12": True})
    assert not result.valid and result.critical == ("11", "12")


def test_phqa_extra_items_are_yes_no() -> None:
    result = scoring.score("phqa", {**answers_for_total("phqa", 6), "11": 1})
    assert [(p.item, p.code) for p in result.problems] == [("11", "wrong_type")]


# --- ASQ -----------------------------------------------------------------------------------

NO4 = {"1": False, "2": False, "3": False, "4": False}


@pytest.mark.parametrize(
    ("answers", "band", "critical", "flags"),
    [
        (NO4, "negative", (), ()),
        ({**NO4, "5": None}, "negative", (), ()),
        ({**NO4, "2": True, "5": False}, "non_acute_positive", (), ()),
        ({**NO4, "4": True, "5": True}, "acute_positive", ("5",), ()),
        ({**NO4, "1": True}, "acute_positive", (), ()),  # item 5 unanswered: project choice
        ({**NO4, "3": "declined", "5": False}, "non_acute_positive", (), ()),
        ({**NO4, "3": "declined"}, "acute_positive", (), ()),
        ({**NO4, "5": True}, "negative", ("5",), ("item_5_answered_when_not_asked",)),
        ({"1": "declined", "2": "declined", "3": "declined", "4": "declined", "5": True}, "acute_positive", ("5",), ()),
    ],
)
def test_asq_paths(answers: dict[str, Any], band: str, critical: tuple[str, ...], flags: tuple[str, ...]) -> None:
    result = scoring.score("asq", answers)
    assert result.valid and result.total is None
    assert (result.band, result.critical, result.flags) == (band, critical, flags)


def test_asq_needs_items_1_to_4() -> None:
    result = scoring.score("asq", {"1": True, "5": True})
    assert not result.valid and result.band is None and result.critical == ("5",)


@pytest.mark.parametrize("bad", [{"5": "declined"}, {"1": 1}, {"1": "yes"}, {"1": "Declined"}])
def test_asq_malformed(bad: dict[str, Any]) -> None:
    result = scoring.score("asq", {**NO4, **bad})
    assert result.malformed and not result.valid and result.band is None


# --- UPI -----------------------------------------------------------------------------------

COUNTED = [str(i) for i in range(1, 61) if i not in (5, 20, 35, 50)]
PLAIN = [i for i in COUNTED if i not in ("8", "16", "25", "26")]  # no rule of their own


def upi(yes: int, *extra_yes: str, wants: bool | None = None, validity: bool = False) -> Any:
    answers: dict[str, Any] = dict.fromkeys(COUNTED, False)
    for iid in PLAIN[:yes]:
        answers[iid] = True
    for iid in extra_yes:
        answers[iid] = True
    for iid in ("5", "20", "35", "50"):
        answers[iid] = validity
    if wants is not None:
        answers["wants_counselling"] = wants
    return scoring.score("upi", answers)


@pytest.mark.parametrize(
    ("result", "total", "band", "critical"),
    [
        (lambda: upi(25), 25, "class_1", ()),
        (lambda: upi(24), 24, "class_2", ()),
        (lambda: upi(20), 20, "class_2", ()),
        (lambda: upi(19), 19, "class_3", ()),
        (lambda: upi(0), 0, "class_3", ()),
        (lambda: upi(0, "25"), 1, "class_1", ("25",)),
        (lambda: upi(0, wants=True), 0, "class_1", ()),
        (lambda: upi(0, wants=False), 0, "class_3", ()),
        (lambda: upi(0, "8"), 1, "class_2", ()),
        (lambda: upi(3, "16"), 4, "class_2", ()),
        (lambda: upi(0, "26"), 1, "class_2", ()),
        (lambda: upi(22, "26", wants=True), 23, "class_1", ()),
        # validity items 5, 20, 35, 50 are never counted
        (lambda: upi(19, validity=True), 19, "class_3", ()),
        (lambda: upi(24, validity=True), 24, "class_2", ()),
    ],
)
def test_upi(result: Any, total: int, band: str, critical: tuple[str, ...]) -> None:
    r = result()
    assert (r.valid, r.total, r.band, r.critical) == (True, total, band, critical)


def test_upi_critical_fires_without_a_total() -> None:
    result = scoring.score("upi", {"25": True})
    assert not result.valid and result.critical == ("25",)


# --- SCL-90 --------------------------------------------------------------------------------

FACTORS = scoring.instrument("scl90").subscales


def scl90(extra: dict[str, int]) -> Any:
    return scoring.score("scl90", {**{str(i): 1 for i in range(1, 91)}, **extra})


def spread(total_extra: int, value: int = 5) -> dict[str, int]:
    """Raise items to `value` (last one partly) keeping every factor mean <= 2."""
    answers: dict[str, int] = {}
    left = total_extra
    for spec in FACTORS.values():
        budget = len(spec["items"])  # factor mean <= 2 <=> factor extra <= its item count
        for iid in spec["items"]:
            step = min(value - 1, budget, left)
            if step <= 0:
                break
            answers[iid] = 1 + step
            budget -= step
            left -= step
    assert left == 0
    return answers


def test_scl90_all_ones() -> None:
    r = scl90({})
    assert (r.total, r.scores["gsi"], r.scores["positive_items"], r.band) == (90, 1.0, 0, "screen_negative")
    assert set(r.subscales) == set(FACTORS) and all(v == 1.0 for v in r.subscales.values())


@pytest.mark.parametrize(
    ("extra", "band"),
    [
        (spread(70), "screen_negative"),  # total 160
        (spread(71), "screen_positive"),  # total 161
        (spread(43, value=2), "screen_negative"),  # 43 positive items
        (spread(44, value=2), "screen_positive"),  # 44 positive items
        ({iid: 2 for iid in FACTORS["hostility"]["items"]}, "screen_negative"),  # mean exactly 2
        ({**{iid: 2 for iid in FACTORS["hostility"]["items"]}, "11": 3}, "screen_positive"),
        ({"19": 3, "44": 3, "59": 2, "60": 2, "64": 2, "66": 2, "89": 2}, "screen_positive"),
    ],
)
def test_scl90_screen(extra: dict[str, int], band: str) -> None:
    assert scl90(extra).band == band


def test_scl90_scores() -> None:
    r = scl90(spread(70))
    assert r.total == 160
    assert r.scores["gsi"] == 160 / 90
    assert r.scores["positive_items"] == sum(1 for v in spread(70).values() if v >= 2)
    assert max(r.subscales.values()) <= 2
    r = scl90({"11": 5, "24": 4})  # hostility: (5 + 4 + 4 x 1) / 6
    assert r.subscales["hostility"] == 13 / 6
    assert r.subscales["somatization"] == 1.0


def test_scl90_factors_cover_every_item_once() -> None:
    items = [iid for spec in FACTORS.values() for iid in spec["items"]]
    assert sorted(items, key=int) == [str(i) for i in range(1, 91)]


@pytest.mark.parametrize(
    ("extra", "critical"),
    [({}, ()), ({"15": 2}, ("15",)), ({"59": 5}, ("59",)), ({"15": 3, "59": 2}, ("15", "59"))],
)
def test_scl90_critical(extra: dict[str, int], critical: tuple[str, ...]) -> None:
    assert scl90(extra).critical == critical


# --- malformed answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "answers", "problems"),
    [
        ("phq9", {"1": 0, "x": 1}, [("x", "unknown_item")]),
        ("phq9", {"1": 4}, [("1", "out_of_range")]),
        ("phq9", {"1": -1}, [("1", "out_of_range")]),
        ("phq9", {"1": True}, [("1", "wrong_type")]),  # True is an int in Python
        ("phq9", {"1": False}, [("1", "wrong_type")]),
        ("phq9", {"1": "2"}, [("1", "wrong_type")]),
        ("phq9", {"1": 2.0}, [("1", "wrong_type")]),
        ("phq9", {"1": [2]}, [("1", "wrong_type")]),
        ("k10", {"1": 0}, [("1", "out_of_range")]),
        ("upi", {"1": 1}, [("1", "wrong_type")]),
        ("upi", {"1": 0}, [("1", "wrong_type")]),
        ("upi", {"wants_counselling": "yes"}, [("wants_counselling", "out_of_range")]),
        (
            "phq9",
            {"1": 9, "2": True, "3": "a", "11": 0},
            [("1", "out_of_range"), ("2", "wrong_type"), ("3", "wrong_type"), ("11", "unknown_item")],
        ),
    ],
)
def test_malformed_answers(code: str, answers: dict[str, Any], problems: list[Any]) -> None:
    full = {**answers_for_total(code, 0 if code != "k10" else 10), **answers}
    if code == "upi":
        full = {**dict.fromkeys(COUNTED, False), **answers}
    result = scoring.score(code, full)
    assert [(p.item, p.code) for p in result.problems] == problems
    assert result.malformed and not result.valid
    assert (result.total, result.band, result.critical) == (None, None, ())


def test_malformed_answers_nothing_scored_even_with_critical_answer() -> None:
    result = scoring.score("phq9", {**answers_for_total("phq9", 12), "9": 3, "1": True})
    assert result.critical == () and result.total is None


def test_problem_messages_do_not_repeat_the_answer() -> None:
    result = scoring.score("phq9", {"1": 1234567})
    assert "1234567" not in result.problems[0].message


def test_answers_must_be_a_mapping() -> None:
    result = scoring.score("phq9", [1, 2, 3])  # type: ignore[arg-type]
    assert [p.code for p in result.problems] == ["not_an_object"]


def test_unknown_instrument_and_profile() -> None:
    with pytest.raises(scoring.UnknownInstrumentError):
        scoring.score("phq10", {})
    with pytest.raises(scoring.UnknownProfileError):
        scoring.score("phq9", {}, profile="nowhere")
    with pytest.raises(LookupError):
        scoring.instrument("nope")


def test_result_is_immutable_and_records_provenance() -> None:
    result = scoring.score("cesd", answers_for_total("cesd", 30), "chinese_adolescent_major")
    assert (result.instrument, result.version, result.profile) == ("cesd", 1, "chinese_adolescent_major")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.total = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.scores["x"] = 1  # type: ignore[index]
    assert result.to_dict()["profile"] == "chinese_adolescent_major"
