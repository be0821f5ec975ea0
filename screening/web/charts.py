"""Small charts drawn on the server as inline SVG: no script, no chart library, readable without
colour (every value is also a dot with its own title, and the page lists the scores in a table).

``trend_svg`` draws one instrument's totals over time on the scale of its bands. It is a pure
function of its arguments (dates, totals, the scale and the band labels) and escapes every text it
writes, so its output is safe to put in a page as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Small enough that its 11-unit text stays readable on a 360-px phone, where it is drawn at about
# nine tenths of its size; the page caps its width on wide screens.
WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 34, 12, 10, 28
MAX_DATE_LABELS = 5
DATE_WIDTH = 62  # a date under the axis (YYYY-MM-DD at 11 units) is about this wide
DATE_SPACE = 4  # and two dates keep at least this apart


@dataclass(frozen=True)
class Band:
    """One band of an instrument's total: ``low`` to ``high`` inclusive, and its label."""

    low: float
    high: float
    label: str


def _fmt(value: float) -> str:
    """A number for the markup: integers without a decimal point, others to one decimal."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _x_positions(days: Sequence[dt.date]) -> list[float]:
    """Horizontal positions in proportion to time. A single point sits in the middle; several on one
    day only (two questionnaires a day apart from nothing else) are spread evenly in their order."""
    plot = WIDTH - LEFT - RIGHT
    first, last = min(days), max(days)
    span = (last - first).days
    if span == 0:
        n = len(days)
        return [LEFT + plot / 2] if n == 1 else [LEFT + plot * i / (n - 1) for i in range(n)]
    return [LEFT + plot * (d - first).days / span for d in days]


def _y(value: float, max_score: float) -> float:
    plot = HEIGHT - TOP - BOTTOM
    clamped = min(max(value, 0.0), max_score)
    return TOP + plot * (1 - clamped / max_score)


def _bands_markup(bands: Sequence[Band], max_score: float) -> list[str]:
    """Alternately shaded bands, each titled with its label (the labels are sentences: the page's
    table gives each score's band in words), and the boundary values on the axis."""
    out: list[str] = []
    for i, band in enumerate(bands):
        top, bottom = _y(band.high, max_score), _y(band.low, max_score)
        if bottom <= top:
            continue
        shade = "#eef2f6" if i % 2 == 0 else "#ffffff"
        out.append(f'<rect class="band" x="{LEFT}" y="{top:.1f}" width="{WIDTH - LEFT - RIGHT}" '
                   f'height="{bottom - top:.1f}" fill="{shade}"><title>{escape(band.label)}</title></rect>')
        if band.low > 0:
            out.append(f'<text x="{LEFT - 6}" y="{bottom + 4:.1f}" font-size="11" text-anchor="end" '
                       f'fill="#4a5868">{_fmt(band.low)}</text>')
    return out


def _date_extent(x: float) -> tuple[str, float, float]:
    """How a date under the axis at ``x`` is anchored (dates at the ends stay inside the picture)
    and the span it covers."""
    if x < LEFT + DATE_WIDTH / 2:
        return "start", x, x + DATE_WIDTH
    if x > WIDTH - RIGHT - DATE_WIDTH / 2:
        return "end", x - DATE_WIDTH, x
    return "middle", x - DATE_WIDTH / 2, x + DATE_WIDTH / 2


def _date_labels(days: Sequence[dt.date], xs: Sequence[float]) -> list[str]:
    """Dates under the axis: the first and the last, and between them as many as fit (at most
    ``MAX_DATE_LABELS`` in all), none over another."""
    n = len(days)
    step = max(1, -(-n // MAX_DATE_LABELS))
    order = [0, n - 1, *range(step, n - 1, step)] if n > 1 else [0]
    kept: list[tuple[int, str, float, float]] = []
    for i in order:
        anchor, left, right = _date_extent(xs[i])
        if all(right + DATE_SPACE <= k_left or left >= k_right + DATE_SPACE for _k, _a, k_left, k_right in kept):
            kept.append((i, anchor, left, right))
    return [f'<text class="date" x="{xs[i]:.1f}" y="{HEIGHT - BOTTOM + 18}" font-size="11" '
            f'text-anchor="{anchor}" fill="#4a5868">{days[i].isoformat()}</text>'
            for i, anchor, _l, _r in sorted(kept)]


def trend_svg(points: Sequence[tuple[dt.date, float]], max_score: float, bands: Sequence[Band] = (), *,
              title: str = "", score_label: str = "") -> SafeString:
    """An instrument's totals over time as an SVG line chart: the bands shaded behind (titled), the axis
    from 0 to ``max_score`` with the band boundaries, a date under each point (fewer when there
    are many), a line through the points and a dot per point whose title gives the date and the
    total. ``title`` names the chart for screen readers. No points: an empty string."""
    if not points or max_score <= 0:
        return mark_safe("")
    ordered = sorted(points, key=lambda p: p[0])
    days = [d for d, _t in ordered]
    xs = _x_positions(days)
    ys = [_y(float(t), max_score) for _d, t in ordered]
    label = escape(title)
    parts = [
        f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" aria-label="{label}">',
        f"<title>{label}</title>",
        *_bands_markup(bands, max_score),
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#8796a8"/>',
        f'<line class="axis" x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="#8796a8"/>',
        f'<text x="{LEFT - 6}" y="{HEIGHT - BOTTOM + 4}" font-size="11" text-anchor="end" fill="#4a5868">0</text>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" font-size="11" text-anchor="end" fill="#4a5868">{_fmt(max_score)}</text>',
        *_date_labels(days, xs),
    ]
    if len(ordered) > 1:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        parts.append(f'<polyline points="{line}" fill="none" stroke="#1f5f99" stroke-width="2"/>')
    word = escape(score_label)
    for (day, total), x, y in zip(ordered, xs, ys, strict=True):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="#1f5f99">'
                     f"<title>{day.isoformat()}: {word} {_fmt(float(total))}</title></circle>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
