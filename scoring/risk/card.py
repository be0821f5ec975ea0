"""The risk model's card: what it was trained on, how well it ranks and calibrates, where it falls short.

:func:`card_json` gathers everything a model card records into one JSON-ready dict; :func:`card_markdown`
renders it for people, in English or Simplified Chinese; :func:`roc_svg` and :func:`calibration_svg`
draw the two pictures as small self-contained SVG documents (no plotting library), safe to inline in HTML.

The card speaks of risk and need for support. The model is a screening aid, not a diagnosis: it helps
counsellors decide whom to see first, and it can only raise a screening tier, never lower one.
"""

from __future__ import annotations

import copy
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

CARD_SCHEMA = "xinqiao.risk-model-card/1"
FLAG_GAP = 0.05  # a group is flagged when its sensitivity is more than this below the whole

REQUIRED_EVALUATION_KEYS = (
    "model",
    "n",
    "positives",
    "folds",
    "roc_auc",
    "pr_auc",
    "brier",
    "calibration_error",
    "calibration",
    "roc_curve",
    "thresholds",
    "groups",
)

# Limitation keys, in the order the card lists them; some apply only in some cases (see _limitation_keys).
_ALWAYS_LIMITATIONS = ("risk_not_need", "raise_only", "labels", "window", "thresholds", "small_groups")

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Risk model card",
        "statement": "This is a screening aid, not a diagnosis.",
        "synthetic": "Trained on synthetic data; not for clinical use.",
        "intended_use_heading": "Intended use",
        "intended_use": (
            "To help school counsellors decide whom to see first; it raises a screening tier, never lowers one."
        ),
        "overview_heading": "Overview",
        "version": "Version",
        "scope": "Scope",
        "model": "Model",
        "model.logistic": "logistic regression",
        "model.boosting": "gradient boosting",
        "trained_by": "Trained by",
        "trained_at": "Trained at",
        "data_window": "Data window",
        "folds": "Cross-validation folds",
        "data_heading": "Data",
        "n": "Sittings",
        "positives": "Positives (later found to need support)",
        "negatives": "Negatives",
        "positive_share": "Share positive",
        "counts": "Counts",
        "features_heading": "Features",
        "feature_count": "Number of features",
        "demographics_used": (
            "Demographic features (gender, age band) were used: a recorded choice of the feature spec."
        ),
        "demographics_not_used": "No demographic features were used.",
        "metrics_heading": "Performance (cross-validated)",
        "metric": "Metric",
        "value": "Value",
        "interval": "95% interval",
        "roc_auc": "ROC AUC",
        "pr_auc": "PR AUC (average precision)",
        "brier": "Brier score (lower is better)",
        "calibration_error": "Calibration error (lower is better)",
        "calibration_heading": "Calibration by decile",
        "bin": "Decile",
        "predicted": "Mean predicted risk",
        "observed": "Observed share",
        "count": "Count",
        "thresholds_heading": "Tier thresholds",
        "tier": "Tier",
        "threshold": "Threshold",
        "sensitivity": "Sensitivity",
        "specificity": "Specificity",
        "ppv": "Positive predictive value",
        "flagged_share": "Share flagged",
        "groups_heading": "Results by group",
        "group": "Group",
        "group_value": "Subgroup",
        "note": "Note",
        "flag": "⚠ sensitivity more than 0.05 below the whole",
        "flagged_heading": "Flagged groups",
        "none_flagged": "No group was flagged.",
        "no_groups": "No per-group results were recorded.",
        "comparison_heading": "Model comparison",
        "limitations_heading": "Limitations",
        "limitation.risk_not_need": (
            "The score estimates the chance that a student will be found to need support; it does not measure "
            "that need, and a counsellor's conversation decides."
        ),
        "limitation.raise_only": (
            "The model can only raise a screening tier; a low score never overrides a rule-based tier or a "
            "counsellor's judgement."
        ),
        "limitation.labels": (
            "Outcome labels come from past follow-up records and share their gaps: students never followed up "
            "may be counted as negatives."
        ),
        "limitation.window": (
            "Performance was measured on the data window above; other schools, ages, years or instruments "
            "may behave differently."
        ),
        "limitation.thresholds": (
            "Thresholds were chosen on this data; review them when the population or the instruments change."
        ),
        "limitation.small_groups": "Results for small groups are unstable; read them together with their counts.",
        "limitation.synthetic": "Trained on synthetic data: the numbers say nothing about real students.",
        "limitation.demographics": (
            "Demographic features were used; check the per-group results before relying on the model for any group."
        ),
        "limitation.flagged": (
            "Some groups are flagged: the model misses more of their students who need support than it does overall."
        ),
        "roc_title": "ROC curve",
        "roc_x": "False positive rate (1 − specificity)",
        "roc_y": "True positive rate (sensitivity)",
        "calibration_title": "Calibration",
        "calibration_x": "Predicted risk",
        "calibration_y": "Observed share",
        "chance": "chance",
        "perfect": "perfect calibration",
        "tier.green": "green",
        "tier.yellow": "yellow",
        "tier.orange": "orange",
        "tier.red": "red",
        "group.gender": "gender",
        "group.age": "age band",
        "group.school": "school",
        "group.grade": "grade",
        "group.school_kind": "kind of school",
        "group.grade_band": "grade band",
        "value.female": "female",
        "value.male": "male",
        "value.unknown": "unknown",
    },
    "zh-hans": {
        "title": "风险模型说明卡",
        "statement": "这是筛查辅助工具，不是诊断。",
        "synthetic": "使用合成数据训练；不得用于临床。",
        "intended_use_heading": "预期用途",
        "intended_use": "帮助学校心理老师决定优先约谈哪些学生；它只会提高筛查等级，从不降低。",
        "overview_heading": "概览",
        "version": "版本",
        "scope": "适用范围",
        "model": "模型",
        "model.logistic": "逻辑回归",
        "model.boosting": "梯度提升",
        "trained_by": "训练人",
        "trained_at": "训练时间",
        "data_window": "数据时间范围",
        "folds": "交叉验证折数",
        "data_heading": "数据",
        "n": "测评人次",
        "positives": "阳性（后来确认需要支持）",
        "negatives": "阴性",
        "positive_share": "阳性比例",
        "counts": "计数",
        "features_heading": "特征",
        "feature_count": "特征数",
        "demographics_used": "使用了人口学特征（性别、年龄段）：这是特征配置中记录在案的选择。",
        "demographics_not_used": "未使用人口学特征。",
        "metrics_heading": "性能（交叉验证）",
        "metric": "指标",
        "value": "数值",
        "interval": "95% 区间",
        "roc_auc": "ROC 曲线下面积（AUC）",
        "pr_auc": "PR 曲线下面积（平均精确率）",
        "brier": "Brier 分数（越低越好）",
        "calibration_error": "校准误差（越低越好）",
        "calibration_heading": "按十分位的校准",
        "bin": "十分位",
        "predicted": "平均预测风险",
        "observed": "实际比例",
        "count": "人数",
        "thresholds_heading": "等级阈值",
        "tier": "等级",
        "threshold": "阈值",
        "sensitivity": "敏感度",
        "specificity": "特异度",
        "ppv": "阳性预测值",
        "flagged_share": "被标记比例",
        "groups_heading": "分组结果",
        "group": "分组",
        "group_value": "组别",
        "note": "备注",
        "flag": "⚠ 敏感度比整体低 0.05 以上",
        "flagged_heading": "被标记的分组",
        "none_flagged": "没有分组被标记。",
        "no_groups": "未记录分组结果。",
        "comparison_heading": "模型比较",
        "limitations_heading": "局限",
        "limitation.risk_not_need": "分数估计的是学生被确认需要支持的可能性，并不衡量需要本身；由心理老师的面谈来决定。",
        "limitation.raise_only": "模型只能提高筛查等级；低分从不推翻规则给出的等级或心理老师的判断。",
        "limitation.labels": "结果标签来自以往的跟进记录，也带有其缺口：从未被跟进的学生可能被算作阴性。",
        "limitation.window": "性能是在上述数据时间范围内测得的；其他学校、年龄、年份或量表的表现可能不同。",
        "limitation.thresholds": "阈值是在这些数据上选定的；人群或量表变化时应重新审视。",
        "limitation.small_groups": "小分组的结果不稳定；请结合人数阅读。",
        "limitation.synthetic": "使用合成数据训练：这些数字不反映真实学生的情况。",
        "limitation.demographics": "使用了人口学特征；在对任何分组依赖本模型之前，请先查看分组结果。",
        "limitation.flagged": "部分分组被标记：模型在这些分组中漏掉需要支持的学生比整体更多。",
        "roc_title": "ROC 曲线",
        "roc_x": "假阳性率（1 − 特异度）",
        "roc_y": "真阳性率（敏感度）",
        "calibration_title": "校准曲线",
        "calibration_x": "预测风险",
        "calibration_y": "实际比例",
        "chance": "随机水平",
        "perfect": "完全校准",
        "tier.green": "绿",
        "tier.yellow": "黄",
        "tier.orange": "橙",
        "tier.red": "红",
        "group.gender": "性别",
        "group.age": "年龄段",
        "group.school": "学校",
        "group.grade": "年级",
        "group.school_kind": "学校类型",
        "group.grade_band": "学段",
        "value.female": "女",
        "value.male": "男",
        "value.unknown": "未知",
    },
}

