"""The score trend chart: a pure function from dates and totals to escaped SVG markup, and the
scale the student's file gives it (no database)."""

from __future__ import annotations

import datetime as dt
import itertools
import xml.etree.ElementTree as ET

from screening.web.charts import DATE_WIDTH, HEIGHT, TOP, WIDTH, Band, trend_svg
from screening.web.student_file import scale

SVG = "{http://www.w3.org/2000/svg}"
D1, D2, D3 = dt.date(2024, 9, 10), dt.date(2025, 3, 12), dt.date(2025, 9, 15)
PHQ9_BANDS = [Band(0, 4, "minimal"), Band(5, 9, "mild"), Band(10, 14, "moderate"), Band(15, 19, "moderately severe"),
              Band(20, 27, "severe")]


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def points_of(svg: ET.Element) -> list[tuple[float, float]]:
    line = svg.find(f"{SVG}polyline")
    assert line is not None
    return [(float(x), float(y)) for x, y in (p.split(",") for p in line.get("points", "").split())]


def test_a_trend_is_a_line_with_a_dot_per_screening_in_date_order() -> None:
    svg = parse(trend_svg([(D3, 6), (D1, 14), (D2, 9)], 27, PHQ9_BANDS, title="PHQ-9", score_label="total"))

    assert svg.tag == f"{SVG}svg" and svg.get("role") == "img" and svg.get("aria-label") == "PHQ-9"
    points = points_of(svg)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    assert xs == sorted(xs)  # oldest on the left, whatever the order given
    assert ys[0] < ys[1] < ys[2]  # 14, then 9, then 6: a higher score is drawn higher up
    # Proportional to time.
    share = (D2 - D1).days / (D3 - D1).days
    assert abs((xs[1] - xs[0]) / (xs[2] - xs[0]) - share) < 0.001
    titles = [c.findtext(f"{SVG}title") for c in svg.iter(f"{SVG}circle")]
    assert titles == ["2024-09-10: total 14", "2025-03-12: total 9", "2025-09-15: total 6"]


def test_the_axis_runs_from_zero_to_the_maximum_with_the_band_boundaries_and_dates() -> None:
    markup = trend_svg([(D1, 27), (D2, 0)], 27, PHQ9_BANDS)
    svg = parse(markup)
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert {"0", "27", "5", "10", "15", "20"} <= set(texts)
    assert [r.findtext(f"{SVG}title") for r in svg.iter(f"{SVG}rect")] == [b.label for b in PHQ9_BANDS]
    assert "2024-09-10" in texts and "2025-03-12" in texts
    (top, _), (bottom, _) = [(p[1], p) for p in points_of(svg)]
    assert abs(top - TOP) < 0.1  # 27 is at the top of the plot
    assert bottom > top and bottom <= HEIGHT


def test_one_screening_is_a_dot_without_a_line_and_none_is_nothing() -> None:
    svg = parse(trend_svg([(D1, 10)], 27))
    assert svg.find(f"{SVG}polyline") is None and len(list(svg.iter(f"{SVG}circle"))) == 1
    same_day = points_of(parse(trend_svg([(D1, 10), (D1, 4)], 27)))
    assert same_day[0][0] < same_day[1][0]  # two on one day are side by side, not on top of each other
    assert trend_svg([], 27) == ""
    assert trend_svg([(D1, 3)], 0) == ""


def test_text_is_escaped_and_scores_beyond_the_scale_stay_inside() -> None:
    markup = trend_svg([(D1, 40), (D2, -3)], 27, [Band(0, 27, '<script>alert("x")</script>')],
                       title='A & B "quoted"', score_label="<b>")
    assert "<script>" not in markup and "&lt;script&gt;" in markup and "&amp;" in markup
    ys = [y for _x, y in points_of(parse(markup))]
    assert all(TOP - 0.1 <= y <= HEIGHT for y in ys)


def test_many_screenings_keep_the_dates_under_the_axis_apart_and_inside() -> None:
    days = [D1 + dt.timedelta(days=30 * i) for i in range(24)]
    svg = parse(trend_svg([(d, i % 10) for i, d in enumerate(days)], 27))
    spans = []
    for text in svg.iter(f"{SVG}text"):
        if text.get("class") != "date":
            continue
        x, anchor = float(text.get("x", 0)), text.get("text-anchor")
        left = x if anchor == "start" else x - DATE_WIDTH if anchor == "end" else x - DATE_WIDTH / 2
        spans.append((left, left + DATE_WIDTH, text.text))
    assert 2 <= len(spans) <= 5
    assert spans[0][2] == days[0].isoformat() and spans[-1][2] == days[-1].isoformat()
    assert all(0 <= left and right <= WIDTH for left, right, _t in spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_the_file_scales_a_questionnaire_by_its_definition() -> None:
    top, bands = scale("phq9", "default", "en")
    assert top == 27 and [(b.low, b.high) for b in bands] == [(0, 4), (5, 9), (10, 14), (15, 19), (20, 27)]
    assert bands[0].label.startswith("None or minimal")
    gad7_top, _ = scale("gad7", None, "zh-hans")
    assert gad7_top == 21
    upi_top, upi_bands = scale("upi", None, "en")  # yes answers on 56 items; bands are conditions, not ranges
    assert upi_top == 56 and upi_bands == []
    unknown_top, unknown_bands = scale("no-such-questionnaire", None, "en", observed=[12.0, 30.0])
    assert unknown_top == 30 and unknown_bands == []
