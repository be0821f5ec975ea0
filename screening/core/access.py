"""Who sees what: the one place (DESIGN.md §1). Deny by default.

Every model that holds or reveals student data has ``objects.visible_to(user)``, which comes here.
A rule takes the user's :class:`Principal` (their active roles, worked out once per request) and
returns a ``Q`` over that model. A model without a rule, or a user without a handled role, sees
nothing. Action rights ("may this user apply a roster") are DRF permission classes in
:mod:`screening.core.permissions`; they never widen what is visible.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import connection, models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

NOTHING = Q(pk__in=[])
EVERYTHING = Q()

SCHOOL_ADMIN = "school_admin"
COUNSELLOR = "counsellor"
HOSPITAL_LIAISON = "hospital_liaison"
BUREAU_ANALYST = "bureau_analyst"
STUDENT = "student"
PLATFORM_ADMIN = "platform_admin"

ROLE_LABELS = {
    SCHOOL_ADMIN: _("head of psychological centre"),
    COUNSELLOR: _("counsellor"),
    HOSPITAL_LIAISON: _("hospital liaison"),
    BUREAU_ANALYST: _("bureau analyst"),
    STUDENT: _("student"),
    PLATFORM_ADMIN: _("platform admin"),
}


def school_of(obj: Any) -> int | None:
    """The school an object belongs to; a school belongs to itself (it has no ``school_id``)."""
    if getattr(getattr(obj, "_meta", None), "label", "") == "directory.School":
        return int(obj.pk)
    return getattr(obj, "school_id", None)


@dataclass(frozen=True)
class Principal:
    """What one signed-in user is, today. Built from active memberships only."""

    user_id: int | None = None
    platform_admin: bool = False
    student_id: int | None = None
    student_school_id: int | None = None
    student_class_id: int | None = None
    admin_school_ids: frozenset[int] = frozenset()
    # Counsellors covering a whole school; class-limited counsellors as (school, classes) pairs,
    # so a class of another school on a membership never widens what it covers.
    counsellor_school_ids: frozenset[int] = frozenset()
    counsellor_class_scopes: tuple[tuple[int, frozenset[int]], ...] = ()
    hospital_ids: frozenset[int] = frozenset()
    region_paths: tuple[str, ...] = ()
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def scope_key(self) -> str:
        """A digest of everything that decides which records this user reaches: equal keys, equal
        reach. Something made for the user earlier (an export file) is handed over only while the
        key is unchanged."""
        reach = (
            self.platform_admin, self.student_id, sorted(self.admin_school_ids), sorted(self.counsellor_school_ids),
            sorted((school, sorted(classes)) for school, classes in self.counsellor_class_scopes),
            sorted(self.hospital_ids), sorted(self.region_paths), sorted(self.roles),
        )
        return hashlib.sha256(repr(reach).encode()).hexdigest()

    @property
    def counsellor_class_school_ids(self) -> frozenset[int]:
        return frozenset(school for school, _classes in self.counsellor_class_scopes)

    @property
    def staff_school_ids(self) -> frozenset[int]:
        """Schools where this user works as admin or counsellor (whole or part)."""
        return self.admin_school_ids | self.counsellor_school_ids | self.counsellor_class_school_ids

    def heads_school_of(self, obj: Any) -> bool:
        """Is this user head of the psychological centre at the school ``obj`` belongs to?"""
        return school_of(obj) in self.admin_school_ids

    @property
    def covers_students(self) -> bool:
        """Does any role give this user student records to work with (admin or counsellor)?"""
        return bool(self.admin_school_ids or self.counsellor_school_ids or self.counsellor_class_scopes)

    @property
    def primary_role(self) -> str | None:
        """The role whose home page the user lands on, the widest first."""
        for role in (PLATFORM_ADMIN, SCHOOL_ADMIN, COUNSELLOR, HOSPITAL_LIAISON, BUREAU_ANALYST, STUDENT):
            if role in self.roles:
                return role
        return None


ANONYMOUS = Principal()


def principal_of(user: Any) -> Principal:
    """The user's principal, computed once and kept on the user object for this request."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return ANONYMOUS
    cached = getattr(user, "_xinqiao_principal", None)
    if cached is not None:
        return cached
    principal = _build_principal(user)
    user._xinqiao_principal = principal
    return principal


