"""Human-readable scoring rules, in English or Simplified Chinese.

One place turns definition data into words, used by ``python -m scoring show`` and by the
generated reference page docs/instruments.md, so the two always say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scoring.definition import Band, Bands, Instrument, OptionSet, OptionValue, Profile
from scoring.textpacks import TextPack, value_key

UI: Mapping[str, Mapping[str, str]] = {
    "en": {
        "item": "item",
        "items": "items",
        "any_of_items": "any of items",
        "any_of": "any of",
        "or": " or ",
        "and": " and ",
        "not": "not",
        "yes": "yes",
        "no": "no",
        "declined": "declined",
        "otherwise": "otherwise",
        "sum": "sum of items {items}",
        "mean": "mean of items {items}",
        "count": "number of items {items} answered {cond}",
        "transform": "{of} × {factor}{rounding}",
        "floor": ", rounded down (decimals dropped)",
        "half_up": ", rounded half up",
        "reverse": "Reverse-keyed items: {items} (counted as {low} + {high} − value)",
        "no_reverse": "Reverse-keyed items: none",
        "missing_none": "Missing items: none allowed; with any of items {items} missing, nothing is scored",
        "missing_prorate": "Missing items: up to {max} of items {items} may be missing; sums are "
        "then prorated as round-half-up(sum × n / answered), halves rounding up; with more "
        "missing, nothing is scored",
        "critical": "Critical (fires even when too many items are missing to score)",
        "no_critical": "Critical: none",
        "flags": "Flags (not critical)",
        "conditional": "Item {item} is asked only if {cond}; unanswered otherwise",
        "not_scored": "not scored",
        "band_range": "{lo}–{hi}",
        "band_ge": "≥ {lo}",
        "band_le": "≤ {hi}",
        "first_match": "first band that holds",
    },
    "zh-hans": {
        "item": "第{n}题",
        "items": "第{n}题",
        "any_of_items": "第{n}题中任一题",
        "any_of": "以下任一",
        "or": "，或",
        "and": "，且",
        "not": "并非",
        "yes": "是",
        "no": "否",
        "declined": "拒绝回答",
        "otherwise": "其余情况",
        "sum": "第{items}题之和",
        "mean": "第{items}题的均分",
        "count": "第{items}题中{cond}的题数",
        "transform": "{of} × {factor}{rounding}",
        "floor": "，向下取整（舍去小数）",
        "half_up": "，四舍五入（半数进位）",
        "reverse": "反向计分条目：第{items}题（按 {low} + {high} − 选项值 计分）",
        "no_reverse": "反向计分条目：无",
        "missing_none": "缺题：不允许缺题；第{items}题中任一题缺答即不计分",
        "missing_prorate": "缺题：第{items}题中最多可缺{max}题，此时总分按 四舍五入（半数进位）"
        "(分数之和 × 题数 ÷ 已答题数) 折算；缺题更多则不计分",
        "critical": "危机条目（即使缺题过多无法计分也会触发）",
        "no_critical": "危机条目：无",
        "flags": "标记（非危机）",
        "conditional": "第{item}题仅在{cond}时询问，否则不作答",
        "not_scored": "不计分",
        "band_range": "{lo}–{hi}",
        "band_ge": "≥ {lo}",
        "band_le": "≤ {hi}",
        "first_match": "取第一个符合的分段",
    },
}

_OPS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "eq": "=", "ne": "≠"}


def id_list(ids: Sequence[str]) -> str:
    """Compress item ids: ["1", "2", "3", "5"] -> "1–3, 5"."""
    parts: list[str] = []
    run: list[int] = []

    def flush() -> None:
        if run:
            parts.append(
                str(run[0]) if len(run) == 1 else f"{run[0]}, {run[1]}" if len(run) == 2 else f"{run[0]}–{run[-1]}"
            )
            run.clear()

    for iid in ids:
        if iid.isdigit() and run and int(iid) == run[-1] + 1:
            run.append(int(iid))
        elif iid.isdigit():
            flush()
            run.append(int(iid))
        else:
            flush()
            parts.append(iid)
    flush()
    return ", ".join(parts)


def value_text(value: Any, lang: str) -> str:
    """A compared value in words: yes/no for booleans, the value otherwise."""
    if value is True or value is False or value == "declined":
        return UI[lang][value_key(value) if isinstance(value, bool) else "declined"]
    return str(value)


def _cmp_text(rule: Mapping[str, Any], lang: str) -> str:
    parts = [f"{sym} {value_text(rule[op], lang)}" for op, sym in _OPS.items() if op in rule]
    if "in" in rule:
        values = " / ".join(value_text(v, lang) for v in rule["in"])
        parts.append(f"is {values}" if lang == "en" else f"为{values}")
    return (" and " if lang == "en" else "且").join(parts)


def _item_label(ids: Sequence[str], lang: str, *, any_of: bool = False) -> str:
    text = id_list(ids)
    if lang == "en":
        return f"{'any of items' if any_of else 'item'} {text}"
    if not any(i.isdigit() for i in ids):  # a named item such as wants_counselling
        return text
    return UI[lang]["any_of_items" if any_of else "item"].format(n=text)


def cond_text(raw: Mapping[str, Any], inst: Instrument, lang: str) -> str:
    """A condition in words, e.g. "item 9 ≥ 1" / "第9题 ≥ 1"."""
    ui = UI[lang]
    if "any" in raw:
        return "(" + ui["or"].join(cond_text(c, inst, lang) for c in raw["any"]) + ")"
    if "all" in raw:
        return "(" + ui["and"].join(cond_text(c, inst, lang) for c in raw["all"]) + ")"
    if "not" in raw:
        return f"{ui['not']} {cond_text(raw['not'], inst, lang)}"
    sep = " " if lang == "en" else ""
    if "item" in raw:
        return f"{_item_label([raw['item']], lang)}{sep}{_cmp_text(raw, lang)}"
    if "any_item" in raw:
        ids = raw["any_item"]
        if ids == "scored":
            ids = [it.id for it in inst.items if it.scored]
        return f"{_item_label(ids, lang, any_of=True)}{sep}{_cmp_text(raw, lang)}"
    if "any_score" in raw:
        names = raw["any_score"]
        if names == "subscales":
            names = list(inst.subscales)
        return f"{ui['any_of']} ({', '.join(names)}) {_cmp_text(raw, lang)}"
    return f"{raw['score']} {_cmp_text(raw, lang)}"


def score_text(spec: Mapping[str, Any], inst: Instrument, lang: str) -> str:
    """How a named score is computed."""
    ui = UI[lang]
    kind = spec["kind"]
    if kind == "transform":
        rounding = "" if spec["round"] == "none" else ui[spec["round"]]
        return ui["transform"].format(of=spec["of"], factor=spec["multiply"], rounding=rounding)
    ids = spec["items"]
    if ids == "scored":
        ids = [it.id for it in inst.items if it.scored]
    if kind == "count":
        return ui["count"].format(items=id_list(ids), cond=_cmp_text(spec["where"], lang))
    return ui[kind].format(items=id_list(ids))


def band_rule(band: Band, bands: Bands, inst: Instrument, lang: str) -> str:
    """The rule of one band: a range on its score, a condition, or "otherwise"."""
    ui = UI[lang]
    if band.otherwise:
        return ui["otherwise"]
    if band.when is not None:
        return cond_text(band.when, inst, lang)
    if band.min is not None and band.max is not None:
        rng = ui["band_range"].format(lo=band.min, hi=band.max)
    elif band.min is not None:
        rng = ui["band_ge"].format(lo=band.min)
    else:
        rng = ui["band_le"].format(hi=band.max)
    return f"{bands.score} {rng}"


def scoring_lines(inst: Instrument, lang: str) -> list[str]:
    """Scores, reverse keying, missing-item, critical, flag and conditional rules, one a line."""
    ui = UI[lang]
    lines = [f"{name} = {score_text(spec, inst, lang)}" for name, spec in inst.scores.items()]
    lines += [f"{name} = {score_text(spec, inst, lang)}" for name, spec in inst.subscales.items()]
    reverse = [it for it in inst.items if it.reverse]
    if reverse:
        lines.append(
            ui["reverse"].format(
                items=id_list([it.id for it in reverse]), low=reverse[0].options.low, high=reverse[0].options.high
            )
        )
    else:
        lines.append(ui["no_reverse"])
    required = id_list([it.id for it in inst.required_items])
    if inst.missing_max == 0:
        lines.append(ui["missing_none"].format(items=required))
    else:
        lines.append(ui["missing_prorate"].format(items=required, max=inst.missing_max))
    if inst.missing_note:
        lines.append("  " + inst.missing_note[lang])
    for it in inst.items:
        if it.asked_if is not None:
            lines.append(ui["conditional"].format(item=it.id, cond=cond_text(it.asked_if, inst, lang)))
    if inst.critical:
        lines.append(ui["critical"] + ": " + "; ".join(cond_text(c, inst, lang) for c in inst.critical))
    else:
        lines.append(ui["no_critical"])
    for flag in inst.flags:
        lines.append(f"{ui['flags']}: {flag['code']}: {cond_text(flag['when'], inst, lang)} ({flag['label'][lang]})")
    return lines


def band_rows(profile: Profile, inst: Instrument, lang: str) -> list[tuple[str, str, str]]:
    """(code, rule, label) for each band of a profile."""
    return [(b.code, band_rule(b, profile.bands, inst, lang), b.label[lang]) for b in profile.bands.levels]


def option_text(opts: OptionSet, pack: TextPack | None) -> str:
    """Option values as they are passed to `score`, with their labels where installed."""
    parts = []
    for v in opts.values:
        shown = "true" if v is True else "false" if v is False else (f'"{v}"' if isinstance(v, str) else str(v))
        label = pack.option_label(opts.name, v) if pack is not None else None
        parts.append(f"{shown} = {label}" if label else shown)
    return "; ".join(parts)


def example_answers(inst: Instrument) -> dict[str, OptionValue]:
    """A well-formed answer set (lowest option on every scored item), for help texts."""
    answers: dict[str, OptionValue] = {}
    for it in inst.items:
        if it.required:
            answers[it.id] = it.options.values[0] if it.options.kind == "integer" else False
    return answers
