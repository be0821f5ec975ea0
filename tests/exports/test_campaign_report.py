"""The campaign report workbook: what a head of centre and the counsellors read back in Excel.

Built to a file and read back with openpyxl: the sheets, headers and formats, counts and means that
match the database, native charts, every flagged row present and audited, and the report cut to
what the requester may see (carol: class 7-1 only; bob: another school's campaign is not found).
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.utils import timezone, translation

from exports import campaign_report
from exports.build import BuildContext
from exports.campaign_report import build_campaign_report, sheet_names
from screening.campaigns.models import Result, Submission
from screening.campaigns.services import answering, consent
from screening.core.errors import NotAllowed, NotFound
from screening.core.models import AuditEvent
from screening.directory.models import Membership
from screening.directory.services import student_user_ensure
from tests.campaigns.campaign_test_helpers import assignment_of, campaign_open, ready
from tests.cases.case_helpers import flag
from tests.conftest import make_student

pytestmark = pytest.mark.django_db

SUMMARY, ITEMS, FLAGGED = "Summary", "Item statistics", "Flagged students"
INJECTION = '=HYPERLINK("http://evil.example","x")'


class Screening:
    """A Dongshan campaign over classes 7-1 and 7-2 (phq9 + asq), answered through the services.

    7-1: hamlet red, dora green, duke's guardian refuses.  7-2: hilda yellow, a student whose
    roster name is a formula orange, and one who has not started."""

    def __init__(self, cast: Any):
        self.dora = make_student(cast.ds_7_1, "D0003", "杜小多", 15)
        self.duke = make_student(cast.ds_7_1, "D0004", "邓小可", 12)
        self.eve = make_student(cast.ds_7_2, "D0005", INJECTION, 15)
        self.fay = make_student(cast.ds_7_2, "D0006", "范小菲", 15)
        self.campaign = campaign_open(cast)
        flag(cast, cast.hamlet, "red", self.campaign)
        flag(cast, self.dora, "green", self.campaign)
        flag(cast, cast.hilda, "yellow", self.campaign)
        flag(cast, self.eve, "orange", self.campaign)
        invitation = assignment_of(self.campaign, self.duke).invitations.get()
        consent.guardian_decide(invitation=invitation, decision="refused", language="zh-hans")


@pytest.fixture
def screening(cast: Any) -> Screening:
    return Screening(cast)


def build(user: Any, campaign: Any, tmp_path: Path, lang: str = "en") -> tuple[openpyxl.Workbook, BuildContext]:
    steps: list[tuple[int, int]] = []
    ctx = BuildContext(
        user=user,
        params={"campaign": campaign.pk},
        path=tmp_path / "report.xlsx",
        progress=lambda done, total: steps.append((done, total)),
    )
    with translation.override(lang):
        build_campaign_report(ctx)
    ctx.detail["steps"] = steps
    return openpyxl.load_workbook(ctx.path), ctx


def table(ws: Any, header: str) -> tuple[int, list[str], list[list[Any]]]:
    """The table whose header row starts with ``header``: (header row, headers, rows below it)."""
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    top = next(i for i, r in enumerate(rows) if r[0] == header)
    headers = [h for h in rows[top] if h is not None]
    return top + 1, headers, [r[: len(headers)] for r in rows[top + 1 :] if any(v is not None for v in r)]


def summary(ws: Any) -> dict[tuple[str, str], tuple[int, float | None]]:
    _top, _headers, rows = table(ws, "Section")
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


# --- sheets, values, charts, formats -------------------------------------------------------------


def test_the_head_of_centre_gets_every_sheet_with_counts_that_match_the_database(cast, screening, tmp_path):
    book, ctx = build(cast.diana, screening.campaign, tmp_path)

    assert book.sheetnames == [SUMMARY, "初一(1)班", "初一(2)班", ITEMS, FLAGGED]
    counts = summary(book[SUMMARY])
    assert counts[("Participation", "Assigned")] == (6, 1)
    assert counts[("Participation", "Completed")] == (4, pytest.approx(4 / 6))
    assert counts[("Participation", "Pending")][0] == 1  # fay
    assert counts[("Participation", "Declined or no consent")][0] == 1  # duke's guardian refused
    assert counts[("Guardian's consent", "Refused")][0] == 1
    for tier in ("red", "orange", "yellow", "green"):
        assert counts[("Tier (need for follow-up)", tier.capitalize())] == (1, pytest.approx(0.25))
    phq9 = "Patient Health Questionnaire-9 (PHQ-9)"
    by_band = {b: Result.objects.filter(instrument="phq9", band=b).count() for b in ("minimal", "moderate", "severe")}
    assert counts[(phq9, "None or minimal depressive symptoms")][0] == by_band["minimal"] == 2
    assert counts[(phq9, "Depressive symptoms in the moderate range")][0] == by_band["moderate"] == 1
    assert counts[(phq9, "Depressive symptoms in the severe range")][0] == by_band["severe"] == 1
    assert ctx.detail["students"] == 6 and ctx.detail["flagged"] == 3
    assert ctx.detail["steps"][-1][0] == ctx.detail["steps"][-1][1]  # progress ends at 100%


def test_each_class_sheet_holds_that_class_alone_and_no_names(cast, screening, tmp_path):
    book, _ctx = build(cast.diana, screening.campaign, tmp_path)

    first, second = summary(book["初一(1)班"]), summary(book["初一(2)班"])
    assert first[("Participation", "Assigned")][0] == 3 and second[("Participation", "Assigned")][0] == 3
    assert (
        first[("Tier (need for follow-up)", "Red")][0] == 1 and first[("Tier (need for follow-up)", "Orange")][0] == 0
    )
    assert (
        second[("Tier (need for follow-up)", "Orange")][0] == 1 and second[("Tier (need for follow-up)", "Red")][0] == 0
    )
    everything = " ".join(
        str(v)
        for ws in (book["初一(1)班"], book["初一(2)班"])
        for row in ws.iter_rows(values_only=True)
        for v in row
        if v is not None
    )
    for name in ("韩小明", "何小丽", "杜小多", "D0001", "D0003"):
        assert name not in everything


def test_the_summary_has_a_native_chart_per_section_and_real_formats(cast, screening, tmp_path):
    book, _ctx = build(cast.diana, screening.campaign, tmp_path)
    ws = book[SUMMARY]
    top, headers, rows = table(ws, "Section")

    # participation, student's consent, guardian's consent, PHQ-9, ASQ, tiers
    assert len(ws._charts) == 6
    assert headers == ["Section", "Category", "Students", "Share"]
    assert ws.freeze_panes == f"A{top + 1}"
    assert ws.auto_filter.ref == f"A{top}:D{top + len(rows)}"
    assert ws.cell(top, 1).font.b
    assert ws.cell(top + 2, 4).number_format == "0.0%"
    assert all(ws.column_dimensions[c].width >= 10 for c in "ABCD")


def test_item_statistics_match_the_answers_stored(cast, screening, tmp_path):
    book, _ctx = build(cast.diana, screening.campaign, tmp_path)
    top, headers, rows = table(book[ITEMS], "Questionnaire")
    answers = [s.answers for s in Submission.objects.all()]

    assert headers[:8] == ["Questionnaire", "Item", "Wording", "Answered", "Missing", "Not asked", "Mean", "SD"]
    assert len(rows) == 10 + 5  # PHQ-9 items 1-10, ASQ items 1-5: none cut off
    by_item = {(r[0], r[1]): dict(zip(headers, r, strict=True)) for r in rows}
    item9 = [a["phq9"]["9"] for a in answers]
    row = by_item[("PHQ-9", "9")]
    assert row["Answered"] == 4 and row["Missing"] == 0
    assert row["Mean"] == pytest.approx(statistics.mean(item9))
    assert row["SD"] == pytest.approx(statistics.stdev(item9))
    assert [row[str(v)] for v in range(4)] == [item9.count(v) for v in range(4)]
    assert by_item[("PHQ-9", "10")]["Answered"] == 0 and by_item[("PHQ-9", "10")]["Missing"] == 4
    # ASQ item 5 is asked only after a positive screen: hamlet's alone
    assert (by_item[("ASQ", "5")]["Answered"], by_item[("ASQ", "5")]["Not asked"]) == (1, 3)
    assert (
        by_item[("ASQ", "1")]["Yes"] == 1
        and by_item[("ASQ", "1")]["No"] == 3
        and by_item[("ASQ", "1")]["Declined to answer"] == 0
    )
    assert by_item[("ASQ", "1")]["Mean"] == pytest.approx(0.25)
    assert book[ITEMS].cell(top + 1, 7).number_format == "0.00"
    assert book[ITEMS].auto_filter.ref is not None


def test_flagged_students_are_listed_by_need_and_each_read_is_audited(cast, screening, tmp_path):
    book, _ctx = build(cast.diana, screening.campaign, tmp_path)
    _top, headers, rows = table(book[FLAGGED], "Student number")

    assert headers == [
        "Student number",
        "Name",
        "Class",
        "Tier",
        "PHQ-9 total",
        "PHQ-9 Band",
        "ASQ Band",
        "Flagged at",
        "Case status",
    ]
    assert [(r[0], r[3]) for r in rows] == [("D0001", "Red"), ("D0005", "Orange"), ("D0002", "Yellow")]
    hamlet = rows[0]
    assert hamlet[1:3] == ["韩小明", "初一(1)班"]
    assert hamlet[4] == Result.objects.get(submission__student=cast.hamlet, instrument="phq9").total
    assert hamlet[6].startswith("Positive screen, acute")
    assert hamlet[8] == "Waiting for first contact"
    submitted = timezone.localtime(Submission.objects.get(student=cast.hamlet).submitted_at).replace(tzinfo=None)
    assert abs((hamlet[7] - submitted).total_seconds()) < 1  # a real date, in the school's time zone
    assert book[FLAGGED].cell(2, 8).number_format == "yyyy-mm-dd hh:mm"
    assert rows[1][1] == INJECTION  # a roster name stays text, never a formula
    audited = AuditEvent.objects.filter(actor_id=cast.diana.pk, action="export", object_type="directory.Student")
    assert sorted(audited.values_list("student_public_id", flat=True)) == sorted(
        [cast.hamlet.public_id, cast.hilda.public_id, screening.eve.public_id]
    )


def test_rows_are_streamed_in_chunks_and_none_is_lost(cast, screening, tmp_path, monkeypatch):
    monkeypatch.setattr(campaign_report.data, "CHUNK", 2)
    book, ctx = build(cast.diana, screening.campaign, tmp_path)

    _top, _headers, rows = table(book[FLAGGED], "Student number")
    assert len(rows) == ctx.detail["flagged"] == 3
    _top, headers, items = table(book[ITEMS], "Questionnaire")
    assert dict(zip(headers, items[0], strict=True))["Answered"] == 4
    steps = ctx.detail["steps"]
    assert [d for d, _t in steps] == sorted(d for d, _t in steps) and len(steps) >= 6


def test_a_stepped_phq9_counts_the_items_carried_from_the_phq2_and_a_phq9_left_blank(cast, tmp_path):
    campaign = campaign_open(cast, instruments=["phq2", "gad2"], stepped=True)
    sittings = {
        cast.hamlet: {"phq2": {"1": 2, "2": 2}, "phq9": {str(i): 1 for i in range(3, 10)}, "gad2": {"1": 0, "2": 0}},
        cast.hilda: {"phq2": {"1": 3, "2": 1}, "gad2": {"1": 0, "2": 1}},  # the added PHQ-9 left out
    }
    for student, answers in sittings.items():
        answering.assignment_submit(
            actor=student_user_ensure(student=student),
            assignment_id=ready(cast, campaign, student).pk,
            answers=answers,
            idempotency_key="k",
            language="en",
        )
    book, _ctx = build(cast.diana, campaign, tmp_path)

    _top, headers, rows = table(book[ITEMS], "Questionnaire")
    by_item = {(r[0], r[1]): dict(zip(headers, r, strict=True)) for r in rows}
    assert [r[0] for r in rows].count("PHQ-9") == 10 and "GAD-7" in {r[0] for r in rows}
    assert (by_item[("PHQ-9", "1")]["Answered"], by_item[("PHQ-9", "1")]["Mean"]) == (2, pytest.approx(2.5))
    assert (by_item[("PHQ-9", "3")]["Answered"], by_item[("PHQ-9", "3")]["Missing"]) == (1, 1)
    assert (by_item[("GAD-7", "3")]["Answered"], by_item[("GAD-7", "3")]["Missing"]) == (0, 0)  # nobody stepped
    counts = summary(book[SUMMARY])
    phq9 = "Patient Health Questionnaire-9 (PHQ-9)"
    assert counts[(phq9, "Depressive symptoms in the moderate range")][0] == 1  # hamlet: 2 + 2 + 7
    assert counts[(phq9, "Not scored (too many answers missing)")][0] == 1  # hilda


def test_a_build_that_fails_leaves_no_temporary_file_with_names(cast, screening, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where xlsxwriter keeps its row files

    def progress(done: int, total: int) -> None:
        if done == total:  # after the flagged rows are written: the lease is lost, say
            raise RuntimeError("stop")

    ctx = BuildContext(
        user=cast.diana, params={"campaign": screening.campaign.pk}, path=tmp_path / "r.xlsx", progress=progress
    )
    with pytest.raises(RuntimeError):
        build_campaign_report(ctx)
    assert list(scratch.iterdir()) == []


# --- only what the requester may see ------------------------------------------------------------


def test_a_class_limited_counsellor_gets_only_their_class(cast, screening, tmp_path):
    book, ctx = build(cast.carol, screening.campaign, tmp_path)

    assert book.sheetnames == [SUMMARY, "初一(1)班", ITEMS, FLAGGED]
    assert summary(book[SUMMARY])[("Participation", "Assigned")][0] == 3
    _top, _headers, rows = table(book[FLAGGED], "Student number")
    assert [r[0] for r in rows] == ["D0001"]
    assert ctx.detail == {"students": 3, "flagged": 1, "steps": ctx.detail["steps"]}
    _top, _headers, items = table(book[ITEMS], "Questionnaire")
    assert items[0][3] == 2  # hamlet and dora answered; 7-2's answers are not counted
    audited = AuditEvent.objects.filter(actor_id=cast.carol.pk, action="export")
    assert list(audited.values_list("student_public_id", flat=True)) == [cast.hamlet.public_id]


def test_another_schools_counsellor_and_people_without_students_get_not_found(cast, screening, tmp_path):
    for user in (cast.bob, cast.edgar, cast.lily, cast.olga, cast.nobody):
        with pytest.raises(NotFound):
            build(user, screening.campaign, tmp_path)
    assert not (tmp_path / "report.xlsx").exists()
    assert not AuditEvent.objects.filter(action="export").exists()


def test_a_student_may_not_have_the_report_of_their_own_campaign(cast, screening, tmp_path):
    with pytest.raises(NotAllowed):
        build(student_user_ensure(student=cast.hamlet), screening.campaign, tmp_path)


def test_someone_who_covers_no_student_gets_no_flagged_sheet(cast, screening, tmp_path, django_user_model):
    # A class-limited counsellor whose list of classes has been emptied covers nobody.
    clara = django_user_model.objects.create_user(username="clara", password="x-correct-horse-42")
    Membership.objects.create(user=clara, role="counsellor", school=cast.dongshan, limited_to_classes=True)
    book, ctx = build(clara, screening.campaign, tmp_path)

    assert book.sheetnames == [SUMMARY, ITEMS]
    assert summary(book[SUMMARY])[("Participation", "Assigned")][0] == 0
    assert ctx.detail["students"] == 0 and ctx.detail["flagged"] == 0
    assert not AuditEvent.objects.filter(actor_id=clara.pk, action="export").exists()


def test_tier_labels_come_out_in_the_readers_language(cast, screening, tmp_path):
    book, _ctx = build(cast.diana, screening.campaign, tmp_path, lang="zh-hans")

    flagged = book.worksheets[-1]
    tiers = [row[3] for row in flagged.iter_rows(min_row=2, values_only=True)]
    assert tiers == ["红", "橙", "黄"]


# --- sheet names ------------------------------------------------------------------------------------


def test_sheet_names_are_ones_excel_accepts():
    names = sheet_names(
        ["Summary", "summary", "a/b:c[d]*e?f\\g", "x" * 40, "x" * 40, "'quoted'", "History"], taken=["Item statistics"]
    )

    assert names[0] == "Summary" and names[1] == "summary (2)"
    assert names[2] == "a_b_c_d__e_f_g"
    assert names[3] == "x" * 31 and names[4] == "x" * 27 + " (2)"
    assert names[5] == "quoted" and names[6] == "History (2)"
    assert len({n.casefold() for n in names}) == len(names)
    assert all(len(n) <= 31 and not n.startswith("'") for n in names)
