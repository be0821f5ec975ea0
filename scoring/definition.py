"""Instrument definitions: YAML files under ``scoring/instruments/``, checked against a schema.

A definition is data a clinician can review: items with stable ids, option sets with the values
printed on the form, reverse-keyed and conditional items, named scores, bands, cut-off profiles,
critical-item rules and the missing-item rule. It never holds item wording; that lives in text
packs (see `scoring.texts`).

Loading checks the file against ``definition.schema.json`` and then the cross references the
schema cannot express (an item that is named but not defined, a band range with a gap, ...). Every
message names the file and the field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache, lru_cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import jsonschema
import yaml

from scoring.errors import DefinitionError, UnknownInstrumentError, UnknownProfileError

Lang = Literal["zh-hans", "en"]
LANGS: tuple[Lang, ...] = ("zh-hans", "en")

#: Result columns of `score_frame`; score names may not take them.
RESERVED_NAMES = frozenset(
    {"instrument", "version", "profile", "valid", "total", "band", "critical", "flags", "problems"}
)

#: Keys that carry wording, sources or codes for other systems and never change a score. Everything
#: else in the scoring sections counts for `Instrument.scoring_hash`.
_NON_SCORING_KEYS = frozenset({"label", "source", "note", "loinc"})
_SCORING_SECTIONS = (
    "code",
    "option_sets",
    "items",
    "missing",
    "scores",
    "subscales",
    "bands",
    "profiles",
    "critical",
    "flags",
)

OptionValue = int | bool | str


@dataclass(frozen=True)
class OptionSet:
    """The answers an item accepts, as printed on the form.

    Integer sets hold the printed integers. Boolean sets hold yes (true) and no (false) and may
    allow extra string answers such as ASQ's ``"declined"``. Each answer has an integer *code* the
    engine computes with: the integer itself, 1 for yes, 0 for no, and 2, 3, ... for the extras.
    """

    name: str
    kind: Literal["integer", "boolean"]
    values: tuple[OptionValue, ...]
    loinc: Mapping[int, str] = field(default_factory=dict)

    def code_of(self, value: OptionValue) -> int:
        """Return the engine code of a printed value (which must be one of `values`)."""
        if self.kind == "integer":
            assert isinstance(value, int) and not isinstance(value, bool)
            return value
        if value is True:
            return 1
        if value is False:
            return 0
        return self.values.index(value)  # extras follow (True, False): codes 2, 3, ...

    @property
    def codes(self) -> tuple[int, ...]:
        """Every engine code of this set, sorted."""
        return tuple(sorted(self.code_of(v) for v in self.values))

    @property
    def low(self) -> int:
        """Lowest printed integer (integer sets only)."""
        return min(int(v) for v in self.values)

    @property
    def high(self) -> int:
        """Highest printed integer (integer sets only)."""
        return max(int(v) for v in self.values)


@dataclass(frozen=True)
class Item:
    """One item: a stable id, its option set and how the engine treats it."""

    id: str
    options: OptionSet
    reverse: bool
    scored: bool
    asked_if: Mapping[str, Any] | None
    loinc: str | None
    note: Mapping[str, str] | None

    @property
    def required(self) -> bool:
        """True when the missing-item rule counts this item (scored and always asked)."""
        return self.scored and self.asked_if is None


@dataclass(frozen=True)
class Band:
    """One band: a code, labels in both languages, and either a range, a condition or 'otherwise'."""

    code: str
    label: Mapping[str, str]
    min: int | None = None
    max: int | None = None
    when: Mapping[str, Any] | None = None
    otherwise: bool = False

    @property
    def is_range(self) -> bool:
        """True when the band is a range on the bands' `score`."""
        return self.when is None and not self.otherwise


@dataclass(frozen=True)
class Bands:
    """Ordered bands; the first that holds is the result's band."""

    score: str | None
    levels: tuple[Band, ...]

    def get(self, code: str) -> Band:
        """Return the band with this code."""
        for level in self.levels:
            if level.code == code:
                return level
        raise KeyError(code)


@dataclass(frozen=True)
class Profile:
    """A named set of bands, with the study it comes from."""

    name: str
    label: Mapping[str, str]
    source: str
    bands: Bands
    cutoff: int | None = None


