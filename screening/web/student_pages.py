"""Pages about students for counsellors and heads of centre. Every row shown is audited."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from screening.cases.selectors import tier_counts
from screening.core.access import principal_of
from screening.core.audit import Action, audit_students
from screening.directory import selectors, services
from screening.web.alert_pages import open_alert_count
from screening.web.campaign_pages import student_screenings
from screening.web.forms import StudentFilterForm
from screening.web.scoped import admin_of, forbidden, paginate, school_admin_required, visible_or_404
from screening.web.student_file import student_file


def _filter_data(request: HttpRequest) -> QueryDict | None:
    """The list's filters. The search text is read from a POST body only: it is often a name, and a
    name in a URL lands in the browser history and the access logs (DESIGN.md §4). The class
    filter and the page number may come in the query string."""
    if request.method == "POST":
        return request.POST
    data = request.GET.copy()
    data.pop("q", None)
    return data or None


def student_list_page(request: HttpRequest, *, home: bool = False) -> HttpResponse:
    """The students the user covers, filtered by class and a search, 50 a page."""
    if not principal_of(request.user).covers_students:
        return forbidden(request)
    form = StudentFilterForm(_filter_data(request), classes=selectors.class_list(user=request.user))
    filters = form.filters()
    page = paginate(request, selectors.student_list(user=request.user, **filters))
    audit_students(actor=request.user, action=Action.LIST, students=page.object_list)
    context = {
        "form": form, "page": page, "home": home, "open_alerts": open_alert_count(user=request.user) if home else 0,
        "case_counts": tier_counts(user=request.user) if home else None,
        "search": filters.get("q", ""), "class_id": filters.get("school_class"),
    }
    htmx = getattr(request, "htmx", None)  # django-htmx's middleware sets it
    if htmx and not htmx.boosted:
        return render(request, "web/_student_results.html", context)
    return render(request, "web/students.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def students(request: HttpRequest) -> HttpResponse:
    return student_list_page(request)


@login_required
def student_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    """One student's file (一人一档): the profile, every screening across the years with its tier
    and the rules behind it, a score trend per questionnaire, consents, the student's cases and
    one timeline of contacts, guardian communication, follow-ups and case events."""
    student = visible_or_404(request, selectors.student_list(user=request.user, active=None), public_id=public_id)
    if principal_of(request.user).student_id == student.pk:
        # A student's own record is their home page; this page is for staff.
        return forbidden(request)
    audit_students(actor=request.user, action=Action.READ, students=[student])
    screenings = list(student_screenings(user=request.user, student=student))
    context = {"student": student, "can_issue": admin_of(request, student), "screenings": screenings,
               **student_file(user=request.user, student=student, screenings=screenings)}
    return render(request, "web/student_detail.html", context)


@never_cache
@require_POST
@school_admin_required
def student_access_code(request: HttpRequest, public_id: str) -> HttpResponse:
    """Issue a new access code for one student and show it once; the old code stops working."""
    student = visible_or_404(request, selectors.student_list(user=request.user), public_id=public_id)
    if not admin_of(request, student):
        return forbidden(request)
    code = services.student_access_code_issue(actor=request.user, student=student)
    return render(request, "web/access_code.html", {"student": student, "code": code})