LANGUAGES = tuple(STRINGS)


def _strings(language: str) -> dict[str, str]:
    try:
        return STRINGS[language]
    except KeyError:
        raise ValueError(f"unknown card language {language!r}; choose one of {', '.join(LANGUAGES)}") from None


def _limitation_keys(*, synthetic: bool, demographics: bool, any_flagged: bool) -> list[str]:
    keys = list(_ALWAYS_LIMITATIONS)
    if any_flagged:
        keys.append("flagged")
    if demographics:
        keys.append("demographics")
    if synthetic:
        keys.insert(0, "synthetic")
    return keys


def _flagged_groups(groups: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {
            "group": group,
            "value": str(row["value"]),
            "n": row.get("n"),
            "positives": row.get("positives"),
            "sensitivity": row.get("sensitivity"),
        }
        for group, rows in groups.items()
        for row in rows
        if row.get("flagged")
    ]


_SUMMARY_KEYS = ("model", "n", "positives", "folds", "roc_auc", "pr_auc", "brier", "calibration_error", "thresholds")


def _is_report(value: Any) -> bool:
    return isinstance(value, Mapping) and "roc_auc" in value and "pr_auc" in value


def _comparison(comparison: Mapping[str, Any]) -> dict[str, Any]:
    """The comparison as recorded: full evaluation reports (as ``evaluate.compare`` returns them) are cut
    to their summary (curves, calibration and groups of the other model are not card material)."""
    return {
        str(key): (
            {k: copy.deepcopy(value[k]) for k in _SUMMARY_KEYS if k in value}
            if _is_report(value)
            else copy.deepcopy(value)
        )
        for key, value in comparison.items()
    }


