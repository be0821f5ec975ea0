"""The export pages: the user's export jobs with live progress, a form for each kind of export
they may request, and the download of a finished file.

Jobs are their requester's alone: anyone else's job answers 404, like a missing one. A job runs in
the background (``exports.tasks``) in the language the page was in when it was requested; its row
polls itself (htmx, every 2 seconds) while it is queued or running. Each download is audited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from exports import selectors, services
from exports.analyst import own_regions
from exports.kinds import KINDS, kinds_for
from exports.kpis.terms import AUTUMN, SPRING, whole_term
from exports.models import ExportJob
from screening.campaigns.models import Campaign
from screening.core.access import principal_of
from screening.core.errors import NotFound
from screening.directory.models import Region, School
from screening.web.campaign_forms import attempt
from screening.web.export_forms import BureauForm, CampaignReportForm, ExportForm, KpiForm, ResearchForm
from screening.web.scoped import forbidden, paginate, visible_or_404

POLL = "2s"
FORMS: dict[str, type[ExportForm]] = {
    ExportJob.Kind.CAMPAIGN_REPORT: CampaignReportForm, ExportJob.Kind.KPIS: KpiForm,
    ExportJob.Kind.BUREAU_AGGREGATE: BureauForm, ExportJob.Kind.RESEARCH_EXTRACT: ResearchForm,
}
# The stylesheet's badge colours: waiting, working, finished, stopped.
BADGES = {"queued": "status-pending", "running": "status-in_progress", "done": "status-submitted",
          "failed": "status-closed"}


def exporter_required[F: Callable[..., HttpResponse]](view: F) -> F:
    """Signed in and allowed to request some kind of export, else 403."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not kinds_for(request.user):
            return forbidden(request)
        return view(request, *args, **kwargs)

    return wrapped  # type: ignore[return-value]


# --- choices for the forms ---------------------------------------------------------------------


def _campaigns(request: HttpRequest, school_ids: Iterable[int], *, research: bool = False) -> QuerySet[Campaign]:
    """Launched campaigns of these schools; for a research extract, only those that asked for research use."""
    campaigns = (Campaign.objects.visible_to(request.user).filter(school_id__in=list(school_ids))
                 .exclude(status=Campaign.Status.DRAFT).select_related("school").order_by("-opens_at", "-id"))
    return campaigns.filter(asks_research_use=True) if research else campaigns


def _kpi_schools(request: HttpRequest) -> QuerySet[School]:
    """The schools whose KPIs the user may ask for one by one: those they head (never an analyst's)."""
    ids = principal_of(request.user).admin_school_ids
    return School.objects.visible_to(request.user).filter(pk__in=ids).order_by("name")


def _form(request: HttpRequest, kind: str, data: Any = None) -> ExportForm:
    """The kind's form, with the choices this user has."""
    p = principal_of(request.user)
    if kind == ExportJob.Kind.CAMPAIGN_REPORT:
        return CampaignReportForm(data, actor=request.user, campaigns=_campaigns(request, p.staff_school_ids))
    if kind == ExportJob.Kind.KPIS:
        regions = own_regions(request.user) if p.region_paths else Region.objects.none()
        return KpiForm(data, actor=request.user, schools=_kpi_schools(request), regions=regions)
    if kind == ExportJob.Kind.BUREAU_AGGREGATE:
        return BureauForm(data, actor=request.user, regions=own_regions(request.user))
    return ResearchForm(data, actor=request.user, campaigns=_campaigns(request, p.admin_school_ids, research=True))


# --- the rows ----------------------------------------------------------------------------------


def _names(model: type[Any], user: Any, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(model.objects.visible_to(user).filter(pk__in=ids).values_list("pk", "name"))


def _rows(user: Any, jobs: Iterable[ExportJob]) -> list[dict[str, Any]]:
    """Each job with what it is about in words (a campaign's, school's or region's name the user
    may still see; an id otherwise) and its badge."""
    jobs = list(jobs)
    wanted: dict[str, set[int]] = {"campaign": set(), "school": set(), "region": set()}
    for job in jobs:
        for name, ids in wanted.items():
            if isinstance(job.params.get(name), int):
                ids.add(job.params[name])
    names = {"campaign": _names(Campaign, user, wanted["campaign"]), "school": _names(School, user, wanted["school"]),
             "region": _names(Region, user, wanted["region"])}
    return [{"job": job, "title": KINDS[job.kind].title, "what": _about(job, names), "badge": BADGES[job.status],
             "poll": POLL, "access_changed": job.downloadable and services.access_changed(actor=user, job=job)} for job in jobs]


def _about(job: ExportJob, names: dict[str, dict[int, str]]) -> str:
    parts = [names[name].get(job.params[name], f"#{job.params[name]}")
             for name in ("campaign", "school", "region") if isinstance(job.params.get(name), int)]
    if job.params.get("since"):
        parts.append(f"{job.params['since']} – {job.params.get('until', '')}")
    if isinstance(job.params.get("school_year"), int) and job.params.get("term") in (AUTUMN, SPRING):
        parts.append(whole_term(job.params["school_year"], job.params["term"]).label)
    if job.params.get("format"):
        parts.append(str(job.params["format"]).upper())
    return " · ".join(parts)


def _render(request: HttpRequest, bound: ExportForm | None = None, status: int = 200) -> HttpResponse:
    page = paginate(request, selectors.export_job_list(user=request.user))
    offered = []
    for kind in kinds_for(request.user):
        form = bound if bound is not None and bound.kind == kind.code else _form(request, kind.code)
        offered.append({"kind": kind.code, "title": kind.title, "form": form})
    context = {"page": page, "rows": _rows(request.user, page.object_list), "offered": offered,
               "keep_hours": settings.XINQIAO_EXPORT_KEEP_HOURS}
    return render(request, "web/exports/list.html", context, status=status)


# --- views -------------------------------------------------------------------------------------


@never_cache
@exporter_required
def export_list(request: HttpRequest) -> HttpResponse:
    """The user's export jobs, newest first, and the forms to request more."""
    return _render(request)


@require_POST
@exporter_required
def export_request(request: HttpRequest, kind: str) -> HttpResponse:
    """Queue an export; its row on the list shows it running. Refusals go back on the form."""
    if kind not in KINDS:
        raise Http404
    if kind not in {k.code for k in kinds_for(request.user)}:
        return forbidden(request)
    form = _form(request, kind, request.POST)
    refused = attempt(form, lambda: services.export_job_request(
        actor=request.user, kind=kind, params=form.params(), request_key=form.cleaned_data["request_key"]))
    if refused:
        return _render(request, form, status=refused)
    messages.success(request, _("The export was requested. It is prepared in the background: its progress shows "
                                "below, and the file can be downloaded here when it is done."))
    return redirect("web:exports")


@never_cache
@exporter_required
def export_job_row(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """One job's row, which polls itself while the job is queued or running."""
    job = visible_or_404(request, selectors.export_job_list(user=request.user), public_id=public_id)
    return render(request, "web/exports/_job.html", {"row": _rows(request.user, [job])[0]})


@never_cache
@login_required
def export_download(request: HttpRequest, public_id: UUID) -> FileResponse:
    """A finished export's file, for its requester, while it is kept (audited)."""
    job = visible_or_404(request, selectors.export_job_list(user=request.user), public_id=public_id)
    try:
        handle = services.export_job_download(actor=request.user, job=job)
    except NotFound as exc:
        raise Http404 from exc
    return FileResponse(handle, as_attachment=True, filename=job.filename, content_type=job.content_type)
