"""Pages for the head of a school's psychological centre: roster import, classes and their access
codes, the audit log. Everyone else gets 403; another school's objects are 404."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from screening.core.access import principal_of
from screening.core.errors import Conflict
from screening.core.selectors import audit_event_list
from screening.directory import roster, selectors, services
from screening.directory.models import RosterImport, School
from screening.directory.sheets import access_code_sheet
from screening.web.forms import AuditFilterForm, RosterUploadForm
from screening.web.scoped import admin_of, forbidden, paginate, school_admin_required, visible_or_404

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PROBLEMS_SHOWN = 500


def _admin_schools(request: HttpRequest) -> QuerySet[School]:
    return selectors.school_list(user=request.user).filter(pk__in=principal_of(request.user).admin_school_ids)


@require_http_methods(["GET", "POST"])
@school_admin_required
def roster_upload(request: HttpRequest) -> HttpResponse:
    """Upload a roster: it is checked whole and shown as a preview; nothing is applied yet."""
    schools = _admin_schools(request)
    form = RosterUploadForm(request.POST or None, request.FILES or None, schools=schools)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        record = services.roster_preview(
            actor=request.user, school=form.cleaned_data["school"], filename=upload.name,
            content=upload.read(), school_year=form.cleaned_data.get("school_year"),
        )
        return redirect("web:roster-preview", pk=record.pk)
    recent = RosterImport.objects.visible_to(request.user).select_related("school")[:10]
    return render(request, "web/roster_upload.html", {"form": form, "recent": recent})


@school_admin_required
def roster_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """What applying would do, or every problem by row and column (in the reader's language)."""
    record = visible_or_404(request, RosterImport.objects.visible_to(request.user).select_related("school"), pk=pk)
    problems = [{**p, "message": roster.message_for(p)} for p in record.problems[:PROBLEMS_SHOWN]]
    return render(
        request, "web/roster_preview.html",
        {"record": record, "problems": problems, "more_problems": max(0, len(record.problems) - PROBLEMS_SHOWN)},
    )


@require_POST
@school_admin_required
def roster_apply(request: HttpRequest, pk: int) -> HttpResponse:
    """Apply a checked roster whole, or nothing when it has problems."""
    record = visible_or_404(request, RosterImport.objects.visible_to(request.user), pk=pk)
    try:
        services.roster_apply(actor=request.user, roster_import=record)
    except Conflict as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The roster was applied."))
    return redirect("web:roster-preview", pk=record.pk)


@school_admin_required
def classes(request: HttpRequest) -> HttpResponse:
    """The school's classes with their active student counts, and their access-code sheets."""
    rows = selectors.class_list(user=request.user).filter(school_id__in=principal_of(request.user).admin_school_ids)
    return render(request, "web/classes.html", {"classes": rows})


@never_cache
@require_POST
@school_admin_required
def class_access_sheet(request: HttpRequest, pk: int) -> HttpResponse:
    """New access codes for the whole class, as a printable xlsx. The previous codes stop working."""
    school_class = visible_or_404(request, selectors.class_list(user=request.user), pk=pk)
    if not admin_of(request, school_class):
        return forbidden(request)
    issued = services.class_access_codes_issue(actor=request.user, school_class=school_class)
    content, filename = access_code_sheet(school_class, issued)
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@school_admin_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """The school's audit log with the API's filters, so the CSV export holds exactly these rows."""
    form = AuditFilterForm(request.GET or None)
    events = audit_event_list(user=request.user, **form.filters())
    params = form.api_params()
    export_url = reverse("api:audit-event-export") + ("?" + urlencode(params) if params else "")
    return render(request, "web/audit_log.html", {"form": form, "page": paginate(request, events), "export_url": export_url})
