"""scoring.risk.features: one sitting as one row of numbers, in a stable, named order."""

from __future__ import annotations

import math

import numpy as np
import pytest

import scoring
from scoring.risk.features import FeatureSpec, matrix, plain_name, row, short_name

SPEC = FeatureSpec(("phq9", "gad7", "asq"), rules=("phq_item9_high", "gad7_total_yellow"))
PHQ9 = {str(i): 2 for i in range(1, 10)}  # total 18
GAD7 = {str(i): 1 for i in range(1, 8)}  # total 7


def test_columns_are_items_total_and_absence_per_instrument_then_rules():
    names = SPEC.names()
    assert names[:10] == [f"phq9.item.{i}" for i in range(1, 10)] + ["phq9.total"]
    assert "asq.absent" in names and names[-2:] == ["rule.phq_item9_high", "rule.gad7_total_yellow"]
    assert len(names) == len(set(names)) == len(row(SPEC, {}))


def test_a_sitting_becomes_its_answers_totals_and_fired_rules():
    values = dict(zip(SPEC.names(), row(SPEC, {"phq9": PHQ9, "gad7": GAD7}, rules_fired=["phq_item9_high"]), strict=True))
    assert values["phq9.item.9"] == 2.0 and values["phq9.total"] == 18.0 and values["phq9.absent"] == 0.0
    assert values["gad7.total"] == 7.0
    assert values["asq.absent"] == 1.0 and math.isnan(values["asq.item.1"])
    assert "asq.total" not in values  # ASQ defines no total: a column that is always empty breaks boosting
    assert values["rule.phq_item9_high"] == 1.0 and values["rule.gad7_total_yellow"] == 0.0


def test_yes_no_answers_are_one_and_zero_and_declined_is_missing():
    values = dict(zip(SPEC.names(), row(SPEC, {"asq": {"1": True, "2": False, "3": "declined", "4": False}}), strict=True))
    assert (values["asq.item.1"], values["asq.item.2"]) == (1.0, 0.0)
    assert math.isnan(values["asq.item.3"]) and math.isnan(values["asq.item.5"]) and values["asq.absent"] == 0.0


def test_an_answer_outside_the_options_is_missing_and_an_unscorable_total_too():
    values = dict(zip(SPEC.names(), row(SPEC, {"phq9": {"1": 7, "2": 1}}), strict=True))
    assert math.isnan(values["phq9.item.1"]) and values["phq9.item.2"] == 1.0 and math.isnan(values["phq9.total"])


def test_demographics_are_off_unless_the_spec_turns_them_on():
    assert not any(n.startswith(("gender.", "age.")) for n in SPEC.names())
    spec = FeatureSpec(("phq9",), demographics=True)
    values = dict(zip(spec.names(), row(spec, {"phq9": PHQ9}, gender="female", age=15), strict=True))
    assert values["gender.female"] == 1.0 and values["gender.male"] == 0.0 and values["age.14-17"] == 1.0


def test_the_matrix_stacks_rows_and_the_spec_round_trips():
    sittings = [{"answers": {"phq9": PHQ9}}, {"answers": {"gad7": GAD7}, "rules_fired": ["gad7_total_yellow"]}]
    m = matrix(SPEC, sittings)
    assert m.shape == (2, len(SPEC.names()))
    assert np.array_equal(m[1], np.asarray(row(SPEC, sittings[1]["answers"], rules_fired=["gad7_total_yellow"])), equal_nan=True)
    assert FeatureSpec.from_dict(SPEC.to_dict()) == SPEC


def test_a_spec_refuses_unknown_or_repeated_instruments():
    with pytest.raises(scoring.UnknownInstrumentError):
        FeatureSpec(("phq99",))
    with pytest.raises(ValueError):
        FeatureSpec(("phq9", "phq9"))


def test_columns_read_in_plain_words_in_both_languages():
    assert short_name("gad7") == "GAD-7" and short_name("phq9") == "PHQ-9"
    assert plain_name("gad7.total") == "GAD-7 total"
    assert plain_name("phq9.item.3", "zh-hans") == "PHQ-9 第3题"
    assert plain_name("asq.absent") == "ASQ not taken"
    assert plain_name("gad7.total missing") == "GAD-7 total unanswered"
    assert plain_name("phq9.item.9 missing", "zh-hans") == "PHQ-9 第9题（未作答）"
