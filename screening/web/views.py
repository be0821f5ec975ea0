"""Pages. Each view parses, calls one selector or service, and renders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import REDIRECT_FIELD_NAME, login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from screening.core import access
from screening.core.access import principal_of
from screening.core.audit import Action, audit_students
from screening.directory import selectors
from screening.web import referral_pages, student_pages
from screening.web.forms import StaffLoginForm, StudentLoginForm


def _next_url(request: HttpRequest) -> str | None:
    """Where to go after sign-in: the ``next`` a sign-in-required page asked for, if it is ours."""
    target = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME)
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return None


def _login(request: HttpRequest, form_class: type[StaffLoginForm], template: str) -> HttpResponse:
    if request.method == "POST":
        form = form_class(request, data=request.POST)
        if form.is_valid():
            login(request, form.user)
            return redirect(_next_url(request) or "web:home")
    else:
        form = form_class(request)
    return render(request, template, {"form": form, "next": _next_url(request) or ""})


@require_http_methods(["GET", "POST"])
def staff_login(request: HttpRequest) -> HttpResponse:
    return _login(request, StaffLoginForm, "web/login_staff.html")


@require_http_methods(["GET", "POST"])
def student_login(request: HttpRequest) -> HttpResponse:
    return _login(request, StudentLoginForm, "web/login_student.html")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    was_student = principal_of(request.user).student_id is not None
    logout(request)
    return redirect("web:student-login" if was_student else "web:staff-login")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on its own page; a user without a role is told so, and sees nothing."""
    page = HOMES.get(principal_of(request.user).primary_role or "", _home_no_role)
    return page(request)


def _home_student(request: HttpRequest) -> HttpResponse:
    """The student's own page: open questionnaires with what to do next, finished ones, and help."""
    from screening.campaigns import rules
    from screening.campaigns.selectors import my_assignments
    from screening.campaigns.services.answering import BLOCKER_MESSAGES

    student_id = principal_of(request.user).student_id
    student = selectors.student_list(user=request.user).filter(pk=student_id).first() if student_id else None
    if student is None:  # left the roster since the session began
        return _home_no_role(request)
    audit_students(actor=request.user, action=Action.READ, students=[student])
    hidden = {rules.Blocker.CLOSED, rules.Blocker.MISSED, rules.Blocker.LEFT_ROSTER}
    open_rows, finished = [], []
    for assignment in my_assignments(user=request.user):
        blocker = rules.answer_blocker(assignment)
        if blocker is rules.Blocker.SUBMITTED:
            finished.append(assignment)
        elif blocker is None:
            started = assignment.status == assignment.Status.IN_PROGRESS
            open_rows.append({"assignment": assignment, "action": _("Continue") if started else _("Start")})
        elif blocker is rules.Blocker.STUDENT_CONSENT:
            open_rows.append({"assignment": assignment, "action": _("Start")})
        elif blocker is rules.Blocker.STUDENT_DECLINED:
            open_rows.append({"assignment": assignment, "message": BLOCKER_MESSAGES[blocker], "action": _("Open")})
        elif blocker not in hidden:
            open_rows.append({"assignment": assignment, "message": BLOCKER_MESSAGES[blocker]})
    return render(request, "web/home_student.html", {"student": student, "open": open_rows, "finished": finished})


def _home_staff(request: HttpRequest) -> HttpResponse:
    return student_pages.student_list_page(request, home=True)


def _home_liaison(request: HttpRequest) -> HttpResponse:
    return referral_pages.liaison_home(request)


def _home_analyst(request: HttpRequest) -> HttpResponse:
    rows = selectors.school_student_counts(user=request.user)
    return render(request, "web/home_analyst.html", {"rows": rows, "small_cell": selectors.SMALL_CELL})


def _home_platform(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home_platform.html")


def _home_no_role(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home_no_role.html")


HOMES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    access.STUDENT: _home_student,
    access.COUNSELLOR: _home_staff,
    access.SCHOOL_ADMIN: _home_staff,
    access.HOSPITAL_LIAISON: _home_liaison,
    access.BUREAU_ANALYST: _home_analyst,
    access.PLATFORM_ADMIN: _home_platform,
}


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "not_found", "message": _("Not found."), "fields": {}}}, status=404)
    return render(request, "web/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "server_error", "message": _("Something went wrong on our side."), "fields": {}}}, status=500)
    return render(request, "web/500.html", status=500)


def landing(request: HttpRequest) -> Any:
    if request.user.is_authenticated:
        return redirect("web:home")
    return render(request, "web/landing.html")
