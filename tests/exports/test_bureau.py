"""The bureau aggregate: counts per school and grade for a bureau analyst, small cells withheld,
no identifier anywhere in the file, and nobody else may have it; one of the analyst's own regions
as a whole and one whole term that has started, nothing else (tests/exports/test_differencing.py
has the requests it refuses and why).

The screenings go through the same services a student and guardian use (tests/cases/case_helpers).
Dongshan (east, olga's district) gets grades 7 and 8; Xishan (west) gets cordelia, whom olga must
never count.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone, translation
from openpyxl import load_workbook
from test_suppression import assert_safe, recovered

from exports.build import BuildContext
from exports.bureau import PARTS, build_bureau_aggregate, bureau_published, bureau_table
from exports.kpis.terms import current_term, whole_term
from exports.suppression import COMPLEMENT_MARK, PRIMARY_MARK
from screening.campaigns.models import Assignment, Campaign
from screening.core.errors import InvalidInput, NotAllowed, NotFound
from screening.core.models import AuditEvent
from screening.directory.models import Membership, SchoolClass, Student
from screening.directory.services import current_school_year
from tests.campaigns.campaign_test_helpers import campaign_open
from tests.cases.case_helpers import flag
from tests.conftest import make_student

HEADERS = ["Region", "School", "Grade", "Students assigned", "Screened", "Completion rate", "Red", "Orange",
           "Yellow", "Flag rate (red, orange, yellow)"]
# Grade 7 at Dongshan: 13 students, two red (a small cell). Grade 8: 10 students, half never answer.
GRADE_7 = [*["red"] * 2, *["yellow"] * 5, *["green"] * 6]
GRADE_8 = [*["green"] * 5, *[None] * 5]


def this_term() -> dict[str, Any]:
    """The current term, as bureau_table takes it (the screenings below open now)."""
    term = current_term()
    return {"school_year": term.school_year, "season": term.season}


def previous_term() -> dict[str, Any]:
    term = current_term()
    if term.season == "spring":
        return {"school_year": term.school_year, "season": "autumn"}
    return {"school_year": term.school_year - 1, "season": "spring"}


def next_term() -> dict[str, Any]:
    term = current_term()
    if term.season == "autumn":
        return {"school_year": term.school_year, "season": "spring"}
    return {"school_year": term.school_year + 1, "season": "autumn"}


def as_params(term: dict[str, Any]) -> dict[str, Any]:
    return {"school_year": term["school_year"], "term": term["season"]}


@pytest.fixture
def screened(cast: Any) -> Any:
    """Dongshan's autumn screening (grades 7 and 8) and one at Xishan."""
    grade_8 = SchoolClass.objects.create(school=cast.dongshan, school_year=current_school_year(), grade=8,
                                         name="初二(1)班")
    sevens = [cast.hamlet, cast.hilda] + [
        make_student(cast.ds_7_1, f"D7{k:03d}", f"七年级学生{k:02d}", 12) for k in range(len(GRADE_7) - 2)]
    eights = [make_student(grade_8, f"D8{k:03d}", f"八年级学生{k:02d}", 13) for k in range(len(GRADE_8))]
    campaign = campaign_open(cast, school=cast.dongshan, classes=[cast.ds_7_1, cast.ds_7_2, grade_8])
    for students, tiers in ((sevens, GRADE_7), (eights, GRADE_8)):
        for student, tier in zip(students, tiers, strict=True):
            if tier is not None:
                flag(cast, student, tier, campaign)
    flag(cast, cast.cordelia, "red")
    return cast


def build(user: Any, tmp_path: Path, **params: Any) -> tuple[Path, list[tuple[int, int]], BuildContext]:
    calls: list[tuple[int, int]] = []
    params = {"region": None, **as_params(this_term()), **params}
    ctx = BuildContext(user=user, params=params, path=tmp_path / "bureau.xlsx",
                       progress=lambda done, total: calls.append((done, total)))
    with translation.override("en"):
        build_bureau_aggregate(ctx)
    return ctx.path, calls, ctx


def sheet_rows(path: Path, index: int = 0) -> list[tuple[Any, ...]]:
    return list(load_workbook(path, read_only=True).worksheets[index].iter_rows(values_only=True))


