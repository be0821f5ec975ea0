"""State changes in the directory: regions, students' sign-in, access codes and the roster import."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token

from screening.campaigns.services import campaign_assignments_sync
from screening.core.audit import Action, audit_record, audit_students
from screening.core.auth import access_code_hash, new_access_code
from screening.core.errors import Conflict, InvalidInput
from screening.directory import roster
from screening.directory.models import Region, RosterImport, School, SchoolClass, Student

STUDENT_FIELDS = ("name", "birth_date", "gender", "guardian_name", "guardian_phone", "guardian_email")


def current_school_year(today: dt.date | None = None) -> int:
    """The school year starts in September: 2026-11 is in school year 2026, 2027-03 too."""
    today = today or timezone.localdate()
    return today.year if today.month >= 9 else today.year - 1


def region_create(*, name: str, code: str, level: str, parent: Region | None = None, name_en: str = "") -> Region:
    """Create a region under ``parent`` and give it its materialised path."""
    with transaction.atomic():
        region = Region.objects.create(name=name, name_en=name_en, code=code, level=level, parent=parent, path="")
        region.path = f"{parent.path if parent else '/'}{region.pk}/"
        region.save(update_fields=["path"])
    return region


def student_user_ensure(*, student: Student) -> Any:
    """The user a student signs in as, made on first sign-in (no password: access code only)."""
    if student.user_id:
        return student.user
    with transaction.atomic():
        locked = Student.objects.select_for_update().get(pk=student.pk)
        if locked.user_id is None:
            user = get_user_model().objects.create(username=f"student-{locked.public_id}")
            user.set_unusable_password()
            user.save(update_fields=["password"])
            locked.user = user
            locked.save(update_fields=["user", "updated_at"])
        student.user = locked.user
    return student.user


def _students_signed_out(students: list[Student]) -> None:
    """End every session and API token of these students: a new code is how a leaked one is
    withdrawn, so whoever signed in with the old code must not stay signed in."""
    user_ids = [s.user_id for s in students if s.user_id]
    if not user_ids:
        return
    Token.objects.filter(user_id__in=user_ids).delete()
    users = list(get_user_model().objects.filter(pk__in=user_ids))
    for user in users:
        user.set_unusable_password()  # a new password hash changes the session hash: sessions end
    get_user_model().objects.bulk_update(users, ["password"])


def student_access_code_issue(*, actor: Any, student: Student) -> str:
    """Issue a new access code for one student; the old one stops working and every session or
    token signed in with it ends. Returns the code once."""
    code = new_access_code()
    with transaction.atomic():
        Student.objects.filter(pk=student.pk).update(
            access_code_hash=access_code_hash(student.public_id, code), access_code_issued_at=timezone.now()
        )
        _students_signed_out([student])
        audit_record(
            actor=actor, action=Action.UPDATE, object_type="access_code", object_id=student.pk,
            student_public_id=student.public_id, school_id=student.school_id,
        )
    return code


def class_access_codes_issue(*, actor: Any, school_class: SchoolClass) -> list[tuple[Student, str]]:
    """Reissue codes for every active student of a class, for its printable sheet.

    Codes are stored only as hashes, so a sheet can only carry new codes: printing it replaces the
    class's previous codes.
    """
    now = timezone.now()
    issued = []
    with transaction.atomic():
        students = list(
            Student.objects.select_for_update().filter(school_class=school_class, is_active=True).order_by("number")
        )
        for student in students:
            code = new_access_code()
            student.access_code_hash = access_code_hash(student.public_id, code)
            student.access_code_issued_at = now
            issued.append((student, code))
        Student.objects.bulk_update(students, ["access_code_hash", "access_code_issued_at"])
        _students_signed_out(students)
        audit_students(actor=actor, action=Action.EXPORT, students=students, object_type="access_code_sheet")
    return issued


# --- roster import ----------------------------------------------------------------------------


def roster_preview(*, actor: Any, school: School, filename: str, content: bytes, school_year: int | None = None) -> RosterImport:
    """Check a whole roster file and record what applying it would do. Nothing is applied here."""
    year = school_year or current_school_year()
    rows, problems = roster.parse_roster(filename, content, today=timezone.localdate())
    summary: dict[str, Any] = {"rows": len(rows)}
    if not problems:
        summary.update(_roster_diff(school, year, rows)["counts"])
    with transaction.atomic():
        record = RosterImport.objects.create(
            school=school,
            school_year=year,
            uploaded_by=actor,
            filename=filename[:200],
            file_sha256=hashlib.sha256(content).hexdigest(),
            status=RosterImport.Status.INVALID if problems else RosterImport.Status.PREVIEW,
            rows_encrypted="" if problems else json.dumps(rows, ensure_ascii=False),
            problems=[p.as_dict() for p in problems],
            summary=summary,
        )
        audit_record(
            actor=actor, action=Action.CREATE, object_type="roster_import", object_id=record.pk,
            school_id=school.pk, detail={"rows": len(rows), "problems": len(problems)},
        )
    return record


def roster_apply(*, actor: Any, roster_import: RosterImport) -> RosterImport:
    """Apply a checked roster whole, or nothing. Applying twice is safe: the second does nothing.

    The difference is worked out again against the database as it is now, inside the transaction,
    so a roster previewed before someone else's change still applies correctly.
    """
    with transaction.atomic():
        # One apply per school at a time: two different rosters of one school applied at once
        # would both insert the same new students.
        School.objects.select_for_update().filter(pk=roster_import.school_id).first()
        record = RosterImport.objects.select_for_update().get(pk=roster_import.pk)
        if record.status == RosterImport.Status.APPLIED:
            return record
        if record.status != RosterImport.Status.PREVIEW:
            raise Conflict(code="roster_has_problems", message=_("This roster has problems: correct the file and upload it again."))
        rows = json.loads(record.rows_encrypted)
        diff = _roster_diff(record.school, record.school_year, rows)
        classes = _classes_ensure(record.school, record.school_year, rows)
        created = _students_create(record.school, classes, diff["create"])
        updated = _students_update(classes, diff["update"])
        record.status = RosterImport.Status.APPLIED
        record.applied_at = timezone.now()
        record.applied_by = actor
        record.summary = {"rows": len(rows), **diff["counts"]}
        record.rows_encrypted = ""  # the roster is in the directory now; keep no second copy
        record.save(update_fields=["status", "applied_at", "applied_by", "summary", "rows_encrypted"])
        audit_record(
            actor=actor, action=Action.UPDATE, object_type="roster_import", object_id=record.pk,
            school_id=record.school_id, detail={"status": "applied", **diff["counts"]},
        )
        audit_students(actor=actor, action=Action.CREATE, students=created)
        audit_students(actor=actor, action=Action.UPDATE, students=updated)
        campaign_assignments_sync(school_id=record.school_id)
    return record


def _roster_diff(school: School, year: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    existing = {
        s.number: s
        for s in Student.objects.filter(school=school, number__in=[r["number"] for r in rows]).select_related("school_class")
    }
    known_classes = set(SchoolClass.objects.filter(school=school, school_year=year).values_list("name", flat=True))
    create, update, unchanged = [], [], 0
    for row in rows:
        student = existing.get(row["number"])
        if student is None:
            create.append(row)
        elif _student_differs(student, row, year):
            update.append((student, row))
        else:
            unchanged += 1
    new_classes = {r["class_name"] for r in rows} - known_classes
    counts = {"create": len(create), "update": len(update), "unchanged": unchanged, "new_classes": len(new_classes)}
    return {"create": create, "update": update, "counts": counts}


def _student_differs(student: Student, row: dict[str, Any], year: int) -> bool:
    current = {f: getattr(student, f) for f in STUDENT_FIELDS}
    current["birth_date"] = student.birth_date.isoformat()
    wanted = {f: row[f] for f in STUDENT_FIELDS}
    same_class = student.school_class.school_year == year and student.school_class.name == row["class_name"]
    return current != wanted or not same_class or not student.is_active or student.school_class.grade != row["grade"]


def _classes_ensure(school: School, year: int, rows: list[dict[str, Any]]) -> dict[str, SchoolClass]:
    grades: dict[str, int] = {}
    for row in rows:
        grades.setdefault(row["class_name"], row["grade"])
    classes = {c.name: c for c in SchoolClass.objects.filter(school=school, school_year=year)}
    for name, grade in grades.items():
        if name not in classes:
            classes[name] = SchoolClass.objects.create(school=school, school_year=year, grade=grade, name=name)
        elif classes[name].grade != grade:
            classes[name].grade = grade
            classes[name].save(update_fields=["grade"])
    return classes


def _students_create(school: School, classes: dict[str, SchoolClass], rows: list[dict[str, Any]]) -> list[Student]:
    now = timezone.now()
    students = []
    for row in rows:
        student = Student(
            school=school,
            school_class=classes[row["class_name"]],
            number=row["number"],
            birth_date=dt.date.fromisoformat(row["birth_date"]),
            **{f: row[f] for f in STUDENT_FIELDS if f != "birth_date"},
        )
        # Issued now so no student is ever without a code; the class sheet hands out fresh ones.
        student.access_code_hash = access_code_hash(student.public_id, new_access_code())
        student.access_code_issued_at = now
        students.append(student)
    return Student.objects.bulk_create(students, batch_size=500)


def _students_update(classes: dict[str, SchoolClass], pairs: list[tuple[Student, dict[str, Any]]]) -> list[Student]:
    students = []
    for student, row in pairs:
        for f in STUDENT_FIELDS:
            setattr(student, f, row[f])
        student.birth_date = dt.date.fromisoformat(row["birth_date"])
        student.school_class = classes[row["class_name"]]
        student.is_active = True
        student.updated_at = timezone.now()
        students.append(student)
    Student.objects.bulk_update(students, [*STUDENT_FIELDS, "school_class", "is_active", "updated_at"], batch_size=500)
    return students


def _number_taken() -> InvalidInput:
    return InvalidInput(fields={"number": [_("Another student of this school has this number.")]}, code="number_taken")


def student_create(*, actor: Any, school_class: SchoolClass, **fields: Any) -> tuple[Student, str]:
    """Add one student to a class (outside a roster import). Returns the student and their access code.

    A number already used at the school is refused; two identical requests at once give one
    student and one refusal, never an error.
    """
    code = new_access_code()
    try:
        with transaction.atomic():
            if Student.objects.filter(school_id=school_class.school_id, number=fields.get("number")).exists():
                raise _number_taken()
            student = Student(school_id=school_class.school_id, school_class=school_class, **fields)
            student.access_code_hash = access_code_hash(student.public_id, code)
            student.access_code_issued_at = timezone.now()
            student.save()
            audit_students(actor=actor, action=Action.CREATE, students=[student])
            campaign_assignments_sync(school_id=student.school_id)
    except IntegrityError:
        raise _number_taken() from None
    return student, code


def student_update(*, actor: Any, student: Student, **fields: Any) -> Student:
    """Change a student's roster details (the class must be of the same school)."""
    number = fields.get("number")
    if number and Student.objects.filter(school_id=student.school_id, number=number).exclude(pk=student.pk).exists():
        raise _number_taken()
    try:
        with transaction.atomic():
            for name, value in fields.items():
                setattr(student, name, value)
            student.save()
            audit_record(
                actor=actor, action=Action.UPDATE, object_type="directory.Student", object_id=student.pk,
                student_public_id=student.public_id, school_id=student.school_id, detail={"fields": sorted(fields)},
            )
    except IntegrityError:
        raise _number_taken() from None
    return student