def card_json(
    *,
    version: str,
    scope: str,
    evaluation: Mapping[str, Any],
    features: list[str],
    spec: Mapping[str, Any],
    data_window: tuple[str, str],
    counts: Mapping[str, Any],
    synthetic: bool,
    demographics: bool,
    trained_by: str,
    trained_at: str,
    comparison: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the model card records, as a JSON-ready dict.

    ``evaluation`` is the dict :func:`scoring.risk.evaluate.evaluate` returns; it is copied, not kept.
    The card always carries the screening-aid statement; when ``synthetic`` is true it carries the
    synthetic-data warning as well; ``demographics`` records whether demographic features were used.
    """
    missing = [key for key in REQUIRED_EVALUATION_KEYS if key not in evaluation]
    if missing:
        raise ValueError("evaluation is missing " + ", ".join(missing))
    en = STRINGS["en"]
    n = int(evaluation["n"])
    positives = int(evaluation["positives"])
    groups = copy.deepcopy(dict(evaluation["groups"]))
    flagged = _flagged_groups(groups)
    limitation_keys = _limitation_keys(synthetic=synthetic, demographics=demographics, any_flagged=bool(flagged))
    start, end = data_window
    return {
        "schema": CARD_SCHEMA,
        "statement": en["statement"],
        "synthetic": bool(synthetic),
        "warning": en["synthetic"] if synthetic else None,
        "version": version,
        "scope": scope,
        "model": evaluation["model"],
        "trained_by": trained_by,
        "trained_at": trained_at,
        "intended_use": en["intended_use"],
        "data": {
            "window": {"start": start, "end": end},
            "counts": copy.deepcopy(dict(counts)),
            "n": n,
            "positives": positives,
            "negatives": n - positives,
            "positive_share": positives / n if n else None,
            "folds": int(evaluation["folds"]),
        },
        "features": {
            "names": list(features),
            "count": len(features),
            "spec": copy.deepcopy(dict(spec)),
            "demographics": bool(demographics),
            "demographics_note": en["demographics_used"] if demographics else en["demographics_not_used"],
        },
        "metrics": {
            "roc_auc": dict(evaluation["roc_auc"]),
            "pr_auc": dict(evaluation["pr_auc"]),
            "brier": evaluation["brier"],
            "calibration_error": evaluation["calibration_error"],
        },
        "calibration": copy.deepcopy(list(evaluation["calibration"])),
        "roc_curve": [list(point) for point in evaluation["roc_curve"]],
        "thresholds": copy.deepcopy(list(evaluation["thresholds"])),
        "groups": groups,
        "flag_rule": {"sensitivity_gap": FLAG_GAP, "text": en["flag"]},
        "flagged_groups": flagged,
        "comparison": _comparison(comparison) if comparison is not None else None,
        "limitations": [{"key": key, "text": en[f"limitation.{key}"]} for key in limitation_keys],
    }


# --- Markdown -------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """Text safe inside a Markdown table cell rendered to HTML."""
    text = html.escape(str(value), quote=False)
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _num(value: Any, digits: int = 3) -> str:
    if value is None or isinstance(value, bool):
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.{digits}f}"
    return _cell(value)


def _share(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * float(value):.1f}%"


def _interval(metric: Mapping[str, Any]) -> str:
    return f"{_num(metric.get('low'))}–{_num(metric.get('high'))}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _label(s: Mapping[str, str], prefix: str, value: Any) -> str:
    return _cell(s.get(f"{prefix}.{value}", str(value)))


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and "value" in value and {"low", "high"} <= set(value):
            out.append((name, f"{_num(value['value'])} ({_interval(value)})"))
        elif isinstance(value, Mapping):
            out += _flatten(value, f"{name}.")
        elif isinstance(value, list | tuple):
            if all(not isinstance(item, Mapping | list | tuple) for item in value):
                out.append((name, ", ".join(_num(item) for item in value)))
            else:
                out.append((name, f"[{len(value)}]"))
        else:
            out.append((name, _num(value)))
    return out


def card_markdown(card: Mapping[str, Any], language: str = "en") -> str:
    """The card as readable Markdown in ``language`` ("en" or "zh-hans").

    Free text that came from outside (scope, group names, counts) is HTML-escaped, so the Markdown can be
    rendered and inlined safely.
    """
    s = _strings(language)
    data = card["data"]
    feats = card["features"]
    metrics = card["metrics"]
    lines: list[str] = [f"# {s['title']}: {_cell(card['version'])}", ""]
    if card.get("synthetic"):
        lines += [f"> **⚠ {s['synthetic']}**", ""]
    lines += [f"**{s['statement']}**", ""]

    lines += [f"## {s['intended_use_heading']}", "", s["intended_use"], ""]

    lines += [f"## {s['overview_heading']}", ""]
    lines += [
        f"- {s['version']}: {_cell(card['version'])}",
        f"- {s['scope']}: {_cell(card['scope'])}",
        f"- {s['model']}: {_label(s, 'model', card['model'])}",
        f"- {s['trained_by']}: {_cell(card['trained_by'])}",
        f"- {s['trained_at']}: {_cell(card['trained_at'])}",
        f"- {s['data_window']}: {_cell(data['window']['start'])} – {_cell(data['window']['end'])}",
        f"- {s['folds']}: {_num(data['folds'])}",
        "",
    ]

    lines += [f"## {s['data_heading']}", ""]
    lines += [
        f"- {s['n']}: {_num(data['n'])}",
        f"- {s['positives']}: {_num(data['positives'])}",
        f"- {s['negatives']}: {_num(data['negatives'])}",
        f"- {s['positive_share']}: {_share(data['positive_share'])}",
    ]
    if data.get("counts"):
        lines.append(f"- {s['counts']}:")
        lines += [f"  - {_cell(key)}: {value}" for key, value in _flatten(data["counts"])]
    lines.append("")

    lines += [f"## {s['features_heading']}", ""]
    lines += [s["demographics_used"] if feats["demographics"] else s["demographics_not_used"], ""]
    lines += [f"{s['feature_count']}: {feats['count']}", ""]
    lines += [", ".join(f"`{_cell(name)}`" for name in feats["names"]), ""]

    lines += [f"## {s['metrics_heading']}", ""]
    metric_rows = [
        [s["roc_auc"], _num(metrics["roc_auc"].get("value")), _interval(metrics["roc_auc"])],
        [s["pr_auc"], _num(metrics["pr_auc"].get("value")), _interval(metrics["pr_auc"])],
        [s["brier"], _num(metrics["brier"]), "—"],
        [s["calibration_error"], _num(metrics["calibration_error"]), "—"],
    ]
    lines += [*_table([s["metric"], s["value"], s["interval"]], metric_rows), ""]

    lines += [f"## {s['calibration_heading']}", ""]
    cal_rows = [
        [_num(b.get("bin")), _num(b.get("predicted")), _num(b.get("observed")), _num(b.get("count"))]
        for b in card["calibration"]
    ]
    lines += [*_table([s["bin"], s["predicted"], s["observed"], s["count"]], cal_rows), ""]

    lines += [f"## {s['thresholds_heading']}", ""]
    thr_rows = [
        [
            _label(s, "tier", t.get("tier")),
            _num(t.get("threshold")),
            _num(t.get("sensitivity")),
            _num(t.get("specificity")),
            _num(t.get("ppv")),
            _share(t.get("flagged_share")),
        ]
        for t in card["thresholds"]
    ]
    header = [s["tier"], s["threshold"], s["sensitivity"], s["specificity"], s["ppv"], s["flagged_share"]]
    lines += [*_table(header, thr_rows), ""]

    lines += [f"## {s['groups_heading']}", ""]
    group_rows = [
        [
            _label(s, "group", group),
            _label(s, "value", row.get("value")),
            _num(row.get("n")),
            _num(row.get("positives")),
            _num(row.get("roc_auc")),
            _num(row.get("sensitivity")),
            _num(row.get("specificity")),
            _num(row.get("ppv")),
            s["flag"] if row.get("flagged") else "",
        ]
        for group, rows in card["groups"].items()
        for row in rows
    ]
    if group_rows:
        header = [
            s["group"],
            s["group_value"],
            s["n"],
            s["positives"],
            s["roc_auc"],
            s["sensitivity"],
            s["specificity"],
            s["ppv"],
            s["note"],
        ]
        lines += [*_table(header, group_rows), ""]
    else:
        lines += [s["no_groups"], ""]
    lines += [f"### {s['flagged_heading']}", ""]
    if card["flagged_groups"]:
        lines += [
            f"- {_label(s, 'group', f['group'])} = {_label(s, 'value', f['value'])}: "
            f"{s['sensitivity']} {_num(f.get('sensitivity'))} ({s['flag']})"
            for f in card["flagged_groups"]
        ]
    else:
        lines.append(s["none_flagged"])
    lines.append("")

    if card.get("comparison"):
        lines += [f"## {s['comparison_heading']}", ""]
        reports = {k: v for k, v in card["comparison"].items() if _is_report(v)}
        others = {k: v for k, v in card["comparison"].items() if not _is_report(v)}
        if reports:
            header = [s["model"], s["roc_auc"], s["pr_auc"], s["brier"], s["calibration_error"]]
            rows = [
                [
                    _label(s, "model", key),
                    f"{_num(r['roc_auc'].get('value'))} ({_interval(r['roc_auc'])})",
                    f"{_num(r['pr_auc'].get('value'))} ({_interval(r['pr_auc'])})",
                    _num(r.get("brier")),
                    _num(r.get("calibration_error")),
                ]
                for key, r in reports.items()
            ]
            lines += [*_table(header, rows), ""]
        if others:
            lines += [*_table([s["metric"], s["value"]], ([_cell(k), v] for k, v in _flatten(others))), ""]

    lines += [f"## {s['limitations_heading']}", ""]
    lines += ["- " + s["limitation." + item["key"]] for item in card["limitations"]]
    lines += ["", f"**{s['statement']}**", ""]
    return "\n".join(lines)


# --- SVG ------------------------------------------------------------------------------------------------

_SIZE = 320
_LEFT, _TOP, _PLOT = 56, 24, 240  # plot square: x in [56, 296], y in [24, 264]


def _x(value: float) -> float:
    return _LEFT + _PLOT * min(1.0, max(0.0, value))


def _y(value: float) -> float:
    return _TOP + _PLOT * (1.0 - min(1.0, max(0.0, value)))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _frame(title: str, x_label: str, y_label: str, diagonal_label: str) -> list[str]:
    """The SVG opening, title, grid, axes, tick labels, axis labels and the dashed diagonal."""
    right, bottom = _LEFT + _PLOT, _TOP + _PLOT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_SIZE} {_SIZE}" width="{_SIZE}" height="{_SIZE}" '
        f'role="img" aria-label="{_esc(title)}" font-family="sans-serif" font-size="10">',
        f"<title>{_esc(title)}</title>",
        f'<rect x="0" y="0" width="{_SIZE}" height="{_SIZE}" fill="#ffffff"/>',
        '<g stroke="#e3e3e3" stroke-width="1">',
    ]
    for i in range(1, 10):
        v = i / 10
        parts.append(f'<line x1="{_x(v):.1f}" y1="{_TOP}" x2="{_x(v):.1f}" y2="{bottom}"/>')
        parts.append(f'<line x1="{_LEFT}" y1="{_y(v):.1f}" x2="{right}" y2="{_y(v):.1f}"/>')
    parts.append("</g>")
    parts.append(f'<rect x="{_LEFT}" y="{_TOP}" width="{_PLOT}" height="{_PLOT}" fill="none" stroke="#333333"/>')
    parts.append('<g fill="#333333">')
    for i in range(0, 11, 2):
        v = i / 10
        parts.append(f'<text x="{_x(v):.1f}" y="{bottom + 14}" text-anchor="middle">{v:.1f}</text>')
        parts.append(f'<text x="{_LEFT - 6}" y="{_y(v) + 3:.1f}" text-anchor="end">{v:.1f}</text>')
    parts.append(
        f'<text x="{_LEFT + _PLOT / 2:.1f}" y="{bottom + 34}" text-anchor="middle" font-size="11">{_esc(x_label)}</text>'
    )
    parts.append(
        f'<text x="14" y="{_TOP + _PLOT / 2:.1f}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 14 {_TOP + _PLOT / 2:.1f})">{_esc(y_label)}</text>'
    )
    parts.append("</g>")
    parts.append(
        f'<line x1="{_x(0):.1f}" y1="{_y(0):.1f}" x2="{_x(1):.1f}" y2="{_y(1):.1f}" stroke="#888888" '
        f'stroke-width="1" stroke-dasharray="4 3"><title>{_esc(diagonal_label)}</title></line>'
    )
    return parts


def _points(pairs: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{_x(a):.2f},{_y(b):.2f}" for a, b in pairs)


def roc_svg(evaluation: Mapping[str, Any], language: str = "en") -> str:
    """The ROC curve as a self-contained SVG: axes 0–1, grid, the curve as a polyline, the chance line dashed."""
    s = _strings(language)
    roc = evaluation.get("roc_auc") or {}
    title = s["roc_title"]
    if _finite(roc.get("value")):
        title += f" (AUC {roc['value']:.3f}"
        if _finite(roc.get("low")) and _finite(roc.get("high")):
            title += f", {s['interval']} {roc['low']:.3f}–{roc['high']:.3f}"
        title += ")"
    pairs = [(float(p[0]), float(p[1])) for p in evaluation["roc_curve"] if _finite(p[0]) and _finite(p[1])]
    parts = _frame(title, s["roc_x"], s["roc_y"], s["chance"])
    parts.append(
        f'<polyline points="{_points(pairs)}" fill="none" stroke="#1f5fa8" stroke-width="2" stroke-linejoin="round"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def calibration_svg(evaluation: Mapping[str, Any], language: str = "en") -> str:
    """The calibration curve (mean predicted risk against observed share per decile) as a self-contained SVG.

    Bins without a finite predicted and observed value (empty bins) are left out of the curve.
    """
    s = _strings(language)
    title = s["calibration_title"]
    if _finite(evaluation.get("calibration_error")):
        title += f" ({s['calibration_error']}: {evaluation['calibration_error']:.3f})"
    bins = [b for b in evaluation["calibration"] if _finite(b.get("predicted")) and _finite(b.get("observed"))]
    pairs = [(float(b["predicted"]), float(b["observed"])) for b in bins]
    parts = _frame(title, s["calibration_x"], s["calibration_y"], s["perfect"])
    parts.append(
        f'<polyline points="{_points(pairs)}" fill="none" stroke="#b5521b" stroke-width="2" stroke-linejoin="round"/>'
    )
    parts.append('<g fill="#b5521b">')
    for b, (a, o) in zip(bins, pairs, strict=True):
        label = f"{s['bin']} {b.get('bin')}: {s['predicted']} {a:.3f}, {s['observed']} {o:.3f}, {s['count']} {b.get('count')}"
        parts.append(f'<circle cx="{_x(a):.2f}" cy="{_y(o):.2f}" r="3"><title>{_esc(label)}</title></circle>')
    parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)