def truth(school: Any, grade: int) -> dict[str, int]:
    """What the database says, counted here independently of the builder."""
    assignments = Assignment.objects.filter(campaign__school=school, student__school_class__grade=grade)
    tiers = Counter(assignments.filter(submission__isnull=False).values_list("submission__tier", flat=True))
    screened = sum(tiers.values())
    return {"assigned": assignments.count(), "screened": screened, **{t: tiers.get(t, 0) for t in
                                                                        ("red", "orange", "yellow", "green")}}


def check_count(shown: Any, true: int, *, complement_ok: bool = True) -> None:
    """A shown count is the true one; "<5" hides 1..4; "x" hides a count (5 or more, or derived)."""
    if shown == PRIMARY_MARK:
        assert 1 <= true <= 4
    elif shown == COMPLEMENT_MARK:
        assert complement_ok
    else:
        assert shown == true


def test_the_analyst_gets_the_database_counts_with_small_cells_withheld(screened: Any, tmp_path: Path) -> None:
    path, _calls, _ctx = build(screened.olga, tmp_path)
    rows = sheet_rows(path)
    assert list(rows[0]) == HEADERS
    by_grade = {row[2]: row for row in rows[1:] if row[1] == screened.dongshan.name_en}
    assert set(by_grade) == {7, 8}
    for grade, row in by_grade.items():
        true = truth(screened.dongshan, grade)
        for col, name in ((3, "assigned"), (4, "screened"), (6, "red"), (7, "orange"), (8, "yellow")):
            check_count(row[col], true[name])
        if isinstance(row[5], float):
            assert row[5] == pytest.approx(true["screened"] / true["assigned"])
        if isinstance(row[9], float):
            assert row[9] == pytest.approx((true["red"] + true["orange"] + true["yellow"]) / true["screened"])
    assert by_grade[7][3:10] == (13, 13, 1.0, PRIMARY_MARK, 0, COMPLEMENT_MARK, pytest.approx(7 / 13))
    assert by_grade[8][3:10] == (10, 5, 0.5, 0, 0, 0, 0.0)
    assert rows[-2] == (None,) * len(HEADERS)  # a blank row keeps the totals out of the filter
    assert rows[-1][1:10] == ("Total", None, 23, 18, pytest.approx(18 / 23), PRIMARY_MARK, 0, COMPLEMENT_MARK,
                              pytest.approx(7 / 18))
    sheet = load_workbook(path).worksheets[0]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:J3"
    assert sheet["F2"].number_format == "0.0%" and sheet["J2"].number_format == "0.0%"
    assert all(sheet.column_dimensions[c].width >= 8 for c in "ABCDEFGHIJ")


def test_the_file_holds_no_name_number_or_public_id(screened: Any, tmp_path: Path) -> None:
    path, _calls, _ctx = build(screened.olga, tmp_path)
    secrets = [s for student in Student.objects.all() for s in (student.name, student.number, student.public_id)]
    cells = {str(cell) for index in (0, 1) for row in sheet_rows(path, index) for cell in row if cell is not None}
    with zipfile.ZipFile(path) as archive:
        xml = "".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    for secret in secrets:
        assert not any(secret in cell for cell in cells), secret
        assert secret not in xml, secret


def test_the_notes_give_the_term_and_explain_the_marks(screened: Any, tmp_path: Path) -> None:
    path, calls, ctx = build(screened.olga, tmp_path, region=screened.east.pk)
    notes = "\n".join(str(row[0]) for row in sheet_rows(path, 1))
    term = current_term()
    since = term.since.isoformat()
    with translation.override("en"):
        assert f"in the {term.label} term, {since} to {term.until.isoformat()}" in notes
    assert "East District" in notes and f"“{PRIMARY_MARK}”" in notes and f"“{COMPLEMENT_MARK}”" in notes
    assert calls and calls[-1][0] == calls[-1][1]
    assert all(done <= total for done, total in calls)
    event = AuditEvent.objects.get(object_type="exports.bureau_aggregate")
    assert event.action == "export" and event.actor_username == "olga"
    assert event.detail["since"] == since and event.detail["rows"] == 2 and event.detail["schools"] == 1
    assert (event.detail["region"], event.detail["school_year"], event.detail["term"]) == (
        screened.east.pk, term.school_year, term.season)
    assert event.detail["withheld_small"] > 0 and ctx.detail == event.detail
    assert event.student_public_id == ""


