"""Reading and checking a school roster file (xlsx or csv). No database here.

Every row is checked; a problem names the spreadsheet row (the header is row 1), the column as
written in the file, and a message code. Messages are translated when shown, in the reader's
language, from :data:`MESSAGES`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

# Accepted header names per field, zh-Hans and en, compared case-insensitively without spaces.
COLUMNS: dict[str, tuple[str, ...]] = {
    "number": ("学号", "number", "studentnumber", "student_number"),
    "name": ("姓名", "name"),
    "gender": ("性别", "gender"),
    "birth_date": ("出生日期", "birthdate", "birth_date", "dateofbirth"),
    "grade": ("年级", "grade"),
    "class_name": ("班级", "class", "classname", "class_name"),
    "guardian_name": ("监护人姓名", "监护人", "guardianname", "guardian_name", "guardian"),
    "guardian_phone": ("监护人电话", "guardianphone", "guardian_phone"),
    "guardian_email": ("监护人邮箱", "guardianemail", "guardian_email"),
}
REQUIRED = ("number", "name", "birth_date", "grade", "class_name")

GENDERS = {
    "女": "female", "f": "female", "female": "female",
    "男": "male", "m": "male", "male": "male",
    "其他": "other", "other": "other",
    "": "unknown", "未知": "unknown", "unknown": "unknown", "不愿透露": "unknown",
}

MESSAGES: dict[str, Any] = {
    "missing_column": _("The column “%(column)s” is missing."),
    "duplicate_column": _("More than one column is headed “%(column)s”; keep one."),
    "required": _("A value is required."),
    "too_long": _("At most %(max)s characters."),
    "bad_date": _("Not a date; use a date cell or YYYY-MM-DD."),
    "implausible_age": _("The birth date gives an age of %(age)s, outside 5–40."),
    "bad_gender": _("Use 男/女/其他 or male/female/other, or leave empty."),
    "bad_grade": _("The grade must be a whole number from 1 to 12."),
    "bad_phone": _("Not a phone number."),
    "bad_email": _("Not an e-mail address."),
    "duplicate_number": _("The student number also appears in row %(other)s."),
    "empty_file": _("The file holds no student rows."),
    "unreadable": _("The file cannot be read as xlsx or csv."),
    "too_many_rows": _("The file has more than %(max)s rows."),
}
MAX_ROWS = 50_000
PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    code: str
    params: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "code": self.code, "params": self.params}


def validate_upload(upload: Any) -> Any:
    """The uploaded file itself (before any row is read): an .xlsx or .csv within the size limit.
    Used by the page's form and the API's serializer alike."""
    from django.conf import settings

    name = upload.name.lower()
    if not (name.endswith(".xlsx") or name.endswith(".csv")):
        raise ValidationError(_("Upload an .xlsx or .csv file."), code="file_type")
    if upload.size > settings.XINQIAO_ROSTER_MAX_BYTES:
        raise ValidationError(_("The file is too large."), code="file_size")
    return upload


def message_for(problem: dict[str, Any]) -> str:
    """The problem's message in the active language."""
    return str(MESSAGES.get(problem["code"], MESSAGES["unreadable"])) % problem.get("params", {})


def _key(header: Any) -> str:
    return re.sub(r"[\s*]", "", str(header or "")).lower()


