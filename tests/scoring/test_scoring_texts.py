"""Text packs: shipped wording, licensed wording from the institution's pack, and its absence."""

from __future__ import annotations

from pathlib import Path

import pytest

import scoring
from scoring.textpacks import LICENSED_PACK_ENV

MADE_UP = Path(__file__).parent / "fixtures" / "made_up_licensed_pack.yaml"
SHIPPED = ["phq9", "phq2", "phqa", "gad7", "gad2", "asq", "k10", "k6", "cesd", "who5", "pss10"]
LICENSED = ["sds", "sas", "upi", "scl90"]
REPO = Path(scoring.__file__).resolve().parent


@pytest.mark.parametrize("code", SHIPPED)
@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_shipped_packs_cover_every_item_and_option(code: str, lang: str) -> None:
    pack = scoring.item_texts(code, lang)
    inst = scoring.instrument(code)
    assert pack.status == "shipped" and pack.available
    assert pack.title and pack.instructions and pack.source
    for it in inst.items:
        assert pack.item(it.id), it.id
        for value in it.options.values:
            assert pack.option_label(it.options.name, value)
    if lang == "zh-hans" and pack.translation == "project":
        assert "project translation" in (pack.source or "").lower()
        assert "项目翻译" in (pack.notes or "") + (pack.source or "")


def test_definitions_match_the_shipping_rule() -> None:
    assert sorted(c for c in scoring.instrument_codes() if scoring.instrument(c).text == "shipped") == sorted(SHIPPED)
    assert sorted(c for c in scoring.instrument_codes() if scoring.instrument(c).text == "licensed") == sorted(LICENSED)


def test_no_licensed_wording_in_the_repository() -> None:
    names = {p.name for p in (REPO / "texts").glob("*.yaml")}
    for code in LICENSED:
        assert not any(n.startswith(f"{code}.") for n in names)


@pytest.mark.parametrize("code", ["phq2", "gad2"])
@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_two_item_screeners_use_the_full_scales_wording(code: str, lang: str) -> None:
    full = scoring.item_texts({"phq2": "phq9", "gad2": "gad7"}[code], lang)
    short = scoring.item_texts(code, lang)
    assert dict(short.items) == {k: full.items[k] for k in ("1", "2")}
    assert dict(short.options["frequency"]) == dict(full.options["frequency"])


@pytest.mark.parametrize("code", LICENSED)
def test_licensed_text_not_installed(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LICENSED_PACK_ENV, raising=False)
    pack = scoring.item_texts(code, "zh-hans")
    assert pack.status == "not_installed" and not pack.available
    assert pack.items == {} and pack.item("1") is None
    assert pack.message and "not installed" in pack.message and LICENSED_PACK_ENV in pack.message
    # ...and the instrument still scores.
    answers = {
        it.id: it.options.values[0] if it.options.kind == "integer" else False
        for it in scoring.instrument(code).required_items
    }
    assert scoring.score(code, answers).valid


def test_configured_pack_file_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(LICENSED_PACK_ENV, str(tmp_path / "nowhere.yaml"))
    pack = scoring.item_texts("sds", "en")
    assert pack.status == "not_installed" and "does not exist" in (pack.message or "")


@pytest.mark.parametrize("code", LICENSED)
@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_made_up_licensed_pack(code: str, lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LICENSED_PACK_ENV, str(MADE_UP))
    pack = scoring.item_texts(code, lang)
    assert pack.status == "licensed" and pack.translation == "made_up"
    assert all(("MADE-UP" in t) or ("虚构" in t) for t in pack.items.values())
    assert len(pack.items) == len(scoring.instrument(code).items)


def test_licensed_pack_errors_name_the_file_and_field(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bad = tmp_path / "pack.yaml"
    bad.write_text(
        "packs:\n  - {code: sds, lang: en, translation: made_up, source: x, title: x,\n"
        "     instructions: x, options: {frequency4: {'1': a, '2': b, '3': c, '4': d}},\n"
        "     items: {'1': only one}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(LICENSED_PACK_ENV, str(bad))
    with pytest.raises(scoring.DefinitionError) as err:
        scoring.item_texts("sds", "en")
    assert str(bad) in str(err.value) and "$.items" in str(err.value)
    bad.write_text("packs:\n  - {code: phq9, lang: en}\n", encoding="utf-8")
    with pytest.raises(scoring.DefinitionError, match=r"packs\[0\]"):
        scoring.item_texts("sds", "en")


def test_unknown_language() -> None:
    with pytest.raises(ValueError, match="language"):
        scoring.item_texts("phq9", "fr")
