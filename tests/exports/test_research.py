"""The research extract: pseudonymous item-level data of one campaign, as CSV and xlsx.

Built to a file and read back (csv module, openpyxl): only students whose consent covers research
use appear (a guardian's or the student's no, never asked, withdrawn after submitting, an under-14
without the guardian: absent); no name or student number anywhere in either file; the values are
the database's; the audit entry names the recipient and the purpose; only the school's head of
centre may export it (a counsellor: NotAllowed; another school: NotFound).
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.utils import timezone, translation

from exports.build import BuildContext
from exports.research import build_research_extract
from screening.campaigns import rules
from screening.campaigns.models import Assignment, Campaign, Result, Submission
from screening.campaigns.services import answering, consent
from screening.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from screening.core.models import AuditEvent
from screening.directory.models import Student
from screening.directory.services import student_user_ensure
from tests.campaigns.campaign_test_helpers import ASQ_NON_ACUTE, assignment_of, campaign_open, gad7_total, phq9
from tests.conftest import Cast, make_student

pytestmark = pytest.mark.django_db

RECIPIENT = "华南师范大学心理学院 王教授课题组"
PURPOSE = "青少年抑郁与焦虑症状的流行病学研究（伦理批件 2026-017）"
FIXED = ["public id", "grade", "gender", "birth year", "submitted on"]


def answers_for(n: int) -> dict[str, Any]:
    """A distinct, valid answer set per student (stepping through the options)."""
    return {"phq9": {**phq9(*[(n + i) % 4 for i in range(9)]), "10": n % 4},
            "gad7": gad7_total(n % 8), "asq": ASQ_NON_ACUTE if n % 2 else {"1": False, "2": False, "3": False,
                                                                         "4": "declined", "5": False}}


class Screening:
    """A Dongshan campaign (PHQ-9, GAD-7, ASQ) that asks for research use, and who said what.

    In: hamlet (12, both yes), dora (15, both yes), ed (19, own yes). Out: hilda (13, guardian no),
    fay (15, own no), gus (15, never asked), hal (12, withdrew research after submitting), ivy (15,
    withdrew the screening after submitting), jo (12, both yes, not submitted)."""

    def __init__(self, cast: Cast):
        self.cast = cast
        mk = make_student
        self.dora = mk(cast.ds_7_1, "D0201", "杜小多", 15, gender="male")
        self.ed = mk(cast.ds_7_2, "D0202", "易成年", 19, gender="other")
        self.fay = mk(cast.ds_7_1, "D0203", "范小菲", 15)
        self.gus = mk(cast.ds_7_2, "D0204", "顾小古", 15, gender="male")
        self.hal = mk(cast.ds_7_1, "D0205", "何小海", 12, gender="male")
        self.ivy = mk(cast.ds_7_2, "D0206", "殷小艾", 15)
        self.jo = mk(cast.ds_7_1, "D0207", "季小乔", 12)
        self.campaign = campaign_open(cast, instruments=("phq9", "gad7", "asq"), asks_research_use=True)
        said = {cast.hamlet: (True, True), self.dora: (True, True), self.ed: (None, True),
                cast.hilda: (False, True), self.fay: (True, False), self.gus: (None, None),
                self.hal: (True, True), self.ivy: (True, True), self.jo: (True, True)}
        for n, (student, (guardian, own)) in enumerate(said.items()):
            self.consent(student, guardian, own)
            if student != self.jo:
                self.submit(student, n)
        user = student_user_ensure(student=self.hal)
        consent.student_research_consent(actor=user, assignment=assignment_of(self.campaign, self.hal), agree=False,
                                         language="en")
        consent.student_consent_withdraw(actor=student_user_ensure(student=self.ivy),
                                         assignment=assignment_of(self.campaign, self.ivy), language="en")
        self.included = [cast.hamlet, self.dora, self.ed]
        self.everyone = list(said)

    def consent(self, student: Student, guardian: bool | None, own: bool | None) -> None:
        assignment = assignment_of(self.campaign, student)
        if rules.guardian_role(assignment) is rules.GuardianRole.CONSENT:
            invitation = consent.guardian_invitation_for_token(consent.guardian_token(assignment.invitations.get()))
            consent.guardian_decide(invitation=invitation, decision="granted", language="zh-hans", research=guardian)
        consent.student_consent_give(actor=student_user_ensure(student=student),
                                     assignment=assignment_of(self.campaign, student), agree=True, language="en",
                                     research=own)

    def submit(self, student: Student, n: int) -> None:
        answering.assignment_submit(actor=student_user_ensure(student=student),
                                    assignment_id=assignment_of(self.campaign, student).pk, answers=answers_for(n),
                                    idempotency_key=f"k{n}", language="en")


@pytest.fixture
def screening(cast: Cast) -> Screening:
    return Screening(cast)


def build(user: Any, campaign: Campaign, tmp_path: Path, fmt: str, lang: str = "en",
          **params: Any) -> BuildContext:
    steps: list[tuple[int, int]] = []
    ctx = BuildContext(user=user, path=tmp_path / f"extract.{fmt}",
                       params={"campaign": campaign.pk, "format": fmt, "recipient": RECIPIENT, "purpose": PURPOSE,
                               **params},
                       progress=lambda done, total: steps.append((done, total)))
    with translation.override(lang):
        build_research_extract(ctx)
    ctx.detail["steps"] = steps
    return ctx


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel opens UTF-8 (and Chinese headers) correctly
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    return rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def read_xlsx(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    return rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def identifying_texts(screening: Screening) -> list[str]:
    out = []
    for student in screening.everyone:
        out += [student.name, student.number, student.school_class.name, student.guardian_email]
    return out


# --- who is in it ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_only_students_whose_consent_covers_research_use_appear(cast: Cast, screening: Screening, tmp_path: Path,
                                                                fmt: str) -> None:
    ctx = build(cast.diana, screening.campaign, tmp_path, fmt)
    _headers, rows = (read_csv if fmt == "csv" else read_xlsx)(ctx.path)
    assert sorted(str(r["public id"]) for r in rows) == sorted(s.public_id for s in screening.included)
    assert ctx.detail["rows"] == 3 and ctx.detail["steps"][-1] == (3, 3)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_no_name_or_student_number_anywhere_in_the_file(cast: Cast, screening: Screening, tmp_path: Path,
                                                        fmt: str) -> None:
    ctx = build(cast.diana, screening.campaign, tmp_path, fmt, lang="zh-hans")
    if fmt == "csv":
        texts = [ctx.path.read_bytes().decode("utf-8-sig")]
    else:
        with zipfile.ZipFile(ctx.path) as book:  # every part of the workbook, shared strings included
            texts = [book.read(name).decode("utf-8", "replace") for name in book.namelist()]
    for secret in identifying_texts(screening):
        assert not any(secret in text for text in texts), secret


# --- what it says ---------------------------------------------------------------------------------


def expected_row(student: Student) -> dict[str, Any]:
    submission = Submission.objects.get(student=student)
    row: dict[str, Any] = {
        "public id": student.public_id, "grade": student.school_class.grade, "gender": student.gender,
        "birth year": student.birth_date.year,
        "submitted on": timezone.localtime(submission.submitted_at).date().isoformat(),
    }
    items = {"phq9": [str(i) for i in range(1, 11)], "gad7": [str(i) for i in range(1, 8)],
             "asq": [str(i) for i in range(1, 6)]}
    for code, ids in items.items():
        given = submission.answers.get(code, {})
        for item in ids:
            value = given.get(item)
            row[f"{code.upper()}_{item}"] = int(value) if isinstance(value, bool) else value
        result = Result.objects.get(submission=submission, instrument=code)
        if code != "asq":
            row[f"{code.upper()}_total"] = result.total
        row[f"{code.upper()}_band"] = result.band
    return row


def test_xlsx_values_match_the_database(cast: Cast, screening: Screening, tmp_path: Path) -> None:
    path = build(cast.diana, screening.campaign, tmp_path, "xlsx").path
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref  # the header stays in view, and filters
    headers, rows = read_xlsx(path)
    assert headers[:5] == FIXED
    assert headers[5:15] == [f"PHQ9_{i}" for i in range(1, 11)]
    assert {"PHQ9_total", "PHQ9_band", "GAD7_total", "GAD7_band", "ASQ_1", "ASQ_5", "ASQ_band"} <= set(headers)
    by_id = {r["public id"]: r for r in rows}
    for student in screening.included:
        expected = expected_row(student)
        got = {k: by_id[student.public_id][k] for k in expected}
        assert got == expected, student.public_id


def test_csv_values_match_the_database(cast: Cast, screening: Screening, tmp_path: Path) -> None:
    _headers, rows = read_csv(build(cast.diana, screening.campaign, tmp_path, "csv").path)
    by_id = {r["public id"]: r for r in rows}
    for student in screening.included:
        expected = {k: "" if v is None else str(v) for k, v in expected_row(student).items()}
        assert {k: by_id[student.public_id][k] for k in expected} == expected
    assert by_id[screening.ed.public_id]["ASQ_4"] in ("0", "1", "declined")


def test_headers_follow_the_requesters_language(cast: Cast, screening: Screening, tmp_path: Path) -> None:
    headers, _rows = read_csv(build(cast.diana, screening.campaign, tmp_path, "csv", lang="zh-hans").path)
    assert headers[5] == "PHQ9_1"  # item columns are codes in every language


def test_a_stepped_phq9_carries_items_1_and_2_from_the_phq2(cast: Cast, tmp_path: Path) -> None:
    student = make_student(cast.ds_7_1, "D0301", "石小步", 19)
    campaign = campaign_open(cast, instruments=("phq2",), stepped=True, asks_research_use=True)
    consent.student_consent_give(actor=student_user_ensure(student=student), assignment=assignment_of(campaign, student),
                                 agree=True, language="en", research=True)
    phq9_rest = {str(i): 1 for i in range(3, 10)}
    answering.assignment_submit(actor=student_user_ensure(student=student),
                                assignment_id=assignment_of(campaign, student).pk,
                                answers={"phq2": {"1": 2, "2": 3}, "phq9": phq9_rest}, idempotency_key="s",
                                language="en")
    headers, rows = read_xlsx(build(cast.diana, campaign, tmp_path, "xlsx").path)
    row = rows[0]
    assert headers[5:7] == ["PHQ2_1", "PHQ2_2"] and "PHQ9_9" in headers
    assert (row["PHQ9_1"], row["PHQ9_2"], row["PHQ9_3"]) == (2, 3, 1)
    assert row["PHQ9_total"] == Result.objects.get(instrument="phq9").total == 12


# --- the audit entry and the checks ---------------------------------------------------------------


def test_the_audit_entry_names_recipient_and_purpose(cast: Cast, screening: Screening, tmp_path: Path) -> None:
    build(cast.diana, screening.campaign, tmp_path, "csv")
    entry = AuditEvent.objects.get(object_type="exports.research_extract")
    assert (entry.action, entry.actor_username, entry.school_id) == ("export", "diana", cast.dongshan.pk)
    assert entry.detail["recipient"] == RECIPIENT and entry.detail["purpose"] == PURPOSE
    assert (entry.detail["rows"], entry.detail["campaign"]) == (3, screening.campaign.pk)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_each_exported_student_has_an_audit_entry_and_no_one_else(cast: Cast, screening: Screening, tmp_path: Path,
                                                                  fmt: str) -> None:
    build(cast.diana, screening.campaign, tmp_path, fmt)
    exported = AuditEvent.objects.filter(action="export", object_type="directory.Student", actor_username="diana")
    assert sorted(exported.values_list("student_public_id", flat=True)) == sorted(
        s.public_id for s in screening.included)
    assert {e.school_id for e in exported} == {cast.dongshan.pk}
    assert sorted(exported.values_list("object_id", flat=True)) == sorted(str(s.pk) for s in screening.included)
    assert [(e.detail, e.at is not None, e.role) for e in exported] == [({}, True, "school_admin")] * 3  # made in SQL


def test_a_build_that_fails_midway_leaves_no_rows_in_a_temporary_file(cast: Cast, screening: Screening,
                                                                      tmp_path: Path, monkeypatch: Any) -> None:
    """xlsxwriter keeps the rows in a temporary file until close(): it goes in the job's folder,
    and is closed (removed) when the build fails, here at the second progress report."""
    from exports import research

    monkeypatch.setattr(research, "CHUNK", 1)
    job_folder = tmp_path / "job"
    job_folder.mkdir()
    seen: list[list[str]] = []

    def progress(done: int, total: int) -> None:
        seen.append(sorted(p.name for p in job_folder.iterdir()))
        if done >= 2:
            raise RuntimeError("the worker stops here")

    ctx = BuildContext(user=cast.diana, path=job_folder / "extract.xlsx", progress=progress,
                       params={"campaign": screening.campaign.pk, "format": "xlsx", "recipient": RECIPIENT,
                               "purpose": PURPOSE})
    with pytest.raises(RuntimeError):
        build_research_extract(ctx)
    assert any(name.startswith("tmp") for name in seen[-1])  # the rows' file was in the job's folder
    assert not [p.name for p in job_folder.iterdir() if p.name.startswith("tmp")]


@pytest.mark.parametrize("missing", ["recipient", "purpose"])
def test_recipient_and_purpose_are_required(cast: Cast, screening: Screening, tmp_path: Path, missing: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        build(cast.diana, screening.campaign, tmp_path, "csv", **{missing: "   "})
    assert set(refused.value.fields) == {missing}
    assert not (tmp_path / "extract.csv").exists()
    assert not AuditEvent.objects.filter(object_type="exports.research_extract").exists()


def test_a_counsellor_of_the_school_is_not_allowed(cast: Cast, screening: Screening, tmp_path: Path) -> None:
    with pytest.raises(NotAllowed):
        build(cast.alice, screening.campaign, tmp_path, "csv")


def test_another_schools_head_finds_nothing(cast: Cast, screening: Screening, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        build(cast.edgar, screening.campaign, tmp_path, "xlsx")


def test_a_campaign_that_did_not_ask_has_nothing_to_export(cast: Cast, tmp_path: Path) -> None:
    campaign = campaign_open(cast)
    with pytest.raises(Conflict) as refused:
        build(cast.diana, campaign, tmp_path, "csv")
    assert refused.value.code == "research_not_asked"


def test_nobody_covered_yet_is_nothing_to_export(cast: Cast, tmp_path: Path) -> None:
    campaign = campaign_open(cast, asks_research_use=True)
    with pytest.raises(Conflict) as refused:
        build(cast.diana, campaign, tmp_path, "xlsx")
    assert refused.value.code == "nothing_to_export"
    assert Assignment.objects.filter(campaign=campaign).exists()