# One statement: the user's student row (user is unique on Student), then one row per current
# membership and class. Columns: role, school, hospital, limited to classes, region path, class id,
# and the class's school (for the student row: its class and its own id).
_PRINCIPAL_SQL = (
    "SELECT 'student', s.school_id, NULL, NULL, NULL, s.school_class_id, s.id "
    "FROM directory_student s WHERE s.user_id = %s AND s.is_active "
    "UNION ALL "
    "SELECT m.role, m.school_id, m.hospital_id, m.limited_to_classes, r.path, c.id, c.school_id "
    "FROM directory_membership m "
    "LEFT JOIN directory_region r ON r.id = m.region_id "
    "LEFT JOIN directory_membership_classes l ON m.limited_to_classes AND l.membership_id = m.id "
    "LEFT JOIN directory_schoolclass c ON c.id = l.schoolclass_id "
    "WHERE m.user_id = %s AND m.starts_on <= %s AND (m.ends_on IS NULL OR m.ends_on >= %s)"
)


def _principal_rows(user_id: int) -> list[tuple[Any, ...]]:
    """The rows a principal is built from (see _PRINCIPAL_SQL).

    Plain SQL on purpose: this runs on every signed-in request, and the ORM spent four times the
    database's own time building the queries (see bench/submit_throughput.py). The access tests
    (tests/core/test_access_policy.py) hold it to the rules, on SQLite and PostgreSQL."""
    today = timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute(_PRINCIPAL_SQL, [user_id, user_id, today, today])
        return cursor.fetchall()


def _build_principal(user: Any) -> Principal:
    admin: set[int] = set()
    counsellor_schools: set[int] = set()
    class_scopes: dict[int, set[int]] = {}
    hospitals: set[int] = set()
    paths: list[str] = []
    roles: set[str] = set()
    student: tuple[int, int, int] | None = None
    for role, school_id, hospital_id, limited, region_path, class_id, class_school_id in _principal_rows(user.pk):
        if role == STUDENT:  # no membership has this role
            student = (class_school_id, school_id, class_id)  # its id, school, class
            continue
        roles.add(role)
        # The membership_place_matches_role constraint guarantees the place for each role.
        if role == SCHOOL_ADMIN and school_id is not None:
            admin.add(school_id)
        elif role == COUNSELLOR and school_id is not None:
            if limited:
                # Only this school's classes count; an emptied list covers nothing, never everything.
                own = class_scopes.setdefault(school_id, set())
                if class_id is not None and class_school_id == school_id:
                    own.add(class_id)
            else:
                counsellor_schools.add(school_id)
        elif role == HOSPITAL_LIAISON and hospital_id is not None:
            hospitals.add(hospital_id)
        elif role == BUREAU_ANALYST and region_path is not None and region_path not in paths:
            paths.append(region_path)
    if student is not None:
        roles.add(STUDENT)
    if user.is_superuser:
        roles.add(PLATFORM_ADMIN)
    return Principal(
        user_id=user.pk,
        platform_admin=user.is_superuser,
        student_id=student[0] if student else None,
        student_school_id=student[1] if student else None,
        student_class_id=student[2] if student else None,
        admin_school_ids=frozenset(admin),
        counsellor_school_ids=frozenset(counsellor_schools),
        counsellor_class_scopes=tuple(
            (school, frozenset(ids)) for school, ids in sorted(class_scopes.items()) if school not in counsellor_schools
        ),
        hospital_ids=frozenset(hospitals),
        region_paths=tuple(paths),
        roles=frozenset(roles),
    )


# --- the rules, one per model ------------------------------------------------------------------


def _in_regions(p: Principal, path_field: str) -> Q:
    q = NOTHING
    for path in p.region_paths:
        q |= Q(**{f"{path_field}__startswith": path})
    return q


def _student_q(p: Principal, via: str = "") -> Q:
    """Who covers which students, as a condition on a Student reached through ``via``
    (``""`` for Student itself, ``"student"`` for a row that belongs to a student)."""
    pre = f"{via}__" if via else ""
    q = NOTHING
    if p.admin_school_ids or p.counsellor_school_ids:
        q |= Q(**{f"{pre}school_id__in": p.admin_school_ids | p.counsellor_school_ids})
    for school, class_ids in p.counsellor_class_scopes:
        if class_ids:
            q |= Q(**{f"{pre}school_id": school, f"{pre}school_class_id__in": class_ids})
    if p.student_id is not None:
        q |= Q(**{f"{pre}pk": p.student_id})
    return q


