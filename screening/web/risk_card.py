"""A risk model's card as the parts of an HTML page: the card JSON (scoring.risk.card.card_json)
turned into labelled, formatted rows in the reader's language, and its two pictures as inline SVG.

The card's own words (headings, metric names, limitations, tiers) come from the card's bilingual
strings (scoring.risk.card.STRINGS), so the page says exactly what the card and its pictures say;
feature columns are named in plain words (scoring.risk.features.plain_name). Every value is left
to the template to escape; only the SVG, which our code draws from numbers and escapes its text
(scoring.risk.card._esc), is marked safe.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from django.utils.functional import Promise
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from scoring.errors import ScoringError
from scoring.risk.card import STRINGS
from scoring.risk.features import plain_name
from screening.directory.models import School
from screening.riskmodels.models import RiskModel
from screening.riskmodels.pictures import calibration_picture, roc_picture

# Group variables and values the training records that the card's strings do not name.
GROUP_LABELS: dict[str, Promise] = {"school_kind": _("kind of school"), "grade_band": _("grade band")}
VALUE_LABELS: dict[str, Promise] = {
    **{str(value): label for value, label in School.Kind.choices},
    "junior": _("junior high"), "senior": _("senior high"), "primary": _("primary"),
    "university": _("university"), "vocational": _("vocational"),
}
COUNT_LABELS: dict[str, Promise] = {"labelled": _("labelled sittings"), "positives": _("confirmed needs")}


def strings(lang: str) -> Mapping[str, str]:
    """The card's words in ``lang`` ("en" or "zh-hans"), English for any other."""
    return STRINGS.get(lang, STRINGS["en"])


