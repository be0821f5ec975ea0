"""May this user take this action? DRF permission classes. They never widen what is visible:
an object reaches ``has_object_permission`` only after the scoped queryset found it."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from screening.core.access import principal_of

NO_ROLE = _("Your account has no role that may use this. Ask your administrator.")


class IsStaff(BasePermission):
    """Any active staff role (or platform admin). Students use their own endpoints."""

    message = NO_ROLE

    def has_permission(self, request: Request, view: Any) -> bool:
        p = principal_of(request.user)
        return bool(p.roles - {"student"})


class SchoolAdminWrites(BasePermission):
    """Reads for whoever can see the object; changes only for that school's admins."""

    message = _("Only the head of the school’s psychological centre may change this.")

    def has_permission(self, request: Request, view: Any) -> bool:
        p = principal_of(request.user)
        if request.method in SAFE_METHODS:
            if not p.roles:
                self.message = NO_ROLE
            return bool(p.roles)
        return bool(p.admin_school_ids) or p.platform_admin

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        p = principal_of(request.user)
        return p.platform_admin or p.heads_school_of(obj)


class IsSchoolAdmin(BasePermission):
    """Only heads of a school's psychological centre (for their own school's objects)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        p = principal_of(request.user)
        return bool(p.admin_school_ids) or p.platform_admin

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        p = principal_of(request.user)
        return p.platform_admin or p.heads_school_of(obj)


class IsStudent(BasePermission):
    """A signed-in student on the roster: the student's own endpoints (``/api/v1/me/...``)."""

    message = _("Only students use this.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return principal_of(request.user).student_id is not None


class WorksCases(BasePermission):
    """Changes on cases and red alerts (record a contact, plan, move, close, acknowledge): staff who
    cover students, that is counsellors and heads of centre. Reads follow the role's endpoint
    permission and the scope; a platform admin reads (audited) but does not work cases."""

    message = _("Only the counsellors and heads of centre who cover the student may do this.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or principal_of(request.user).covers_students


class ReadsRiskModels(BasePermission):
    """Risk model cards: heads of centre (the models that may score their school, by the access
    policy) and platform admins. Activating and retiring is the platform admin's alone, which the
    services enforce (screening.riskmodels.services)."""

    message = _("Only heads of centre and platform admins read risk model cards.")

    def has_permission(self, request: Request, view: Any) -> bool:
        p = principal_of(request.user)
        return bool(p.admin_school_ids) or p.platform_admin


class ActsForSchool(BasePermission):
    """The school's steps on a referral (create, send, cancel) and consents to share: staff who
    cover students. Which referral or student is theirs is the scope's to say (404 otherwise);
    the service checks the side again."""

    message = _("Only the school's counsellors and heads of centre take this step.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or principal_of(request.user).covers_students


class ActsForHospital(BasePermission):
    """The hospital's steps on a referral (acknowledge, accept or decline, schedule, attendance):
    the hospital's liaisons, signed in or through their hospital system's API token."""

    message = _("Only the hospital's liaisons take this step.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or bool(principal_of(request.user).hospital_ids)


class ActsOnReferrals(BasePermission):
    """Steps either side may take (closing after attendance): staff who cover students, or liaisons."""

    message = _("Only the school's staff and the hospital's liaisons take this step.")

    def has_permission(self, request: Request, view: Any) -> bool:
        p = principal_of(request.user)
        return request.method in SAFE_METHODS or p.covers_students or bool(p.hospital_ids)