def read_table(filename: str, content: bytes) -> list[list[Any]]:
    """Rows of cells from xlsx or csv (UTF-8 with or without BOM, or GB18030 as Excel in China saves)."""
    if content[:2] == b"PK" or filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        # In read-only mode the sheet's XML is parsed while iterating, so a damaged file can fail at
        # any of these steps, with any of many exception types (zip, XML, openpyxl's own).
        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
            try:
                return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
            finally:
                book.close()
        except Exception as exc:
            raise ValueError("unreadable") from exc
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValueError("unreadable")
    if "\x00" in text:  # binary content; a real csv has no NUL, and PostgreSQL would refuse one
        raise ValueError("unreadable")
    try:
        return [list(r) for r in csv.reader(io.StringIO(text))]
    except csv.Error as exc:
        raise ValueError("unreadable") from exc


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text)
    if not match:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse_roster(filename: str, content: bytes, *, today: dt.date) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Parse and check every row. Returns normalised rows and problems; rows count only without problems."""
    try:
        table = read_table(filename, content)
    except ValueError:
        return [], [Problem(0, "", "unreadable", {})]
    table = [r for r in table if any(_text(c) for c in r)]
    if not table:
        return [], [Problem(0, "", "empty_file", {})]
    header = table[0]
    positions, problems = _columns(header)
    problems += [
        Problem(1, COLUMNS[f][0], "missing_column", {"column": f"{COLUMNS[f][0]} / {COLUMNS[f][1]}"})
        for f in REQUIRED
        if f not in positions
    ]
    if problems:
        return [], problems
    if len(table) - 1 > MAX_ROWS:
        return [], [Problem(0, "", "too_many_rows", {"max": MAX_ROWS})]
    if len(table) == 1:
        return [], [Problem(0, "", "empty_file", {})]
    column_name = {f: _text(header[i]) for f, i in positions.items()}
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for offset, raw in enumerate(table[1:], start=2):
        cells = {f: (raw[i] if i < len(raw) else None) for f, i in positions.items()}
        row, row_problems = _check_row(offset, cells, column_name, today)
        number = row.get("number")
        if number:
            if number in seen:
                row_problems.append(Problem(offset, column_name["number"], "duplicate_number", {"other": seen[number]}))
            else:
                seen[number] = offset
        problems.extend(row_problems)
        rows.append(row)
    return rows, problems


def _columns(header: list[Any]) -> tuple[dict[str, int], list[Problem]]:
    """Where each field is in the header row. A field named by two columns (``姓名`` twice, or
    ``姓名`` and ``name``) is a problem: which one holds the data cannot be guessed."""
    keys = [_key(h) for h in header]
    positions: dict[str, int] = {}
    problems: list[Problem] = []
    for field, names in COLUMNS.items():
        aliases = {_key(n) for n in names}
        found = [i for i, k in enumerate(keys) if k in aliases]
        if len(found) > 1:
            shown = " / ".join(dict.fromkeys(_text(header[i]) for i in found))
            problems.append(Problem(1, _text(header[found[1]]), "duplicate_column", {"column": shown}))
        if found:
            positions[field] = found[0]
    return positions, problems


def _check_row(
    line: int, cells: dict[str, Any], column: dict[str, str], today: dt.date
) -> tuple[dict[str, Any], list[Problem]]:
    problems: list[Problem] = []
    row: dict[str, Any] = {"row": line}

    def fail(field: str, code: str, **params: Any) -> None:
        problems.append(Problem(line, column.get(field, field), code, params))

    limits = {"number": 32, "name": 100, "class_name": 60, "guardian_name": 100, "guardian_email": 254}
    for field in ("number", "name", "class_name", "guardian_name", "guardian_phone", "guardian_email"):
        value = _text(cells.get(field))
        if field in REQUIRED and not value:
            fail(field, "required")
        elif len(value) > limits.get(field, 20):
            fail(field, "too_long", max=limits.get(field, 20))
        row[field] = value
    birth = _date(cells.get("birth_date"))
    if cells.get("birth_date") in (None, ""):
        fail("birth_date", "required")
    elif birth is None:
        fail("birth_date", "bad_date")
    else:
        age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
        if not 5 <= age <= 40:
            fail("birth_date", "implausible_age", age=age)
        row["birth_date"] = birth.isoformat()
    gender = GENDERS.get(_text(cells.get("gender")).lower())
    if gender is None:
        fail("gender", "bad_gender")
    row["gender"] = gender or "unknown"
    grade_text = _text(cells.get("grade"))
    if not grade_text:
        fail("grade", "required")
    elif not re.fullmatch(r"[0-9]{1,2}", grade_text) or not 1 <= int(grade_text) <= 12:  # not isdigit(): "²" passes it
        fail("grade", "bad_grade")
    else:
        row["grade"] = int(grade_text)
    if row["guardian_phone"] and not PHONE.match(row["guardian_phone"]):
        fail("guardian_phone", "bad_phone")
    if row["guardian_email"]:
        try:
            validate_email(row["guardian_email"])
        except ValidationError:
            fail("guardian_email", "bad_email")
    return row, problems
