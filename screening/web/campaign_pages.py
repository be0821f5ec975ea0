"""Campaign pages for school staff: the list, a new campaign, launch and close, completion by
class (live), a class's assignments and paper consent.

Heads of centre create and run campaigns (403 for other staff); staff who cover students read
them and record paper consent for the students they cover. A campaign, class or assignment
outside the user's scope answers 404. Pages that name students audit every student shown.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from screening.campaigns import rules, selectors
from screening.campaigns.models import Assignment, Campaign, ConsentRecord
from screening.campaigns.services import campaigns as campaign_services
from screening.campaigns.services import consent as consent_services
from screening.core.access import principal_of
from screening.core.audit import Action, audit_students
from screening.core.errors import Conflict, InvalidInput
from screening.directory.models import School, SchoolClass, Student
from screening.directory.services import current_school_year
from screening.web.campaign_forms import (
    CampaignForm,
    PaperConsentForm,
    add_service_errors,
    content_language,
    instrument_label,
    profile_label,
)
from screening.web.scoped import admin_of, forbidden, paginate, school_admin_required, visible_or_404

COMPLETION_POLL = "5s"


def staff_required[F: Callable[..., HttpResponse]](view: F) -> F:
    """Signed in and covering students (head of centre or counsellor), else 403. A student's own
    campaigns are on their home page, not here."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not principal_of(request.user).covers_students:
            return forbidden(request)
        return view(request, *args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _campaigns(request: HttpRequest) -> QuerySet[Campaign]:
    return Campaign.objects.visible_to(request.user).select_related("school")


def _campaign(request: HttpRequest, pk: int) -> Campaign:
    return visible_or_404(request, _campaigns(request).prefetch_related("target_classes"), pk=pk)


# --- list and create ---------------------------------------------------------------------------


@staff_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    """Campaigns of the user's school(s), newest window first."""
    page = paginate(request, _campaigns(request).order_by("-opens_at", "-id"))
    return render(request, "web/campaigns/list.html", {"page": page, "can_create": bool(principal_of(request.user).admin_school_ids)})


def _admin_schools(request: HttpRequest) -> QuerySet[School]:
    return School.objects.visible_to(request.user).filter(pk__in=principal_of(request.user).admin_school_ids)


def _admin_classes(request: HttpRequest) -> QuerySet[SchoolClass]:
    """This school year's classes of the schools the user heads."""
    return (
        SchoolClass.objects.visible_to(request.user)
        .filter(school_id__in=principal_of(request.user).admin_school_ids, school_year=current_school_year())
        .select_related("school").order_by("school__name", "grade", "name", "pk")
    )


@require_http_methods(["GET", "POST"])
@school_admin_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    """A draft campaign. Every problem the service finds is shown on its field (400); nothing is saved."""
    form = CampaignForm(request.POST or None, schools=_admin_schools(request), classes=_admin_classes(request))
    if request.method == "POST":
        if form.is_valid():
            try:
                campaign = campaign_services.campaign_create(actor=request.user, **form.service_arguments())
            except InvalidInput as exc:
                add_service_errors(form, exc.fields)
                if not exc.fields:
                    form.add_error(None, str(exc.message))
            else:
                messages.success(request, _("The campaign was saved as a draft. Launch it when it is ready."))
                return redirect("web:campaign", pk=campaign.pk)
        return render(request, "web/campaigns/new.html", {"form": form}, status=400)
    return render(request, "web/campaigns/new.html", {"form": form})


# --- one campaign ------------------------------------------------------------------------------


def _completion_context(request: HttpRequest, campaign: Campaign) -> dict[str, Any]:
    rows = selectors.completion_by_class(user=request.user, campaign=campaign)
    keys = ("total", "submitted", "in_progress", "pending", "missed", "guardian_waiting")
    totals: dict[str, Any] = {k: sum(r[k] for r in rows) for k in keys}
    totals["percent"] = round(100 * totals["submitted"] / totals["total"]) if totals["total"] else 0
    return {"campaign": campaign, "rows": rows, "totals": totals, "poll": COMPLETION_POLL,
            "live": campaign.status == Campaign.Status.LAUNCHED}


@staff_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """What the campaign is, its actions for the head of centre, and completion by class."""
    campaign = _campaign(request, pk)
    lang = content_language()
    profiles = campaign.profiles or {}
    instruments = [
        {"code": code, "name": instrument_label(code, lang), "profile": profile_label(code, profiles.get(code), lang)}
        for code in campaign.instruments
    ]
    context = {
        **_completion_context(request, campaign), "instruments": instruments,
        "can_manage": admin_of(request, campaign), "classes": list(campaign.target_classes.all()),
    }
    return render(request, "web/campaigns/detail.html", context)


@staff_required
def campaign_completion(request: HttpRequest, pk: int) -> HttpResponse:
    """Completion by class as a fragment: the detail page polls it while the campaign is open.
    Counts only, never names."""
    campaign = _campaign(request, pk)
    return render(request, "web/campaigns/_completion.html", _completion_context(request, campaign))


def _managed_campaign(request: HttpRequest, pk: int) -> Campaign | HttpResponse:
    campaign = _campaign(request, pk)
    return campaign if admin_of(request, campaign) else forbidden(request)


@require_POST
@school_admin_required
def campaign_launch(request: HttpRequest, pk: int) -> HttpResponse:
    """Open the campaign: one assignment per eligible student (again: only the newly eligible)."""
    campaign = _managed_campaign(request, pk)
    if isinstance(campaign, HttpResponse):
        return campaign
    try:
        added = campaign_services.campaign_launch(actor=request.user, campaign=campaign)
    except Conflict as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, ngettext(
            "The campaign is open: %(count)d student was assigned.",
            "The campaign is open: %(count)d students were assigned.", added) % {"count": added})
    return redirect("web:campaign", pk=campaign.pk)


