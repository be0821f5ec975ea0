"""The printable access-code sheet of a class (xlsx)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from exports.workbook import table_workbook
from screening.directory.models import SchoolClass, Student


def access_code_sheet(school_class: SchoolClass, issued: list[tuple[Student, str]]) -> tuple[bytes, str]:
    """Workbook bytes and a file name that carries no personal data."""
    school = school_class.school
    note = _(
        "%(school)s · %(klass)s · school code %(code)s · issued %(when)s. These codes replace any earlier ones. "
        "Students sign in at the student page with the school code, their number and their code."
    ) % {
        "school": school.name,
        "klass": school_class.name,
        "code": school.code,
        "when": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
    }
    headers = [_("Student number"), _("Name"), _("School code"), _("Access code")]
    rows = [(s.number, s.name, school.code, code) for s, code in issued]
    content = table_workbook(title=_("Access codes"), headers=headers, rows=rows, widths=[16, 16, 14, 16], note=note)
    return content, f"access-codes-class-{school_class.pk}.xlsx"