@dataclass(frozen=True)
class Instrument:
    """A loaded, checked instrument definition. See docs/instruments.md for every instrument."""

    code: str
    version: int
    name: Mapping[str, str]
    description: Mapping[str, str]
    citation: str
    licence: Mapping[str, str]
    text: Literal["shipped", "licensed"]
    loinc: Mapping[str, str]
    option_sets: Mapping[str, OptionSet]
    items: tuple[Item, ...]
    missing_max: int
    missing_method: Literal["none", "prorate"]
    missing_note: Mapping[str, str] | None
    scores: Mapping[str, Mapping[str, Any]]
    subscales: Mapping[str, Mapping[str, Any]]
    bands: Bands
    profiles: Mapping[str, Profile]
    critical: tuple[Mapping[str, Any], ...]
    flags: tuple[Mapping[str, Any], ...]
    path: str
    raw: Mapping[str, Any] = field(repr=False)

    def item(self, item_id: str) -> Item:
        """Return the item with this id (KeyError if there is none)."""
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)

    def profile(self, name: str | None) -> Profile:
        """Return a cut-off profile; None means ``default``."""
        key = "default" if name is None else name
        try:
            return self.profiles[key]
        except KeyError:
            known = ", ".join(self.profiles)
            raise UnknownProfileError(f"instrument {self.code!r} has no profile {key!r} (profiles: {known})") from None

    @property
    def required_items(self) -> tuple[Item, ...]:
        """Items the missing-item rule counts."""
        return tuple(it for it in self.items if it.required)

    @property
    def scoring_hash(self) -> str:
        """SHA-256 (first 16 hex digits) of everything in the definition that can change a score."""
        return scoring_hash(self.raw)


