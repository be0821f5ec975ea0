"""Demo exports, done and waiting on the Exports page, so each workbook can be opened at once.

- dh_admin (head of centre, JC-DHJH): the junior campaign's report (summary with charts, a sheet
  per class, item statistics, the flagged students), the school's KPI workbook for the past year
  (trend charts by term) and a research extract (only students whose guardian and who themselves
  agreed to research use; recipient and purpose in the audit log).
- analyst (bureau analyst, whole city): the bureau aggregate of their region (the city, as a
  whole) for the term the demo's screening opened in (the current one; on a term's first day, the
  one before), small cells withheld as "<5" and their complements as "x". An analyst only ever
  gets a whole region of their own and a whole term (``exports.analyst``).

They run here as they would in a worker, one after the other. Files are kept for
``XINQIAO_EXPORT_KEEP_HOURS``; running the seed again makes fresh ones only where none is kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.test.utils import override_settings
from django.utils import timezone

from exports.kpis.terms import term_of
from exports.models import ExportJob
from exports.services import export_job_request, export_job_run
from screening.campaigns.models import Campaign
from screening.demo.campaigns import JUNIOR_CAMPAIGN

RESEARCH = {"recipient": "江城市教育科学研究院 学生心理健康课题组（演示）", "purpose": "年度学生心理健康状况匿名研究（演示）"}


def seed() -> dict[str, str]:
    """Request and run the demo exports; returns each one's status by kind."""
    users = get_user_model().objects
    head, analyst = users.get(username="dh_admin"), users.get(username="analyst")
    campaign = Campaign.objects.get(school__code="JC-DHJH", name=JUNIOR_CAMPAIGN)
    year_ago = (timezone.localdate() - dt.timedelta(days=365)).isoformat()
    today = timezone.localdate().isoformat()
    school_year, season = term_of(timezone.localdate(campaign.opens_at))
    wanted: list[tuple[Any, str, dict[str, Any]]] = [
        (head, "campaign_report", {"campaign": campaign.pk}),
        (head, "kpis", {"school": campaign.school_id, "since": year_ago, "until": today}),
        (head, "research_extract", {"campaign": campaign.pk, "format": "xlsx", **RESEARCH}),
        (analyst, "bureau_aggregate", {"school_year": school_year, "term": season}),
    ]
    out = {}
    with override_settings(XINQIAO_EXPORTS_INLINE=True):  # run now, in this process
        for user, kind, params in wanted:
            kept = [j for j in ExportJob.objects.filter(requested_by=user, kind=kind) if j.downloadable]
            job = kept[0] if kept else export_job_request(actor=user, kind=kind, params=params, language="zh-hans")
            job.refresh_from_db()
            if job.status == ExportJob.Status.QUEUED:  # inside an outer transaction (tests) it waits for a commit
                export_job_run(job_id=job.pk)
                job.refresh_from_db()
            out[kind] = job.status
    return out