def students_rule(p: Principal) -> Q:
    """Students: school admins see their school; counsellors their school or their classes;
    a student sees themself. Liaisons and analysts see no student record (they get referral
    packets and aggregates instead)."""
    return _student_q(p)


def campaigns_rule(p: Principal) -> Q:
    """Campaigns: the school's admins and counsellors; a student sees those assigned to them."""
    q = Q(school_id__in=p.staff_school_ids) if p.staff_school_ids else NOTHING
    if p.student_id is not None:
        q |= Q(assignments__student_id=p.student_id)  # one assignment per student: no repeats
    return q


def assignments_rule(p: Principal) -> Q:
    """Assignments follow their student: whoever covers the student sees the assignment."""
    return _student_q(p, via="student")


def _staff_student_q(p: Principal, via: str) -> Q:
    """As `_student_q`, for rows the student themself must not read (alerts, guardian links)."""
    return _student_q(replace(p, student_id=None), via=via)


def consent_records_rule(p: Principal) -> Q:
    """Consent records follow their student: staff who cover the student, and the student."""
    return _student_q(p, via="assignment__student")


def guardian_invitations_rule(p: Principal) -> Q:
    """Guardian links: staff who cover the student (the guardian holds the link, not an account)."""
    return _staff_student_q(p, via="assignment__student")


def submissions_rule(p: Principal) -> Q:
    """Submissions and their answers: staff who cover the student, and the student themself
    (whether a student may read their *results* is the campaign's choice, decided in the
    student's API and pages)."""
    return _student_q(p, via="student")


def results_rule(p: Principal) -> Q:
    """Results follow their submission."""
    return _student_q(p, via="submission__student")


def crisis_alerts_rule(p: Principal) -> Q:
    """Crisis alerts: staff who cover the student; never the student."""
    return _staff_student_q(p, via="student")


def cases_rule(p: Principal) -> Q:
    """Cases and contacts: staff who cover the student (a class-limited counsellor, their classes);
    never the student, and never a liaison (a referral carries its own packet)."""
    return _staff_student_q(p, via="student")


def case_parts_rule(p: Principal) -> Q:
    """A case's flags, plans, follow-ups and timeline follow their case."""
    return _staff_student_q(p, via="case__student")


def risk_scores_rule(p: Principal) -> Q:
    """Risk scores: staff who cover the student; never the student (DESIGN.md §1)."""
    return _staff_student_q(p, via="submission__student")


def referrals_rule(p: Principal) -> Q:
    """Referrals: staff who cover the student; a liaison, those to their hospital once sent (never
    a draft, and nothing else of the school: the referral is the packet)."""
    q = _staff_student_q(p, via="student")
    if p.hospital_ids:
        q |= Q(hospital_id__in=p.hospital_ids) & ~Q(state="draft")
    return q


def referral_events_rule(p: Principal) -> Q:
    """A referral's timeline: whoever sees the referral (both sides read the same events)."""
    q = _staff_student_q(p, via="referral__student")
    if p.hospital_ids:
        q |= Q(referral__hospital_id__in=p.hospital_ids) & ~Q(referral__state="draft")
    return q


def outbox_messages_rule(p: Principal) -> Q:
    """A referral's pushes to the hospital's system: the school's staff who cover the student (the
    hospital reads what arrived, not the school's outbox)."""
    return _staff_student_q(p, via="referral__student")


def agreements_rule(p: Principal) -> Q:
    """Agreements: the school's staff, and the liaisons of the hospital."""
    q = Q(school_id__in=p.staff_school_ids) if p.staff_school_ids else NOTHING
    if p.hospital_ids:
        q |= Q(hospital_id__in=p.hospital_ids)
    return q


def sharing_consents_rule(p: Principal) -> Q:
    """Consents to share with a hospital: staff who cover the student."""
    return _staff_student_q(p, via="student")


def classes_rule(p: Principal) -> Q:
    """Classes: as students, by school or by class scope; a student sees their own class."""
    q = NOTHING
    if p.admin_school_ids or p.counsellor_school_ids:
        q |= Q(school_id__in=p.admin_school_ids | p.counsellor_school_ids)
    for school, class_ids in p.counsellor_class_scopes:
        if class_ids:
            q |= Q(school_id=school, pk__in=class_ids)
    if p.student_class_id is not None:
        q |= Q(pk=p.student_class_id)
    return q


