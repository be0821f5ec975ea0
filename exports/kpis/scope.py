"""Who asks about which schools (:func:`kpi_scope`), and how their rows are read (:func:`scope_values`).

The rules are in the docstring of ``exports.kpis``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from exports.analyst import own_region
from screening.campaigns.models import Assignment, CrisisAlert
from screening.cases.models import CaseFlag, Contact, FollowUp
from screening.core.access import Principal, principal_of
from screening.core.audit import audit_refused
from screening.core.errors import InvalidInput, NotAllowed, NotFound
from screening.directory.models import Region, School, Student
from screening.referrals.models import Referral, ReferralEvent


@dataclass(frozen=True)
class Scope:
    """The schools a request covers, and how: ``aggregate_only`` for an analyst."""

    user: Any
    school_ids: tuple[int, ...]
    aggregate_only: bool
    label: str
    school_id: int | None = None  # the one school asked about, if one (for the audit log)
    region_id: int | None = None


def _name(place: School | Region) -> str:
    """A school's or region's name in the active language."""
    return place.name_en if get_language() == "en" and place.name_en else place.name


def kpi_scope(*, user: Any, school: int | None, region: int | None) -> Scope:
    """Resolve what the user asked about (see the package's docstring for who may ask what): a head
    of centre's own school, or one of an analyst's own regions as a whole (``exports.analyst``;
    a school, a region inside theirs or none of several is InvalidInput for an analyst)."""
    p = principal_of(user)
    if not (p.admin_school_ids or p.region_paths):
        raise NotAllowed(_("Only heads of centre and bureau analysts may export KPI workbooks."))
    if school is not None and region is not None:
        raise InvalidInput(fields={"region": [_("Choose a school or a region, not both.")]})
    if school is not None:
        return _school_scope(user, p, school)
    if p.region_paths:
        return _region_scope(user, own_region(user, region))
    if region is not None:
        raise NotAllowed(_("Only a bureau analyst of this region may export its KPIs."))
    if len(p.admin_school_ids) != 1:
        raise InvalidInput(fields={"school": [_("Choose a school.")]})
    return _school_scope(user, p, next(iter(p.admin_school_ids)))


def _school_scope(user: Any, p: Principal, school_id: int) -> Scope:
    school = School.objects.visible_to(user).select_related("region").filter(pk=school_id).first()
    if school is None:
        audit_refused(actor=user, model=School, pk=school_id)  # logged only if it exists
        raise NotFound()
    if school.pk in p.admin_school_ids:
        return Scope(user, (school.pk,), False, _name(school), school_id=school.pk)
    if p.region_paths:  # a school's counts are subtotals of the region's table: never one school alone
        raise InvalidInput(fields={"school": [_(
            "A bureau analyst's KPIs cover one of their regions as a whole, not a single school: choose a region.")]})
    raise NotAllowed(_("Only the school's heads of centre, or a bureau analyst of its region, may export its KPIs."))


def _region_scope(user: Any, region: Region) -> Scope:
    """One of the analyst's own regions: the schools under its path they may see."""
    schools = School.objects.visible_to(user).filter(region__path__startswith=region.path)
    return Scope(user, _ids(schools), True, _name(region), region_id=region.pk)


def _ids(schools: QuerySet[School]) -> tuple[int, ...]:
    return tuple(sorted(schools.values_list("pk", flat=True)))


# --- reading rows ------------------------------------------------------------------------------------

# How each model's rows are reached: from a school (an analyst's path) and the field naming the school.
_PATHS: dict[Any, tuple[str, str]] = {
    Student: ("students", "school"),
    Assignment: ("campaigns__assignments", "campaign__school"),
    CaseFlag: ("cases__flags", "case__school"),
    Contact: ("cases__contacts", "case__school"),
    FollowUp: ("cases__follow_ups", "case__school"),
    CrisisAlert: ("alerts", "school"),
    Referral: ("referrals", "school"),
    ReferralEvent: ("referrals__events", "referral__school"),
}


def scope_values(scope: Scope, model: Any, fields: Sequence[str], **filters: Any) -> list[tuple[Any, ...]]:
    """The ``fields`` of ``model``'s rows at the scope's schools that match ``filters``.

    A head of centre reads through ``visible_to(user)``, limited to the school: the rows the
    workspace's selectors read for that school (``screening.cases.selectors``), so their numbers
    never count a row they could not open. An analyst sees no student rows (the access policy), so
    their rows are reached from the schools they may see, in one query whose filters all apply to
    the same related row; callers ask for timestamps, tiers, states and internal ids only, and only
    aggregates leave ``exports.kpis``."""
    via, school_field = _PATHS[model]
    if not scope.aggregate_only:
        rows = model.objects.visible_to(scope.user).filter(**{f"{school_field}__in": scope.school_ids}, **filters)
        return list(rows.order_by().values_list(*fields))
    schools = School.objects.visible_to(scope.user).filter(
        pk__in=scope.school_ids, **{f"{via}__isnull": False}, **{f"{via}__{k}": v for k, v in filters.items()})
    return list(schools.order_by().values_list(*(f"{via}__{f}" for f in fields)))


IDS_PER_QUERY = 5_000  # ids in one IN list: SQLite takes at most 32,766 parameters per statement


def scope_values_of(scope: Scope, model: Any, fields: Sequence[str], key: str, ids: Sequence[Any],
                    **filters: Any) -> list[tuple[Any, ...]]:
    """:func:`scope_values` of the rows whose ``key`` is one of ``ids``, a few thousand ids per
    query: a city's flagged students of a term can be more than one statement may carry."""
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(ids), IDS_PER_QUERY):
        out += scope_values(scope, model, fields, **{f"{key}__in": list(ids[start:start + IDS_PER_QUERY])}, **filters)
    return out

