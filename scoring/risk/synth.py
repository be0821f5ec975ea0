"""Synthetic cohorts: made-up students, their answers and (sometimes) an interview outcome.

Synthetic data, not for clinical use. The cohorts exist to develop and test the risk model's
pipeline without touching real students' data.

The model, in order:

1. Demographics: gender (female/male, even), grade band (primary 10-12, junior 13-15, senior 16-18,
   university 19-25) and an age inside the band.
2. Three correlated latent factors (depression, anxiety, distress; correlations 0.6-0.7) from a
   multivariate normal, shifted a little upwards for girls and for older students. A fourth,
   internal "tail" factor (mostly depression, plus its own noise) drives the rare suicidal items.
3. Answers. Each instrument loads on one factor (`INSTRUMENT_FACTORS`; WHO-5 on depression with
   the sign reversed, since higher well-being means less depression). Every item answer is an
   ordinal cut of ``loading x factor + item noise``, mapped to the item's printed option values.
   Reverse-keyed items are printed the other way round so the *scored* direction stays right.
   Items a critical rule names (PHQ-9 item 9, UPI item 25, ASQ item 5, ...) load on the tail
   factor and are much rarer. Everything about the items (ids, option values, reverse keys,
   conditional items, critical rules) comes from the definitions; nothing is listed here.
4. Ground truth: ``need`` is a logistic draw from the latent state (depression, anxiety, their
   interaction and a little distress): learnable, not deterministic. About 10-15% are True.
5. Interview selection: ``p = 0.15 + 0.8 * sigmoid(12 * (severity - 0.35) + 3 * asq_positive)``,
   where severity is the mean, over instruments with a total, of the scored total as a share of
   its range. Interviewed students get ``outcome`` from ``need``; the others get None.
6. Optional bias: ``under_recorded=(group, share)`` records that share of the group's interviewed
   true needs as "no_current_need" (``need`` itself stays the truth).

Random streams are split (numpy ``SeedSequence``): the students, their latent state and ``need``
do not depend on which instruments are asked, and one instrument's answers do not depend on the
others. Generation is vectorised per item, so 100,000 sittings take a few seconds.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

import scoring
from scoring.definition import Instrument, Item

FACTORS = ("depression", "anxiety", "distress")
GENDERS = ("female", "male")
GRADE_BANDS = ("primary", "junior", "senior", "university")
OUTCOMES = ("confirmed_need", "no_current_need")
DEFAULT_INSTRUMENTS = ("phq9", "gad7", "asq")

#: Age range and share of the cohort per grade band.
_BANDS: Mapping[str, tuple[int, int, float]] = {
    "primary": (10, 12, 0.20),
    "junior": (13, 15, 0.30),
    "senior": (16, 18, 0.30),
    "university": (19, 25, 0.20),
}
_CORRELATION = np.array([[1.0, 0.70, 0.65], [0.70, 1.0, 0.60], [0.65, 0.60, 1.0]])
#: Mean shift of (depression, anxiety, distress) for girls, and per year of age above 14.
_FEMALE_SHIFT = np.array([0.20, 0.20, 0.10])
_AGE_SHIFT_PER_YEAR = np.array([0.035, 0.025, 0.035])
_TAIL_LOADING = 0.8  # tail = 0.8 x depression + 0.6 x own noise


@dataclass(frozen=True)
class _Model:
    """How an instrument's items respond: the factor they load on, its sign, and where the cuts sit.

    Integer items cut the response at ``base + shift + linspace(0, span, k - 1)`` (k options);
    yes/no items are yes above ``base + shift``. ``shift`` is a small per-item jitter, plus
    ``critical_shift`` for items a critical rule names.
    """

    factor: str  # one of FACTORS, or "tail"
    sign: float = 1.0
    base: float = 0.15
    span: float = 1.9
    critical_shift: float = 0.9


_SYMPTOM = _Model("depression")
#: The factor each shipped instrument loads on. A code missing here has no synthetic model.
INSTRUMENT_FACTORS: Mapping[str, _Model] = {
    "phq9": _SYMPTOM,
    "phq2": _SYMPTOM,
    "phqa": _SYMPTOM,
    "cesd": _SYMPTOM,
    "sds": _Model("depression", base=0.0, span=1.9),
    "who5": _Model("depression", sign=-1.0, base=-1.7, span=2.6),
    "k10": _Model("distress"),
    "k6": _Model("distress"),
    "pss10": _Model("distress", base=-0.6, span=2.0),
    "gad7": _Model("anxiety"),
    "gad2": _Model("anxiety"),
    "sas": _Model("anxiety", base=0.3, span=1.9),
    "scl90": _Model("distress", base=0.5, span=2.0),
    "upi": _Model("distress", base=1.2),
    "asq": _Model("tail", base=2.3, critical_shift=-0.2),
}
_LOADING_RANGE = (0.6, 0.8)
_ITEM_SHIFT_SD = 0.15
#: Of yes answers to items with extra answers (ASQ's "declined"), the share recorded as the extra;
#: and of no answers, the share that declines anyway.
_EXTRA_OF_YES = 0.10
_EXTRA_OF_NO = 0.002

#: need ~ Bernoulli(sigmoid(intercept + weights . (depression, anxiety, distress) + dep x anx)).
_NEED_INTERCEPT = -3.6
_NEED_WEIGHTS = np.array([1.25, 0.65, 0.25])
_NEED_INTERACTION = 0.35

#: Interview probability: floor + range x sigmoid(slope x (severity - centre) + asq_bonus x asq_positive).
_INTERVIEW_FLOOR = 0.15
_INTERVIEW_RANGE = 0.80
_INTERVIEW_SLOPE = 12.0
_INTERVIEW_CENTRE = 0.35
_INTERVIEW_ASQ_BONUS = 3.0


@dataclass(frozen=True)
class SyntheticSitting:
    """One made-up student's sitting. Synthetic data, not for clinical use.

    ``answers`` maps instrument code to ``{item id: printed value}``, every value one the
    definition accepts (so `scoring.score` finds no problems). ``need`` is the ground truth;
    ``outcome`` is what an interview recorded ("confirmed_need" / "no_current_need"), or None
    when the student was not interviewed.
    """

    id: str
    answers: dict[str, dict[str, Any]]
    gender: str
    age: int
    grade_band: str
    school_kind: str
    latent: dict[str, float]
    need: bool
    outcome: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (plain str/int/float/bool/None values)."""
        return asdict(self)


