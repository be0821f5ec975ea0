"""The demo seeder builds the whole path the README promises, and running it again adds nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from exports.models import ExportJob
from screening.campaigns.models import CrisisAlert, Submission
from screening.cases.models import Case, Contact
from screening.referrals.models import Agreement, Referral
from screening.riskmodels.models import RiskModel, RiskScore


def counts() -> dict[str, int]:
    return {
        "submissions": Submission.objects.count(), "alerts": CrisisAlert.objects.count(), "cases": Case.objects.count(),
        "closed": Case.objects.filter(status="closed").count(), "contacts": Contact.objects.count(),
        "models": RiskModel.objects.count(), "scores": RiskScore.objects.count(),
        "agreements": Agreement.objects.count(), "referrals": Referral.objects.count(),
        "exports": ExportJob.objects.count(),
    }


@pytest.mark.django_db
def test_the_demo_shows_every_step_and_a_second_run_adds_nothing(tmp_path, settings):
    settings.DATA_DIR = tmp_path
    settings.STORAGES = {**settings.STORAGES, "default": {  # the demo's export files
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "media"}}}
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    first = counts()
    assert first["submissions"] > 0 and first["alerts"] >= 1 and first["closed"] == 1 and first["contacts"] >= 3
    assert RiskModel.objects.get(status="active").synthetic and first["scores"] == first["submissions"]
    assert first["agreements"] == 3 and Referral.objects.get().state == "scheduled"
    assert "dh_counsellor" in out.getvalue() and "synthetic" in out.getvalue()
    jobs = {job.kind: job for job in ExportJob.objects.select_related("requested_by")}
    assert {kind: (job.requested_by.username, job.status, job.downloadable) for kind, job in jobs.items()} == {
        "campaign_report": ("dh_admin", "done", True), "kpis": ("dh_admin", "done", True),
        "research_extract": ("dh_admin", "done", True), "bureau_aggregate": ("analyst", "done", True)}
    call_command("seed_demo", stdout=io.StringIO())
    assert counts() == first