def test_the_analyst_sees_only_the_schools_of_their_region(screened: Any) -> None:
    table = bureau_table(user=screened.olga, region=None, **this_term())
    assert set(table["school_id"]) == {screened.dongshan.pk}
    assert table.attrs["region"] == screened.east.pk
    everyone = bureau_table(user=screened.root, region=None, **this_term())
    assert set(everyone["school_id"]) == {screened.dongshan.pk, screened.xishan.pk}
    for other in (screened.west.pk, 999_999):  # not one of her regions: refused on the field
        with pytest.raises(InvalidInput) as refused:
            bureau_table(user=screened.olga, region=other, **this_term())
        assert set(refused.value.fields) == {"region"}
    with pytest.raises(NotFound):
        bureau_table(user=screened.root, region=999_999, **this_term())


def test_a_staff_membership_outside_the_region_adds_no_school(screened: Any) -> None:
    """Olga also counsels at Xishan (west): her aggregate of the east still holds no Xishan row. It
    used to read every school she may see, which a staff membership widens."""
    Membership.objects.create(user=screened.olga, role="counsellor", school=screened.xishan)
    screened.olga = type(screened.olga).objects.get(pk=screened.olga.pk)  # a fresh principal
    table = bureau_table(user=screened.olga, region=None, **this_term())
    assert set(table["school_id"]) == {screened.dongshan.pk}


