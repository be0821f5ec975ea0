"""Changing anything that affects a score must change the version.

This table pins (version, hash of the scoring-relevant part) of every definition. Editing a
definition's scoring without bumping `version` fails here. When you change scoring on purpose:
bump `version` in the YAML file and put the new version and hash in this table (the failure
message prints them). Wording, sources and notes are left out of the hash.
"""

from __future__ import annotations

import pytest

import scoring
from scoring.definition import scoring_hash

PINNED: dict[str, tuple[int, str]] = {
    "asq": (1, "0628a7d5ba1dce7e"),
    "cesd": (1, "f0b0ea032ca6fc7a"),
    "gad2": (1, "abe99a67acbeecd4"),
    "gad7": (1, "7f4782d7a038b455"),
    "k10": (1, "f195f352afdd8c8f"),
    "k6": (1, "84223266c6830d90"),
    "phq2": (1, "07cf7d8f21e7d74a"),
    "phq9": (1, "f67c6c89b9f863c6"),
    "phqa": (1, "7365e158422c00c5"),
    "pss10": (1, "3a0466092ac78a71"),
    "sas": (1, "98f436add00b7d86"),
    "scl90": (1, "4467bf6b619356a7"),
    "sds": (1, "21bd7716ea1ed1e2"),
    "upi": (1, "9afe7f0cc469d49d"),
    "who5": (1, "0902874014cb25b8"),
}


def test_every_instrument_is_pinned() -> None:
    assert set(PINNED) == set(scoring.instrument_codes())


@pytest.mark.parametrize("code", sorted(PINNED))
def test_scoring_changes_bump_the_version(code: str) -> None:
    inst = scoring.instrument(code)
    version, pinned_hash = PINNED[code]
    now = (inst.version, inst.scoring_hash)
    assert now == (version, pinned_hash), (
        f"{code}: the scoring part of the definition changed (hash {inst.scoring_hash}). If the "
        f"change can alter a score, bump `version` above {version} in {inst.path}; then set "
        f'PINNED["{code}"] = ({inst.version}, "{inst.scoring_hash}").'
    )


def test_hash_ignores_wording_but_not_cut_offs() -> None:
    raw = dict(scoring.instrument("phq9").raw)
    base = scoring_hash(raw)
    relabelled = {
        **raw,
        "bands": {
            **raw["bands"],
            "levels": [{**lv, "label": {"en": "x", "zh-hans": "x"}} for lv in raw["bands"]["levels"]],
        },
    }
    assert scoring_hash(relabelled) == base
    moved = {
        **raw,
        "bands": {
            **raw["bands"],
            "levels": [
                {**lv, "max": lv["max"] + 1} if lv["code"] == "minimal" else lv for lv in raw["bands"]["levels"]
            ],
        },
    }
    assert scoring_hash(moved) != base
    recut = {
        **raw,
        "profiles": {**raw["profiles"], "shanghai_general": {**raw["profiles"]["shanghai_general"], "cutoff": 8}},
    }
    assert scoring_hash(recut) != base