@require_POST
@school_admin_required
def campaign_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Close the campaign: unfinished assignments become missed."""
    campaign = _managed_campaign(request, pk)
    if isinstance(campaign, HttpResponse):
        return campaign
    try:
        missed = campaign_services.campaign_close(actor=request.user, campaign=campaign)
    except Conflict as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, ngettext(
            "The campaign is closed: %(count)d unfinished questionnaire was marked as missed.",
            "The campaign is closed: %(count)d unfinished questionnaires were marked as missed.", missed)
            % {"count": missed})
    return redirect("web:campaign", pk=campaign.pk)


@require_POST
@school_admin_required
def campaign_guardians_invite(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a consent (or notice) link to every guardian not asked yet who has an e-mail address."""
    campaign = _managed_campaign(request, pk)
    if isinstance(campaign, HttpResponse):
        return campaign
    if campaign.status != Campaign.Status.LAUNCHED:
        messages.error(request, _("Guardian links can be sent while the campaign is open."))
        return redirect("web:campaign", pk=campaign.pk)
    sent = consent_services.campaign_guardians_invite(actor=request.user, campaign=campaign)
    messages.success(request, ngettext(
        "%(count)d guardian was sent a link.", "%(count)d guardians were sent a link.", sent) % {"count": sent})
    return redirect("web:campaign", pk=campaign.pk)


# --- a class's assignments and paper consent ------------------------------------------------------


def _guardian_part(assignment: Assignment) -> str:
    """What the guardian is asked for, by the student's age today (PIPL art. 31)."""
    role = rules.guardian_role(assignment)
    if role is rules.GuardianRole.NONE:
        return _("not needed (18 or over)")
    return str(assignment.get_guardian_display())


@staff_required
def campaign_class(request: HttpRequest, pk: int, class_pk: int) -> HttpResponse:
    """One class's students in the campaign: consent of both parties and where each stands."""
    campaign = _campaign(request, pk)
    school_class = visible_or_404(request, SchoolClass.objects.visible_to(request.user), pk=class_pk, school_id=campaign.school_id)
    assignments = (
        Assignment.objects.visible_to(request.user)
        .filter(campaign=campaign, student__school_class=school_class)
        .select_related("student", "campaign").order_by("student__number", "pk")
    )
    page = paginate(request, assignments)
    audit_students(actor=request.user, action=Action.LIST, students=[a.student for a in page.object_list])
    rows = [{"assignment": a, "student": a.student, "guardian": _guardian_part(a)} for a in page.object_list]
    return render(request, "web/campaigns/class.html", {"campaign": campaign, "school_class": school_class, "page": page, "rows": rows})


def _assignment(request: HttpRequest, pk: int, assignment_pk: int) -> Assignment:
    visible = Assignment.objects.visible_to(request.user).select_related("student__school_class", "campaign__school")
    return visible_or_404(request, visible, pk=assignment_pk, campaign_id=pk)


@require_http_methods(["GET", "POST"])
@staff_required
def paper_consent(request: HttpRequest, pk: int, assignment_pk: int) -> HttpResponse:
    """Record a guardian's paper form (consent, refusal or withdrawal) with a required note.
    Counsellors who cover the student and heads of centre may; the note is encrypted at rest."""
    assignment = _assignment(request, pk, assignment_pk)
    student: Student = assignment.student
    if principal_of(request.user).student_id == student.pk:
        return forbidden(request)
    form = PaperConsentForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                consent_services.paper_consent_record(
                    actor=request.user, assignment=assignment, decision=form.cleaned_data["decision"],
                    note=form.cleaned_data["note"], language=content_language(),
                )
            except InvalidInput as exc:
                add_service_errors(form, exc.fields)
            except Conflict as exc:
                form.add_error(None, str(exc.message))
                status = 409
            else:
                messages.success(request, _("The paper consent was recorded."))
                return redirect("web:campaign-class", pk=assignment.campaign_id, class_pk=student.school_class_id)
    audit_students(actor=request.user, action=Action.READ, students=[student])
    history = (ConsentRecord.objects.visible_to(request.user).filter(assignment=assignment)
               .select_related("recorded_by").order_by("-at", "-id"))
    context = {"assignment": assignment, "campaign": assignment.campaign, "student": student, "form": form,
               "history": history, "guardian": _guardian_part(assignment)}
    return render(request, "web/campaigns/paper_consent.html", context, status=status)


# --- the student's page ---------------------------------------------------------------------------


def student_screenings(*, user: Any, student: Student) -> QuerySet[Assignment]:
    """A student's assignments with their submission (tier), for the staff's student page. The
    caller has already checked (and audited) that the user may see this student."""
    return (
        Assignment.objects.visible_to(user).filter(student=student)
        .exclude(campaign__status=Campaign.Status.DRAFT)
        .select_related("campaign", "submission").order_by("-campaign__opens_at", "-pk")
    )
