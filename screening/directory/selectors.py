"""Reads in the directory that depend on who asks. Everything starts from ``visible_to(user)``."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from screening.directory.models import School, SchoolClass, Student


def student_list(*, user: Any, school_class: int | None = None, q: str = "", active: bool | None = True) -> QuerySet[Student]:
    """Students the user may see, optionally in one class or matching a name/number fragment."""
    qs = Student.objects.visible_to(user).select_related("school", "school_class")
    if school_class:
        qs = qs.filter(school_class_id=school_class)
    if q:
        qs = students_matching(qs, q)
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs


def students_matching[QS: QuerySet[Student]](queryset: QS, text: str) -> QS:
    """Students whose name or number contains ``text``, or whose public id is ``text``."""
    return queryset.filter(Q(name__icontains=text) | Q(number__icontains=text) | Q(public_id__iexact=text))


def class_list(*, user: Any) -> QuerySet[SchoolClass]:
    """Classes the user may see, with their active student counts."""
    return (
        SchoolClass.objects.visible_to(user)
        .select_related("school")
        .annotate(student_count=Count("students", filter=Q(students__is_active=True)))
        # Meta.ordering is not applied to GROUP BY queries; pages need a stable order.
        .order_by("school", "-school_year", "grade", "name", "pk")
    )


def school_list(*, user: Any) -> QuerySet[School]:
    """Schools the user may see (their own; an analyst's whole region)."""
    return School.objects.visible_to(user).select_related("region")


def hospital_list_own(*, user: Any) -> QuerySet[Any]:
    """The hospitals where the user works as liaison (not every partner hospital staff may look up)."""
    from screening.core.access import principal_of
    from screening.directory.models import Hospital

    return Hospital.objects.visible_to(user).filter(pk__in=principal_of(user).hospital_ids)


SMALL_CELL = 10


def school_student_counts(*, user: Any, small_cell: int = SMALL_CELL) -> list[tuple[School, int | None]]:
    """Schools the user may see, each with its number of active students; a count below
    ``small_cell`` is suppressed (``None``) so an aggregate never points at a few children."""
    schools = school_list(user=user).annotate(active_students=Count("students", filter=Q(students__is_active=True)))
    return [(s, s.active_students if s.active_students >= small_cell else None) for s in schools.order_by("name", "pk")]