def schools_rule(p: Principal) -> Q:
    """Schools: staff see their own; analysts every school in their regions; a student their own."""
    q = NOTHING
    if p.staff_school_ids:
        q |= Q(pk__in=p.staff_school_ids)
    if p.student_school_id is not None:
        q |= Q(pk=p.student_school_id)
    return q | _in_regions(p, "region__path")


def regions_rule(p: Principal) -> Q:
    """Regions are public reference data for staff; students need none."""
    return EVERYTHING if p.roles - {STUDENT} else NOTHING


def hospitals_rule(p: Principal) -> Q:
    """Hospitals are public reference data for staff (schools choose partners among them)."""
    return EVERYTHING if p.roles - {STUDENT} else NOTHING


def memberships_rule(p: Principal) -> Q:
    """Staff memberships: one's own; a school admin sees their school's staff."""
    if p.user_id is None:
        return NOTHING
    q = Q(user_id=p.user_id)
    if p.admin_school_ids:
        q |= Q(school_id__in=p.admin_school_ids)
    return q


def roster_imports_rule(p: Principal) -> Q:
    """Roster imports hold names and contacts: only the school's admins see them."""
    return Q(school_id__in=p.admin_school_ids) if p.admin_school_ids else NOTHING


def audit_events_rule(p: Principal) -> Q:
    """The audit log: a school admin reads their school's entries."""
    return Q(school_id__in=p.admin_school_ids) if p.admin_school_ids else NOTHING


def risk_models_rule(p: Principal) -> Q:
    """Risk models: a head of centre reads the cards of the models that may score their school's
    students: the school's own, those of a region the school is in, and everyone's. Activating
    one is the platform admin's (screening.riskmodels.services)."""
    if not p.admin_school_ids:
        return NOTHING
    from screening.directory.models import School

    in_region = Exists(School.objects.filter(pk__in=p.admin_school_ids,
                                             region__path__startswith=OuterRef("scope_region__path")))
    return Q(scope_school_id__in=p.admin_school_ids) | Q(scope_key="all") | (Q(scope_region__isnull=False) & Q(in_region))


def export_jobs_rule(p: Principal) -> Q:
    """Export jobs: the user who requested them, no one else (their files hold what that user may
    see, not what a colleague may). A platform admin's reads are audited, and the export selectors
    and services narrow even theirs to their own jobs."""
    return Q(requested_by_id=p.user_id) if p.user_id is not None else NOTHING


RULES: dict[str, Callable[[Principal], Q]] = {
    "directory.Student": students_rule,
    "directory.SchoolClass": classes_rule,
    "directory.School": schools_rule,
    "directory.Region": regions_rule,
    "directory.Hospital": hospitals_rule,
    "directory.Membership": memberships_rule,
    "directory.RosterImport": roster_imports_rule,
    "core.AuditEvent": audit_events_rule,
    "campaigns.Campaign": campaigns_rule,
    "campaigns.Assignment": assignments_rule,
    "campaigns.ConsentRecord": consent_records_rule,
    "campaigns.GuardianInvitation": guardian_invitations_rule,
    "campaigns.Submission": submissions_rule,
    "campaigns.Result": results_rule,
    "campaigns.CrisisAlert": crisis_alerts_rule,
    "riskmodels.RiskModel": risk_models_rule,
    "riskmodels.RiskScore": risk_scores_rule,
    "cases.Case": cases_rule,
    "cases.Contact": cases_rule,
    "cases.CaseFlag": case_parts_rule,
    "cases.FollowUpPlan": case_parts_rule,
    "cases.FollowUp": case_parts_rule,
    "cases.CaseEvent": case_parts_rule,
    "referrals.Agreement": agreements_rule,
    "referrals.SharingConsent": sharing_consents_rule,
    "referrals.Referral": referrals_rule,
    "referrals.ReferralEvent": referral_events_rule,
    "referrals.OutboxMessage": outbox_messages_rule,
    "exports.ExportJob": export_jobs_rule,
}

def scope[QS: models.QuerySet[Any]](queryset: QS, user: Any) -> QS:
    """Filter ``queryset`` to what ``user`` may see. Platform admins see all (and are audited)."""
    principal = principal_of(user)
    if principal is ANONYMOUS or not principal.roles:
        return queryset.none()
    rule = RULES.get(queryset.model._meta.label)
    if rule is None:
        return queryset.none()
    if principal.platform_admin:
        return queryset
    condition = rule(principal)
    if condition is NOTHING:
        return queryset.none()
    return queryset.filter(condition)
