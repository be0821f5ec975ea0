"""Pages. Each view parses, calls one selector or service, and renders."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from screening.core.access import principal_of
from screening.web.forms import StaffLoginForm, StudentLoginForm


def _login(request: HttpRequest, form_class: type[StaffLoginForm], template: str) -> HttpResponse:
    if request.method == "POST":
        form = form_class(request, data=request.POST)
        if form.is_valid():
            login(request, form.user)
            return redirect("web:home")
    else:
        form = form_class(request)
    return render(request, template, {"form": form})


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
    role = principal_of(request.user).primary_role
    return render(request, "web/home.html", {"role": role})


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
