"""Text packs: item wording, option labels and instructions, one pack per instrument and language.

Packs whose licence allows it ship in ``scoring/texts/<code>.<lang>.yaml``. Instruments whose
wording may not be distributed (definitions with ``text: licensed``: sds, sas, upi, scl90) read
their packs from one YAML file the institution supplies, named by the environment variable
``XINQIAO_LICENSED_TEXT_PACK``::

    notes: where the text comes from and under which licence
    packs:
      - {code: sds, lang: zh-hans, translation: official, source: ..., title: ...,
         instructions: ..., options: {...}, items: {...}}

Without that file those instruments still score; `item_texts` then returns a pack whose
``status`` is ``"not_installed"`` and whose ``message`` says why, never made-up wording.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import jsonschema

from scoring.definition import (
    LANGS,
    Instrument,
    OptionValue,
    instrument,
    read_yaml,
    schema_errors,
)
from scoring.errors import DefinitionError

LICENSED_PACK_ENV = "XINQIAO_LICENSED_TEXT_PACK"

Status = Literal["shipped", "licensed", "not_installed"]
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def value_key(value: OptionValue) -> str:
    """The key of a printed option value in a pack: "0", "1", ..., "yes", "no", "declined"."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


@dataclass(frozen=True)
class TextPack:
    """Wording of one instrument in one language, or the reason it is not available.

    `status` is ``shipped`` (in the repository), ``licensed`` (from the institution's licensed
    pack) or ``not_installed`` (licensed text without the pack: `available` is False, `items`
    is empty and `message` explains).
    """

    code: str
    lang: str
    status: Status
    title: str | None = None
    instructions: str | None = None
    items: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    stems: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    options: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: _EMPTY)
    translation: str | None = None
    source: str | None = None
    notes: str | None = None
    message: str | None = None

    @property
    def available(self) -> bool:
        """True when the pack holds wording."""
        return self.status != "not_installed"

    def item(self, item_id: str) -> str | None:
        """The wording of an item, or None when the text is not installed."""
        return self.items.get(item_id)

    def option_label(self, option_set: str, value: OptionValue) -> str | None:
        """The label printed beside an option value, or None when not installed."""
        return self.options.get(option_set, _EMPTY).get(value_key(value))


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    path = Path(__file__).with_name("textpack.schema.json")
    schema = json.loads(path.read_text(encoding="utf-8"))
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(schema)
    return validator


def _check_pack(raw: Any, where: str, status: Status) -> TextPack:
    """Validate one pack against the schema and its definition; `where` names file and place."""
    problems = schema_errors(raw, _validator())
    if problems:
        raise DefinitionError(f"{where}: " + "; ".join(problems))
    try:
        inst = instrument(raw["code"])
    except LookupError:
        raise DefinitionError(f"{where}: $.code: no instrument {raw['code']!r}") from None
    _match_definition(raw, inst, where)
    return TextPack(
        code=raw["code"],
        lang=raw["lang"],
        status=status,
        title=raw["title"],
        instructions=raw["instructions"],
        items=MappingProxyType(dict(raw["items"])),
        stems=MappingProxyType(dict(raw.get("stems", {}))),
        options=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in raw["options"].items()}),
        translation=raw["translation"],
        source=raw["source"],
        notes=raw.get("notes"),
    )


def _match_definition(raw: Mapping[str, Any], inst: Instrument, where: str) -> None:
    ids = [it.id for it in inst.items]
    if set(raw["items"]) != set(ids):
        missing = sorted(set(ids) - set(raw["items"]), key=ids.index)
        extra = sorted(set(raw["items"]) - set(ids))
        raise DefinitionError(
            f"{where}: $.items: must hold exactly the definition's items "
            f"(missing: {missing or 'none'}, unknown: {extra or 'none'})"
        )
    for iid in raw.get("stems", {}):
        if iid not in ids:
            raise DefinitionError(f"{where}: $.stems.{iid}: no item {iid!r}")
    used = {it.options.name: it.options for it in inst.items}
    for name, opts in used.items():
        labels = raw["options"].get(name)
        keys = [value_key(v) for v in opts.values]
        if labels is None or set(labels) != set(keys):
            raise DefinitionError(f"{where}: $.options.{name}: needs a label for each of {', '.join(keys)}")
    for name in raw["options"]:
        if name not in used:
            raise DefinitionError(f"{where}: $.options.{name}: no item uses this option set")


def texts_dir() -> Path:
    """The folder that holds the shipped packs."""
    return Path(__file__).with_name("texts")


@cache
def _shipped(code: str, lang: str) -> TextPack:
    path = texts_dir() / f"{code}.{lang}.yaml"
    raw = read_yaml(path)
    pack = _check_pack(raw, str(path), "shipped")
    if (pack.code, pack.lang) != (code, lang):
        raise DefinitionError(f"{path}: code/lang say {pack.code}.{pack.lang}")
    return pack


@lru_cache(maxsize=4)
def _licensed_file(path: str, mtime_ns: int, size: int) -> Mapping[tuple[str, str], TextPack]:
    """Every pack in a licensed pack file, keyed by (code, lang); cached per file version."""
    raw = read_yaml(Path(path))
    if not isinstance(raw, Mapping) or not isinstance(raw.get("packs"), list):
        raise DefinitionError(f"{path}: $.packs: the file must hold a list named 'packs'")
    packs: dict[tuple[str, str], TextPack] = {}
    for i, entry in enumerate(raw["packs"]):
        where = f"{path}: $.packs[{i}]"
        pack = _check_pack(entry, where, "licensed")
        if instrument(pack.code).text != "licensed":
            raise DefinitionError(
                f"{where}.code: {pack.code!r} ships its own text; licensed packs are only for "
                "instruments whose text is not distributed"
            )
        if (pack.code, pack.lang) in packs:
            raise DefinitionError(f"{where}: a second {pack.code}.{pack.lang} pack")
        packs[(pack.code, pack.lang)] = pack
    return MappingProxyType(packs)


def _not_installed(inst: Instrument, lang: str, why: str) -> TextPack:
    return TextPack(
        code=inst.code,
        lang=lang,
        status="not_installed",
        message=f"Item text for {inst.code} ({lang}) is licensed and not installed: {why}",
    )


def item_texts(code: str, lang: str) -> TextPack:
    """The wording of an instrument in a language ("zh-hans" or "en").

    For licensed-text instruments without the licensed pack, returns a pack with status
    ``not_installed`` and a message; never invented wording. Raises `UnknownInstrumentError`
    for an unknown code, ValueError for an unknown language, and `DefinitionError` for a pack
    file that breaks the schema.
    """
    inst = instrument(code)
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r} (use one of: {', '.join(LANGS)})")
    if inst.text == "shipped":
        return _shipped(code, lang)
    configured = os.environ.get(LICENSED_PACK_ENV, "").strip()
    if not configured:
        return _not_installed(inst, lang, f"set {LICENSED_PACK_ENV} to the licensed pack file")
    path = Path(configured)
    try:
        stat = path.stat()
    except OSError:
        return _not_installed(inst, lang, f"the file named by {LICENSED_PACK_ENV} does not exist")
    pack = _licensed_file(str(path), stat.st_mtime_ns, stat.st_size).get((code, lang))
    if pack is None:
        return _not_installed(inst, lang, "the licensed pack file has no text for it")
    return pack