def scoring_hash(raw: Mapping[str, Any]) -> str:
    """Hash the scoring-relevant part of a raw definition (labels, sources, notes left out)."""

    def strip(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {k: strip(v) for k, v in node.items() if k not in _NON_SCORING_KEYS}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    part = {k: strip(raw[k]) for k in _SCORING_SECTIONS if k in raw}
    text = json.dumps(part, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Loading


def _package_dir(name: str) -> Path:
    return Path(str(resources.files("scoring").joinpath(name)))


@lru_cache(maxsize=1)
def _schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(_package_dir("definition.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


def schema_errors(data: Any, validator: jsonschema.protocols.Validator) -> list[str]:
    """Return readable schema errors, each as ``field: message``, deepest first."""
    messages = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        best = jsonschema.exceptions.best_match([error])
        where = best.json_path if best.json_path != "$" else "(top level)"
        messages.append(f"{where}: {best.message}")
    return messages


def read_yaml(path: Path) -> Any:
    """Read a YAML file, turning syntax errors into `DefinitionError` naming the file."""
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{path}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise DefinitionError(f"{path}: cannot be read: {exc.strerror}") from None


def definition_dir() -> Path:
    """The folder that holds the shipped definitions."""
    return _package_dir("instruments")


@lru_cache(maxsize=1)
def instrument_codes() -> tuple[str, ...]:
    """Codes of every shipped instrument, sorted."""
    return tuple(sorted(p.stem for p in definition_dir().glob("*.yaml")))


@cache
def instrument(code: str) -> Instrument:
    """Load, check and return one instrument definition (cached)."""
    if code not in instrument_codes():
        raise UnknownInstrumentError(f"unknown instrument {code!r} (known: {', '.join(instrument_codes())})")
    return load_definition(definition_dir() / f"{code}.yaml")


def load_definition(path: Path) -> Instrument:
    """Load and check a definition file; raise `DefinitionError` naming the file and field."""
    raw = read_yaml(path)
    problems = schema_errors(raw, _schema_validator())
    if problems:
        raise DefinitionError(f"{path}: " + "; ".join(problems))
    try:
        return _build(raw, path)
    except _FieldError as exc:
        raise DefinitionError(f"{path}: {exc.field}: {exc.message}") from None


class _FieldError(Exception):
    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field = field_path
        self.message = message


def _bilingual(node: Mapping[str, str] | None) -> Mapping[str, str] | None:
    return None if node is None else MappingProxyType(dict(node))


def _build(raw: Mapping[str, Any], path: Path) -> Instrument:
    if raw["code"] != path.stem:
        raise _FieldError("$.code", f"is {raw['code']!r} but the file is named {path.name}")
    option_sets = {name: _option_set(name, spec) for name, spec in raw["option_sets"].items()}
    items = _items(raw["items"], option_sets)
    by_id = {it.id: it for it in items}
    scores = dict(raw["scores"])
    subscales = dict(raw.get("subscales", {}))
    _check_scores(scores, subscales, by_id)
    default_bands = _bands(raw["bands"], "$.bands")
    profiles = _profiles(raw["profiles"], default_bands)
    inst = Instrument(
        code=raw["code"],
        version=raw["version"],
        name=MappingProxyType(dict(raw["name"])),
        description=MappingProxyType(dict(raw["description"])),
        citation=raw["citation"],
        licence=MappingProxyType(dict(raw["licence"])),
        text=raw["text"],
        loinc=MappingProxyType(dict(raw.get("loinc", {}))),
        option_sets=MappingProxyType(option_sets),
        items=items,
        missing_max=raw["missing"]["max"],
        missing_method=raw["missing"]["method"],
        missing_note=_bilingual(raw["missing"].get("note")),
        scores=MappingProxyType(scores),
        subscales=MappingProxyType(subscales),
        bands=default_bands,
        profiles=MappingProxyType(profiles),
        critical=tuple(raw.get("critical", [])),
        flags=tuple(raw.get("flags", [])),
        path=str(path),
        raw=raw,
    )
    _check_rules(inst)
    return inst


def _option_set(name: str, spec: Mapping[str, Any]) -> OptionSet:
    if spec.get("boolean"):
        extra = tuple(spec.get("extra", ()))
        return OptionSet(name, "boolean", (True, False, *extra))
    values = tuple(sorted(spec["values"]))
    loinc = {int(k): v for k, v in spec.get("loinc", {}).items()}
    if set(loinc) - set(values):
        raise _FieldError(f"$.option_sets.{name}.loinc", "names a value the set does not have")
    return OptionSet(name, "integer", values, MappingProxyType(loinc))


def _items(specs: list[Mapping[str, Any]], option_sets: Mapping[str, OptionSet]) -> tuple[Item, ...]:
    items: list[Item] = []
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        where = f"$.items[{i}]"
        if spec["id"] in seen:
            raise _FieldError(f"{where}.id", f"item id {spec['id']!r} is used twice")
        seen.add(spec["id"])
        if spec["id"] in RESERVED_NAMES:
            raise _FieldError(f"{where}.id", f"{spec['id']!r} is reserved for result columns")
        opts = option_sets.get(spec["options"])
        if opts is None:
            raise _FieldError(f"{where}.options", f"no option set named {spec['options']!r}")
        reverse = bool(spec.get("reverse", False))
        if reverse and opts.kind != "integer":
            raise _FieldError(f"{where}.reverse", "only integer items can be reverse-keyed")
        items.append(
            Item(
                id=spec["id"],
                options=opts,
                reverse=reverse,
                scored=bool(spec.get("scored", True)),
                asked_if=spec.get("asked_if"),
                loinc=spec.get("loinc"),
                note=_bilingual(spec.get("note")),
            )
        )
    return tuple(items)


def score_items(spec: Mapping[str, Any], items: Mapping[str, Item]) -> tuple[Item, ...]:
    """Resolve a score's ``items`` (a list of ids, or ``scored`` for every scored item)."""
    if spec["items"] == "scored":
        return tuple(it for it in items.values() if it.scored)
    return tuple(items[i] for i in spec["items"])


def _check_scores(scores: Mapping[str, Any], subscales: Mapping[str, Any], items: Mapping[str, Item]) -> None:
    known: dict[str, str] = {}  # name -> kind, in evaluation order
    for section, specs in (("scores", scores), ("subscales", subscales)):
        for name, spec in specs.items():
            where = f"$.{section}.{name}"
            if name in known:
                raise _FieldError(where, f"score name {name!r} is used twice")
            if name in RESERVED_NAMES and not (section == "scores" and name == "total"):
                raise _FieldError(where, f"{name!r} is reserved for result columns")
            kind = spec["kind"]
            if kind == "transform":
                source = known.get(spec["of"])
                if source is None:
                    raise _FieldError(f"{where}.of", f"no earlier score named {spec['of']!r}")
                if source == "mean":
                    raise _FieldError(f"{where}.of", "a transform needs an integer score")
                factor = Fraction(str(spec["multiply"]))
                if spec["round"] == "none" and factor.denominator != 1:
                    raise _FieldError(f"{where}.round", "a fractional factor needs a rounding rule")
            else:
                if spec["items"] != "scored":
                    for iid in spec["items"]:
                        if iid not in items:
                            raise _FieldError(f"{where}.items", f"no item {iid!r}")
                for it in score_items(spec, items):
                    if not it.required:
                        raise _FieldError(f"{where}.items", f"item {it.id!r} is not scored or is conditional")
                    if kind in ("sum", "mean") and it.options.kind != "integer":
                        raise _FieldError(f"{where}.items", f"item {it.id!r} is not numeric")
            known[name] = kind


def _bands(spec: Mapping[str, Any], where: str) -> Bands:
    levels = tuple(
        Band(
            code=lv["code"],
            label=MappingProxyType(dict(lv["label"])),
            min=lv.get("min"),
            max=lv.get("max"),
            when=lv.get("when"),
            otherwise=bool(lv.get("otherwise", False)),
        )
        for lv in spec["levels"]
    )
    bands = Bands(score=spec.get("score"), levels=levels)
    codes = [lv.code for lv in levels]
    if len(set(codes)) != len(codes):
        raise _FieldError(f"{where}.levels", "band codes must be unique")
    for i, lv in enumerate(levels):
        kinds = (lv.min is not None or lv.max is not None) + (lv.when is not None) + lv.otherwise
        if kinds != 1:
            raise _FieldError(f"{where}.levels[{i}]", "give exactly one of min/max, when, or otherwise")
        if lv.otherwise and i != len(levels) - 1:
            raise _FieldError(f"{where}.levels[{i}]", "'otherwise' must be the last band")
    ranges = [lv for lv in levels if lv.is_range]
    if ranges:
        if bands.score is None:
            raise _FieldError(f"{where}.score", "range bands need the score they apply to")
        for prev, nxt in pairwise(ranges):
            if prev.max is None or nxt.min is None or nxt.min != prev.max + 1:
                raise _FieldError(
                    f"{where}.levels",
                    f"bands {prev.code!r} and {nxt.code!r} must meet without gap or overlap",
                )
        for lv in ranges:
            if lv.min is not None and lv.max is not None and lv.min > lv.max:
                raise _FieldError(f"{where}.levels", f"band {lv.code!r} is empty")
    return bands


#: Labels of the two bands a ``cutoff`` profile generates. {n} is the cut-off, {score} the score.
CUTOFF_LABELS: Mapping[str, Mapping[str, str]] = {
    "screen_negative": {
        "en": "Below the screening cut-off for this profile ({score} < {n})",
        "zh-hans": "低于本界值方案的筛查界值（{score} < {n}）",
    },
    "screen_positive": {
        "en": "At or above the screening cut-off for this profile ({score} ≥ {n}): symptoms warrant follow-up",
        "zh-hans": "达到或超过本界值方案的筛查界值（{score} ≥ {n}），建议进一步评估",
    },
}


def cutoff_bands(on_score: str, cutoff: int) -> Bands:
    """The two bands a ``cutoff: N`` profile stands for: below N, and N or more."""

    def label(code: str) -> Mapping[str, str]:
        return MappingProxyType(
            {lang: text.format(n=cutoff, score=on_score) for lang, text in CUTOFF_LABELS[code].items()}
        )

    return Bands(
        score=on_score,
        levels=(
            Band("screen_negative", label("screen_negative"), max=cutoff - 1),
            Band("screen_positive", label("screen_positive"), min=cutoff),
        ),
    )


def _profiles(specs: Mapping[str, Any], default: Bands) -> dict[str, Profile]:
    profiles: dict[str, Profile] = {}
    for name, spec in specs.items():
        where = f"$.profiles.{name}"
        has_bands, has_cutoff = "bands" in spec, "cutoff" in spec
        if name == "default":
            if has_bands or has_cutoff:
                raise _FieldError(where, "the default profile uses the top-level bands")
            bands = default
        elif has_bands == has_cutoff:
            raise _FieldError(where, "give exactly one of bands or cutoff")
        elif has_cutoff:
            if default.score is None:
                raise _FieldError(f"{where}.cutoff", "needs top-level bands with 'score'")
            bands = cutoff_bands(default.score, spec["cutoff"])
        else:
            bands = _bands(spec["bands"], f"{where}.bands")
        profiles[name] = Profile(
            name=name,
            label=MappingProxyType(dict(spec["label"])),
            source=spec["source"],
            bands=bands,
            cutoff=spec.get("cutoff"),
        )
    return profiles


def _check_rules(inst: Instrument) -> None:
    """Compile every rule once so that a bad reference fails at load time, naming the field."""
    from scoring.plan import PlanError, build_plan

    if inst.missing_method == "none" and inst.missing_max > 0:
        raise _FieldError("$.missing.method", "a maximum above 0 needs method 'prorate'")
    if inst.missing_method == "prorate" and inst.missing_max == 0:
        raise _FieldError("$.missing.method", "'prorate' needs a maximum above 0")
    if inst.missing_max >= len(inst.required_items):
        raise _FieldError("$.missing.max", "must leave at least one required item")
    if len(inst.critical) > 8 or len(inst.flags) + sum(1 for it in inst.items if it.asked_if) > 8:
        raise _FieldError("$.critical", "at most 8 critical rules and 8 flags are supported")
    for i, rule in enumerate(inst.critical):
        if rule["item"] not in {it.id for it in inst.items}:
            raise _FieldError(f"$.critical[{i}].item", f"no item {rule['item']!r}")
    try:
        for name in inst.profiles:
            build_plan(inst, name)
    except PlanError as exc:
        raise _FieldError(exc.field, exc.message) from None
