"""A roster file that cannot be read, or reads oddly, is a problem shown to the head of centre,
never a server error. Every case goes through ``services.roster_preview``, as an upload does."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from screening.directory.models import RosterImport
from screening.directory.services import roster_preview
from tests.conftest import Cast, birth_date_for_age
from tests.directory.test_roster_import import HEADER, csv_bytes, xlsx

pytestmark = pytest.mark.django_db


def preview(cast: Cast, filename: str, content: bytes) -> RosterImport:
    return roster_preview(actor=cast.diana, school=cast.dongshan, filename=filename, content=content)


def codes(record: RosterImport) -> list[str]:
    return [p["code"] for p in record.problems]


def row(grade: Any = 7) -> list[Any]:
    return ["D3001", "张三", "男", birth_date_for_age(12).isoformat(), grade, "初一(3)班", "", "", ""]


@pytest.mark.parametrize("grade", ["²", "٣", "７", "007", "-1", "7.5"])
def test_a_grade_that_is_not_plain_digits_is_a_bad_grade(cast: Cast, grade: str) -> None:
    # "²", Arabic-Indic and full-width digits pass str.isdigit(); int("²") raises.
    record = preview(cast, "r.csv", csv_bytes([row(grade)], "utf-8"))
    assert record.status == RosterImport.Status.INVALID
    assert codes(record) == ["bad_grade"]
    assert record.problems[0]["row"] == 2 and record.problems[0]["column"] == "年级"


def test_a_two_digit_grade_still_reads(cast: Cast) -> None:
    record = preview(cast, "r.csv", csv_bytes([row("12")], "utf-8"))
    assert record.status == RosterImport.Status.PREVIEW, record.problems


def _damaged_sheet(content: bytes) -> bytes:
    """The same xlsx with its sheet's XML cut in half: the zip is sound, the XML is not."""
    source, out = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            target.writestr(item, data)
    return out.getvalue()


def test_a_sheet_with_truncated_xml_is_unreadable(cast: Cast) -> None:
    record = preview(cast, "r.xlsx", _damaged_sheet(xlsx([row()])))
    assert record.status == RosterImport.Status.INVALID
    assert codes(record) == ["unreadable"]


def test_a_workbook_without_a_worksheet_is_unreadable(cast: Cast) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.create_chartsheet()
    book.remove(book.active)
    buffer = io.BytesIO()
    book.save(buffer)
    assert codes(preview(cast, "r.xlsx", buffer.getvalue())) == ["unreadable"]


@pytest.mark.parametrize(
    ("filename", "content", "code"),
    [
        ("r.csv", b"", "empty_file"),
        ("r.xlsx", b"", "unreadable"),
        ("r.xlsx", bytes(range(256)) * 8, "unreadable"),
        ("r.xlsx", b"PK\x03\x04" + b"\x00" * 200, "unreadable"),
        ("r.csv", b"\x00\x01\x02binary\x00" * 20, "unreadable"),
        ("r.csv", ",".join(HEADER).encode() + b"\r\n", "empty_file"),
        ("r.csv", b"\r\n,,,\r\n", "empty_file"),
    ],
    ids=["empty-csv", "empty-xlsx", "garbage-xlsx", "zip-header-only", "nul-bytes-csv", "header-only", "blank-rows"],
)
def test_files_that_hold_no_roster_are_one_clear_problem(cast: Cast, filename: str, content: bytes, code: str) -> None:
    record = preview(cast, filename, content)
    assert record.status == RosterImport.Status.INVALID
    assert codes(record) == [code]


@pytest.mark.parametrize("second", ["姓名", "name", " Name "])
def test_a_field_headed_twice_is_a_problem_not_a_guess(cast: Cast, second: str) -> None:
    header = [*HEADER, second]
    record = preview(cast, "r.csv", csv_bytes([[*row(), "李四"]], "utf-8", header=header))
    assert record.status == RosterImport.Status.INVALID
    assert codes(record) == ["duplicate_column"]
    problem = record.problems[0]
    assert problem["row"] == 1 and "姓名" in problem["params"]["column"]


def test_the_duplicate_column_message_is_translated(cast: Cast) -> None:
    from django.utils import translation

    from screening.directory.roster import message_for

    record = preview(cast, "r.csv", csv_bytes([[*row(), "李四"]], "utf-8", header=[*HEADER, "姓名"]))
    with translation.override("zh-hans"):
        message = message_for(record.problems[0])
    assert "姓名" in message and "More than one" not in message