def number(value: Any, digits: int = 3) -> str:
    """A metric as the card prints it: three decimals, "—" when there is none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def share(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return "—"
    return f"{100 * float(value):.1f}%"


def interval(metric: Mapping[str, Any]) -> str:
    return f"{number(metric.get('low'))}–{number(metric.get('high'))}"


def feature_name(column: str, lang: str) -> str:
    """A feature column in plain words; the column itself for one the definitions no longer know."""
    try:
        return plain_name(column, lang)
    except (ScoringError, KeyError, IndexError, ValueError):
        return column


def _label(s: Mapping[str, str], prefix: str, value: Any, extra: Mapping[str, Promise] | None = None) -> str:
    found = s.get(f"{prefix}.{value}")
    if found is None and extra is not None and str(value) in extra:
        return str(extra[str(value)])
    return found if found is not None else str(value)


def scope_label(model: RiskModel) -> str:
    """The school or region a model scores, or every school."""
    if model.scope_school is not None:
        return model.scope_school.name
    if model.scope_region is not None:
        return model.scope_region.name
    return str(_("every school"))


def _metrics(s: Mapping[str, str], metrics: Mapping[str, Any]) -> list[dict[str, str]]:
    rows = []
    for key in ("roc_auc", "pr_auc"):
        metric = metrics.get(key) or {}
        rows.append({"label": s[key], "value": number(metric.get("value")), "interval": interval(metric)})
    for key in ("brier", "calibration_error"):
        rows.append({"label": s[key], "value": number(metrics.get(key)), "interval": "—"})
    return rows


def _thresholds(s: Mapping[str, str], rows: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [
        {"tier": str(t.get("tier")), "label": _label(s, "tier", t.get("tier")), "threshold": number(t.get("threshold")),
         "sensitivity": number(t.get("sensitivity")), "specificity": number(t.get("specificity")),
         "ppv": number(t.get("ppv")), "flagged_share": share(t.get("flagged_share"))}
        for t in rows
    ]


def _groups(s: Mapping[str, str], groups: Mapping[str, list[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {"group": _label(s, "group", group, GROUP_LABELS), "value": _label(s, "value", row.get("value"), VALUE_LABELS),
         "n": number(row.get("n")), "positives": number(row.get("positives")), "roc_auc": number(row.get("roc_auc")),
         "sensitivity": number(row.get("sensitivity")), "specificity": number(row.get("specificity")),
         "ppv": number(row.get("ppv")), "flagged": bool(row.get("flagged"))}
        for group, rows in groups.items()
        for row in rows
    ]


def _comparison(s: Mapping[str, str], comparison: Mapping[str, Any] | None, kind: str) -> list[dict[str, Any]]:
    reports = {k: r for k, r in (comparison or {}).items() if isinstance(r, Mapping) and "roc_auc" in r}
    return [
        {"model": _label(s, "model", key), "this": key == kind,
         "roc_auc": f"{number(r['roc_auc'].get('value'))} ({interval(r['roc_auc'])})",
         "pr_auc": f"{number((r.get('pr_auc') or {}).get('value'))} ({interval(r.get('pr_auc') or {})})",
         "brier": number(r.get("brier")), "calibration_error": number(r.get("calibration_error"))}
        for key, r in reports.items()
    ]


def _without_demographics(s: Mapping[str, str], card: Mapping[str, Any]) -> dict[str, Any] | None:
    """What turning demographics on changed: the same folds without them, set beside the model's
    own metrics and per-group sensitivity (None when the model does not use them)."""
    other = card.get("without_demographics")
    if not isinstance(other, Mapping):
        return None
    mine = {(g, str(r.get("value"))): r for g, rows in (card.get("groups") or {}).items() for r in rows}
    rows = []
    for group, values in (other.get("groups") or {}).items():
        for row in values:
            with_them = mine.get((group, str(row.get("value")))) or {}
            rows.append({"group": _label(s, "group", group, GROUP_LABELS),
                         "value": _label(s, "value", row.get("value"), VALUE_LABELS),
                         "with": number(with_them.get("sensitivity")), "without": number(row.get("sensitivity"))})
    metrics = card.get("metrics") or {}
    return {"auc_with": number((metrics.get("roc_auc") or {}).get("value")),
            "auc_without": number((other.get("roc_auc") or {}).get("value")), "groups": rows}


def _data(s: Mapping[str, str], data: Mapping[str, Any]) -> dict[str, Any]:
    window = data.get("window") or {}
    counts = [{"label": str(COUNT_LABELS.get(k, k)), "value": number(v)} for k, v in (data.get("counts") or {}).items()
              if not isinstance(v, Mapping | list)]
    return {"start": window.get("start") or "—", "end": window.get("end") or "—", "n": number(data.get("n")),
            "positives": number(data.get("positives")), "negatives": number(data.get("negatives")),
            "positive_share": share(data.get("positive_share")), "folds": number(data.get("folds")), "counts": counts}


def pictures(card: Mapping[str, Any], lang: str) -> dict[str, SafeString]:
    """The ROC and calibration curves as inline SVG."""
    # Drawn by scoring.risk.card from numbers; its titles and labels are escaped there.
    return {"roc": mark_safe(roc_picture(card, lang)), "calibration": mark_safe(calibration_picture(card, lang))}  # noqa: S308


def card_context(model: RiskModel, lang: str) -> dict[str, Any]:
    """Everything the card page shows, formatted, in ``lang``."""
    card, s = model.card or {}, strings(lang)
    features = card.get("features") or {}
    return {
        "s": s, "card": card, "kind": _label(s, "model", card.get("model", model.kind)), "scope": scope_label(model),
        "data": _data(s, card.get("data") or {}),
        "features": [{"column": c, "name": feature_name(c, lang)} for c in features.get("names", [])],
        "demographics_note": s["demographics_used"] if features.get("demographics") else s["demographics_not_used"],
        "metrics": _metrics(s, card.get("metrics") or {}),
        "calibration": [{k: number(b.get(k)) for k in ("bin", "predicted", "observed", "count")}
                        for b in card.get("calibration") or []],
        "thresholds": _thresholds(s, card.get("thresholds") or []),
        "groups": _groups(s, card.get("groups") or {}),
        "flagged_groups": [{"group": _label(s, "group", f.get("group"), GROUP_LABELS),
                            "value": _label(s, "value", f.get("value"), VALUE_LABELS),
                            "sensitivity": number(f.get("sensitivity"))} for f in card.get("flagged_groups") or []],
        "comparison": _comparison(s, card.get("comparison"), str(card.get("model", model.kind))),
        "without_demographics": _without_demographics(s, card),
        "limitations": [s.get(f"limitation.{item.get('key')}", item.get("text", "")) for item in card.get("limitations", [])],
        "pictures": pictures(card, lang),
    }