def cohort(
    n: int,
    seed: int,
    *,
    instruments: Sequence[str] = DEFAULT_INSTRUMENTS,
    under_recorded: tuple[str, float] | None = None,
) -> list[SyntheticSitting]:
    """Generate ``n`` synthetic sittings, the same for the same arguments.

    Raises ValueError for a negative ``n``, an unknown or repeated instrument code, or a bad
    ``under_recorded`` (the group must be a gender or grade band value, the share within 0-1).
    """
    codes = _check_arguments(n, instruments, under_recorded)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    people, latent_rng, need_rng, select_rng = streams

    # 1. Demographics.
    band_names = list(_BANDS)
    shares = np.array([_BANDS[b][2] for b in band_names])
    band_idx = people.choice(len(band_names), size=n, p=shares / shares.sum())
    lows = np.array([_BANDS[b][0] for b in band_names])[band_idx]
    highs = np.array([_BANDS[b][1] for b in band_names])[band_idx]
    ages = people.integers(lows, highs + 1)
    female = people.random(n) < 0.5

    # 2. Latent state.
    z = latent_rng.multivariate_normal(np.zeros(3), _CORRELATION, size=n, method="cholesky")
    z = z + np.outer(female, _FEMALE_SHIFT) + np.outer(ages - 14, _AGE_SHIFT_PER_YEAR)
    tail = _TAIL_LOADING * z[:, 0] + np.sqrt(1 - _TAIL_LOADING**2) * latent_rng.standard_normal(n)
    drivers = {name: z[:, i] for i, name in enumerate(FACTORS)} | {"tail": tail}

    # 4. Ground truth.
    dep, anx = z[:, 0], z[:, 1]
    logit = _NEED_INTERCEPT + z @ _NEED_WEIGHTS + _NEED_INTERACTION * dep * anx
    need = need_rng.random(n) < _sigmoid(logit)

    # 3. Answers, instrument by instrument.
    answers: dict[str, list[dict[str, Any]]] = {}
    severities: list[np.ndarray] = []
    asq_positive = np.zeros(n, dtype=bool)
    for code in codes:
        inst = scoring.instrument(code)
        rng = np.random.default_rng([seed, zlib.crc32(code.encode("utf-8"))])
        rows, severity, positive = _answer_instrument(inst, INSTRUMENT_FACTORS[code], drivers, rng, n)
        answers[code] = rows
        if severity is not None:
            severities.append(severity)
        if positive is not None:
            asq_positive |= positive

    # 5. Interview selection and outcome.
    severity_mean = np.mean(severities, axis=0) if severities else np.zeros(n)
    x = _INTERVIEW_SLOPE * (severity_mean - _INTERVIEW_CENTRE) + _INTERVIEW_ASQ_BONUS * asq_positive
    interviewed = select_rng.random(n) < _INTERVIEW_FLOOR + _INTERVIEW_RANGE * _sigmoid(x)
    recorded_need = need & interviewed

    # 6. Deliberate under-recording.
    under = select_rng.random(n)
    if under_recorded is not None:
        group, share = under_recorded
        in_group = ~female if group == "male" else female if group == "female" else band_idx == band_names.index(group)
        recorded_need &= ~(in_group & (under < share))

    # Assemble. Python lists first: indexing NumPy scalars per student is slow.
    z_list = np.round(z, 4).tolist()
    ages_list = ages.tolist()
    female_list = female.tolist()
    bands_list = [band_names[i] for i in band_idx.tolist()]
    need_list = need.tolist()
    interviewed_list = interviewed.tolist()
    recorded_list = recorded_need.tolist()
    out: list[SyntheticSitting] = []
    for i in range(n):
        band = bands_list[i]
        out.append(
            SyntheticSitting(
                id=f"SYN-{i + 1:06d}",
                answers={code: rows[i] for code, rows in answers.items()},
                gender="female" if female_list[i] else "male",
                age=ages_list[i],
                grade_band=band,
                school_kind=band,
                latent=dict(zip(FACTORS, z_list[i], strict=True)),
                need=need_list[i],
                outcome=(OUTCOMES[0] if recorded_list[i] else OUTCOMES[1]) if interviewed_list[i] else None,
            )
        )
    return out