def test_a_term_with_nothing_to_show_is_refused_not_written_empty(screened: Any, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as refused:
        build(screened.olga, tmp_path, **as_params(previous_term()))
    assert refused.value.code == "nothing_to_export"
    assert not (tmp_path / "bureau.xlsx").exists()


def test_only_campaigns_that_opened_in_the_term_count_and_a_term_not_started_is_refused(screened: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        bureau_table(user=screened.olga, region=None, **next_term())
    assert set(refused.value.fields) == {"term"}
    assert bureau_table(user=screened.olga, region=None, **previous_term()).empty
    before = whole_term(previous_term()["school_year"], previous_term()["season"])
    opened = timezone.make_aware(dt.datetime.combine(before.until, dt.time(9)))
    Campaign.objects.filter(school=screened.dongshan).update(opens_at=opened)
    assert bureau_table(user=screened.olga, region=None, **this_term()).empty
    assert set(bureau_table(user=screened.olga, region=None, **previous_term())["school_id"]) == {screened.dongshan.pk}


@pytest.mark.parametrize("who", ["alice", "carol", "diana", "lily", "nobody", "hamlet"])
def test_staff_liaisons_and_students_are_refused(cast: Any, tmp_path: Path, who: str) -> None:
    user = getattr(cast, who)
    if isinstance(user, Student):
        from screening.directory.services import student_user_ensure

        user = student_user_ensure(student=user)
    with pytest.raises(NotAllowed):
        bureau_table(user=user, region=None, **this_term())
    with pytest.raises(NotAllowed):
        build(user, tmp_path)
    assert not AuditEvent.objects.filter(object_type="exports.bureau_aggregate").exists()


@pytest.mark.parametrize(("params", "field"), [
    ({"school_year": "2025"}, "school_year"), ({"school_year": None}, "school_year"), ({"term": "winter"}, "term"),
    ({"region": "east"}, "region"), ({"term": None}, "term"), ("next", "term"), ("west", "region"),
])
def test_bad_parameters_are_refused(cast: Any, tmp_path: Path, params: Any, field: str) -> None:
    """A job's JSON is data: the builder checks it again (the API's serializer checks it first)."""
    shapes = {"next": as_params(next_term()), "west": {"region": cast.west.pk}}
    given = shapes[params] if isinstance(params, str) else params
    with pytest.raises(InvalidInput) as refused:
        build(cast.olga, tmp_path, **given)
    assert set(refused.value.fields) == {field}


# --- what may leave, without the database --------------------------------------------------------


def table_of(rows: list[list[int]]) -> pd.DataFrame:
    """A bureau_table-shaped frame from rows of (red, orange, yellow, green, not screened)."""
    parts = pd.DataFrame(rows, columns=list(PARTS))
    labels = pd.DataFrame({"school_id": range(len(rows)), "region": "东区",
                           "school": [f"school {k}" for k in range(len(rows))], "grade": 7})
    return pd.concat([labels, parts], axis=1)


def cells(frame: pd.DataFrame, row: int, *columns: str) -> list[Any]:
    return [frame.at[row, column] for column in columns]


def test_screened_and_rates_are_shown_only_where_the_shown_counts_give_them() -> None:
    published = bureau_published(table_of([
        [0, 0, 6, 30, 0],   # nothing small: everything shown
        [2, 0, 6, 30, 8],   # red small, protected by not-screened: screened is not given by shown cells
        [3, 0, 6, 30, 2],   # red and not-screened small
        [0, 0, 0, 0, 9],    # nobody screened: no flag rate
    ]), total_label="Total").frame
    assert list(published.loc[0, "assigned":"flag_rate"]) == [36, 36, 1.0, 0, 0, 6, pytest.approx(6 / 36)]
    for row in (1, 2):
        assert published.loc[row, "red"] == PRIMARY_MARK
        assert cells(published, row, "screened", "completion_rate", "flag_rate") == [COMPLEMENT_MARK] * 3
    assert cells(published, 3, "screened", "completion_rate", "flag_rate") == [0, 0.0, None]
    total = published.iloc[-1]
    assert (total["school"], total["grade"], total["red"], total["screened"]) == ("Total", None, 5, 113)
    assert total["flag_rate"] == pytest.approx(23 / 113)


def test_screened_is_shown_when_assigned_and_not_screened_give_it_though_tiers_are_withheld() -> None:
    published = bureau_published(table_of([
        [0, 0, 6, 30, 0],
        [2, 0, 6, 30, 8],   # red small, yellow and green withheld with it; not screened shown
        [2, 0, 6, 3, 40],   # red and green small
        [0, 0, 0, 0, 9],
    ])).frame
    assert cells(published, 1, "red", "screened", "completion_rate") == [PRIMARY_MARK, 38, pytest.approx(38 / 46)]
    assert cells(published, 2, "red", "screened") == [PRIMARY_MARK, 11]
    assert cells(published, 1, "flag_rate") == cells(published, 2, "flag_rate") == [COMPLEMENT_MARK]


def test_no_shown_figure_is_a_count_from_one_to_four() -> None:
    rng = np.random.default_rng(7)
    rows = np.column_stack([rng.poisson(lam, 40) for lam in (1, 2, 6, 60, 4)]).tolist()
    publication = bureau_published(table_of(rows))
    frame = publication.frame
    for column in ("assigned", "screened", "red", "orange", "yellow"):
        shown = [v for v in frame[column] if not isinstance(v, str)]
        assert all(v == 0 or v >= 5 for v in shown), column
    assert_safe(publication.suppression, also_non_negative_only=False)


def test_a_table_too_small_to_protect_cell_by_cell_is_published_with_every_count_withheld() -> None:
    """One school, one grade, four students, one in each part: each "<5" is at least 1 and the four
    make the total of 4, so any cell-by-cell suppression gives each one back. Everything is "x"."""
    publication = bureau_published(table_of([[1, 1, 1, 1, 0]]), total_label="Total")
    assert publication.suppression.whole
    frame = publication.frame
    for row in range(len(frame)):
        figures = list(frame.loc[row, "assigned":"flag_rate"])
        assert figures == [COMPLEMENT_MARK] * len(figures), figures
    values, hidden = publication.suppression.values, publication.suppression.suppressed
    assert hidden.all()
    assert recovered(values, hidden, np.zeros(values.shape), np.full(values.shape, np.inf)) == []


def test_the_notes_say_when_every_count_had_to_be_withheld(cast: Any, tmp_path: Path) -> None:
    """In the database: a class of four at Dongshan, one student at each tier, is the whole table."""
    class_9 = SchoolClass.objects.create(school=cast.dongshan, school_year=current_school_year(), grade=9,
                                         name="初三(1)班")
    students = [make_student(class_9, f"D9{k:03d}", f"九年级学生{k:02d}", 14) for k in range(4)]
    campaign = campaign_open(cast, school=cast.dongshan, classes=[class_9])
    for student, tier in zip(students, ("red", "orange", "yellow", "green"), strict=True):
        flag(cast, student, tier, campaign)
    path, _calls, ctx = build(cast.olga, tmp_path)
    rows = sheet_rows(path)
    assert list(rows[0]) == HEADERS
    shown = [row for row in rows[1:] if any(row)]
    assert [row[1:3] for row in shown] == [(cast.dongshan.name_en, 9), ("Total", None)]
    for row in shown:
        assert list(row[3:]) == [COMPLEMENT_MARK] * (len(HEADERS) - 3), row
    notes = "\n".join(str(row[0]) for row in sheet_rows(path, 1))
    assert "every count and total is withheld" in notes
    assert ctx.detail["withheld_small"] == 0 and ctx.detail["withheld_to_protect"] > 0