def _check_arguments(n: int, instruments: Sequence[str], under_recorded: tuple[str, float] | None) -> tuple[str, ...]:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a whole number, 0 or more, not {n!r}")
    if isinstance(instruments, str):
        raise ValueError("instruments must be a sequence of codes, such as ('phq9', 'gad7'), not one string")
    codes = tuple(instruments)
    known = scoring.instrument_codes()
    for code in codes:
        if code not in known:
            raise ValueError(f"unknown instrument {code!r} (known: {', '.join(known)})")
        if code not in INSTRUMENT_FACTORS:
            raise ValueError(f"instrument {code!r} has no synthetic model (see INSTRUMENT_FACTORS)")
    if len(set(codes)) != len(codes):
        raise ValueError("each instrument may be named once")
    if under_recorded is not None:
        group, share = under_recorded
        if group not in GENDERS and group not in GRADE_BANDS:
            raise ValueError(f"under_recorded group must be one of {', '.join(GENDERS + GRADE_BANDS)}, not {group!r}")
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 <= share <= 1.0:
            raise ValueError(f"under_recorded share must be between 0 and 1, not {share!r}")
    return codes


def _sigmoid(x: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return result


def _critical_items(inst: Instrument) -> frozenset[str]:
    """Ids of items a critical rule names directly (``{item: "9", ge: 1}``)."""
    return frozenset(str(rule["item"]) for rule in inst.critical if "item" in rule)


def _answer_instrument(
    inst: Instrument, model: _Model, drivers: Mapping[str, np.ndarray], rng: np.random.Generator, n: int
) -> tuple[list[dict[str, Any]], np.ndarray | None, np.ndarray | None]:
    """Answer every item of one instrument for every student.

    Returns the answer rows, the scored severity (total as a share of its range, higher = worse)
    when the instrument has a total, and the positive-screen mask when it has no total (ASQ).
    """
    critical = _critical_items(inst)
    chosen: dict[str, np.ndarray] = {}  # item id -> index into item.options.values, per student
    columns: list[list[Any]] = []
    scored_sum = np.zeros(n)
    scored_max = 0
    any_yes = np.zeros(n, dtype=bool)
    for item in inst.items:
        loading = rng.uniform(*_LOADING_RANGE)
        shift = rng.normal(0.0, _ITEM_SHIFT_SD)
        if item.id in critical:
            driver, shift = drivers["tail"], shift + model.critical_shift
        else:
            driver = model.sign * drivers[model.factor]
        response = loading * driver + np.sqrt(1 - loading**2) * rng.standard_normal(n)
        index, level, top = _cut(item, response, model.base + shift, model.span, rng)
        chosen[item.id] = index
        columns.append(np.array(item.options.values, dtype=object)[index].tolist())
        if item.scored:
            scored_sum += level
            scored_max += top
        if item.options.kind == "boolean" and item.asked_if is None:
            any_yes |= index != 1  # yes or an extra such as "declined"
    rows = [dict(zip((it.id for it in inst.items), values, strict=True)) for values in zip(*columns, strict=True)]
    _drop_unasked(inst, chosen, rows)
    if "total" in inst.scores and scored_max:
        severity = scored_sum / scored_max
        return rows, (1.0 - severity if model.sign < 0 else severity), None
    return rows, None, any_yes


def _cut(
    item: Item, response: np.ndarray, base: float, span: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int]:
    """Cut a continuous response into an option index, its scored level and the top level."""
    options = item.options
    if options.kind == "boolean":
        yes = response > base
        index = np.where(yes, 0, 1)  # values are (True, False, *extras)
        extras = len(options.values) - 2
        if extras:
            declines = rng.random(len(response)) < np.where(yes, _EXTRA_OF_YES, _EXTRA_OF_NO)
            index = np.where(declines, 2, index)
        return index, yes.astype(float), 1
    k = len(options.values)
    cuts = base + np.linspace(0.0, span, k - 1)
    level = (response[:, None] > cuts[None, :]).sum(axis=1)
    # values are sorted ascending; a reverse-keyed item prints the top value for the lowest level.
    index = (k - 1 - level) if item.reverse else level
    return index, level.astype(float), k - 1


def _drop_unasked(inst: Instrument, chosen: Mapping[str, np.ndarray], rows: list[dict[str, Any]]) -> None:
    """Remove conditional items (``asked_if``) whose condition does not hold for that student."""
    for item in inst.items:
        cond = item.asked_if
        if cond is None:
            continue
        if set(cond) == {"any_item", "in"}:
            asked = np.zeros(len(rows), dtype=bool)
            for other_id in cond["any_item"]:
                other = inst.item(str(other_id))
                accepted = [
                    j
                    for j, value in enumerate(other.options.values)
                    if any(value == want and type(value) is type(want) for want in cond["in"])
                ]
                asked |= np.isin(chosen[other.id], accepted)
            for i in np.flatnonzero(~asked).tolist():
                del rows[i][item.id]
        else:  # any other condition shape: ask the engine, student by student
            for row in rows:
                if item.id not in scoring.asked_items(inst.code, row):
                    del row[item.id]
