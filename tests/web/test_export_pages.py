"""Export pages: who may export sees the page and a form per kind they may request; a request
becomes a row that polls itself while it runs, then offers the download (the requester's alone,
audited) or says why it failed; the campaign page requests its report in one click."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from exports import services
from exports.kpis.terms import current_term
from exports.models import ExportJob
from screening.core.models import AuditEvent
from screening.directory.services import student_user_ensure
from tests.exports.export_job_helpers import (
    keep_files_in,
    launched_campaign,
    use_builder,
)

pytestmark = pytest.mark.django_db

PAGE = "/exports/"


@pytest.fixture
def export_storage(settings: Any, tmp_path: Any) -> Any:
    """Kept files go to a temporary folder."""
    return keep_files_in(settings, tmp_path / "media")


@pytest.fixture
def tiny_builders(monkeypatch: pytest.MonkeyPatch, export_storage: Any) -> None:
    """Every kind builds with the tiny builder."""
    use_builder(monkeypatch, "tiny_build")


def sign_in(client: Client, who: Any, language: str = "en") -> Client:
    client.cookies["django_language"] = language
    client.force_login(who)
    return client


@pytest.fixture
def campaign(cast: Any) -> Any:
    return launched_campaign(cast)


def forms_on(html: str) -> set[str]:
    return set(re.findall(r'action="/exports/new/(\w+)/"', html))


@pytest.mark.parametrize(("who", "kinds"), [
    ("diana", {"campaign_report", "kpis", "research_extract"}),
    ("alice", {"campaign_report"}),
    ("carol", {"campaign_report"}),
    ("olga", {"kpis", "bureau_aggregate"}),
])
def test_each_role_is_offered_the_exports_it_may_request(cast, client, campaign, who, kinds):
    response = sign_in(client, getattr(cast, who)).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert forms_on(html) == kinds
    assert 'href="/exports/"' in html  # the navigation's link


@pytest.mark.parametrize("who", ["lily", "nobody"])
def test_people_who_may_not_export_are_refused_and_not_shown_the_link(cast, client, who):
    user = getattr(cast, who)
    assert sign_in(client, user).get(PAGE).status_code == 403
    assert 'href="/exports/"' not in client.get("/home/").content.decode()


def test_a_student_is_refused(cast, client):
    assert sign_in(client, student_user_ensure(student=cast.hamlet)).get(PAGE).status_code == 403


def test_with_no_campaign_to_export_the_section_says_so_instead_of_an_empty_form(cast, client):
    html = sign_in(client, cast.alice).get(PAGE).content.decode()
    assert forms_on(html) == set()
    assert 'id="request-campaign_report"' in html and "There is no campaign you can export yet." in html
    html = sign_in(client, cast.alice, "zh-hans").get(PAGE).content.decode()
    assert "还没有可以导出的筛查活动。" in html


def test_an_analysts_forms_offer_their_one_region_whole_and_terms_not_days(cast, client):
    """No school, no "all my regions", no region inside hers (exports/analyst.py); the bureau
    aggregate by whole term, the current one first; in her language."""
    html = sign_in(client, cast.olga, "zh-hans").get(PAGE).content.decode()
    kpis = re.search(r'id="request-kpis".*?</section>', html, re.S)
    bureau = re.search(r'id="request-bureau_aggregate".*?</section>', html, re.S)
    assert kpis is not None and bureau is not None
    for section in (kpis.group(0), bureau.group(0)):
        region = re.search(r'<select name="region"[^>]*>(.*?)</select>', section, re.S)
        assert region is not None
        assert re.findall(r"<option[^>]*>", region.group(1)) == [f'<option value="{cast.east.pk}" selected>']
        assert 'name="school"' not in section
    assert 'name="since"' not in bureau.group(0)
    now = current_term()
    term = re.search(r'<select name="term"[^>]*>(.*?)</select>', bureau.group(0), re.S)
    assert term is not None
    assert re.findall(r'<option value="([^"]+)"', term.group(1))[0] == now.key
    with translation.override("zh-hans"):
        assert "学期" in now.label
        assert f'<option value="{now.key}" selected>{now.label}</option>' in term.group(1)


def test_the_campaign_form_offers_only_the_users_schools_campaigns(cast, client, campaign):
    other = launched_campaign(cast, cast.xishan)
    html = sign_in(client, cast.alice).get(PAGE).content.decode()
    assert f'value="{campaign.pk}"' in html and f'value="{other.pk}"' not in html


def test_a_requested_report_runs_and_its_row_offers_the_download(
        cast, client, campaign, tiny_builders, django_capture_on_commit_callbacks):
    sign_in(client, cast.diana)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("web:export-request", args=["campaign_report"]),
                               {"campaign": campaign.pk, "request_key": "k1"})
    assert response.status_code == 302 and response["Location"] == PAGE
    job = ExportJob.objects.get()
    assert (job.status, job.requested_by, job.language) == ("done", cast.diana, "en")
    html = client.get(PAGE).content.decode()
    row = re.search(rf'<tr id="job-{job.public_id}".*?</tr>', html, re.S)
    assert row is not None
    assert "hx-get" not in row.group(0)  # finished: it no longer polls
    assert f'href="/exports/{job.public_id}/download/"' in row.group(0) and "100%" in row.group(0)
    assert campaign.name in row.group(0)

    download = client.get(f"/exports/{job.public_id}/download/")
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment;")
    assert b"user,diana" in b"".join(download.streaming_content)
    assert AuditEvent.objects.filter(action="export", object_type="exports.ExportJob", actor_username="diana").count() == 1

    for other in (cast.alice, cast.edgar):
        sign_in(client, other)
        assert client.get(f"/exports/{job.public_id}/download/").status_code == 404
        assert client.get(f"/exports/{job.public_id}/").status_code == 404


def test_a_running_job_polls_every_two_seconds_and_shows_its_progress(cast, client, campaign, tiny_builders):
    job = services.export_job_request(actor=cast.diana, kind="campaign_report", params={"campaign": campaign.pk})
    services._claim(job.pk, "run")
    ExportJob.objects.filter(pk=job.pk).update(progress_done=3, progress_total=4)
    fragment = sign_in(client, cast.diana).get(f"/exports/{job.public_id}/", HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert fragment.status_code == 200 and html.lstrip().startswith("<tr")
    assert f'hx-get="/exports/{job.public_id}/"' in html and 'hx-trigger="every 2s"' in html
    assert "75%" in html and 'value="75"' in html


def test_a_failed_job_shows_its_reason_in_the_requesters_language(
        cast, client, campaign, export_storage, monkeypatch, django_capture_on_commit_callbacks):
    use_builder(monkeypatch, "refusing_build")
    sign_in(client, cast.diana, language="zh-hans")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("web:export-request", args=["campaign_report"]), {"campaign": campaign.pk})
    job = ExportJob.objects.get()
    assert (job.status, job.language) == ("failed", "zh-hans")
    html = client.get(PAGE).content.decode()
    assert "日期超出范围。" in html and "/download/" not in html


def test_a_research_request_without_a_purpose_goes_back_with_the_field_marked(cast, client, campaign):
    response = sign_in(client, cast.diana).post(reverse("web:export-request", args=["research_extract"]), {
        "campaign": campaign.pk, "format": "csv", "recipient": "某大学课题组", "purpose": ""})
    assert response.status_code == 400
    assert 'id="research_extract-purpose-error"' in response.content.decode()
    assert not ExportJob.objects.exists()


def test_another_schools_campaign_sent_through_the_form_is_refused_and_the_attempt_logged(cast, client, campaign):
    own = launched_campaign(cast, cast.xishan)
    sign_in(client, cast.bob)
    response = client.post(reverse("web:export-request", args=["campaign_report"]), {"campaign": campaign.pk})
    assert response.status_code == 400
    assert cast.dongshan.name not in response.content.decode()
    assert not ExportJob.objects.exists()
    denied = AuditEvent.objects.filter(actor_id=cast.bob.pk, action="denied", object_type="campaigns.Campaign")
    assert list(denied.values_list("object_id", flat=True)) == [str(campaign.pk)]
    # a campaign of their own school not offered (a draft) or an id of nothing: refused, nothing logged
    own.status = own.Status.DRAFT
    own.save(update_fields=["status"])
    for value in (own.pk, 999_999, "x"):
        assert client.post(reverse("web:export-request", args=["campaign_report"]),
                           {"campaign": value}).status_code == 400
    assert denied.count() == 1


def test_a_bad_period_is_refused_on_its_field(cast, client):
    response = sign_in(client, cast.olga).post(reverse("web:export-request", args=["kpis"]), {
        "since": "2025-12-01", "until": "2025-11-01", "region": cast.east.pk})
    assert response.status_code == 400
    assert "The last day cannot be before the first." in response.content.decode()
    response = client.post(reverse("web:export-request", args=["bureau_aggregate"]), {  # a term not offered
        "term": f"{current_term().school_year + 1}-autumn", "region": cast.east.pk})
    assert response.status_code == 400 and 'id="bureau_aggregate-term-error"' in response.content.decode()
    assert not ExportJob.objects.exists()


def test_the_research_form_offers_only_campaigns_that_asked_for_research_use(cast, client, campaign):
    other = launched_campaign(cast, asks_research_use=False)
    html = sign_in(client, cast.diana).get(PAGE).content.decode()
    research = re.search(r'id="request-research_extract".*?</section>', html, re.S)
    report = re.search(r'id="request-campaign_report".*?</section>', html, re.S)
    assert research is not None and report is not None
    assert f'value="{campaign.pk}"' in research.group(0) and f'value="{other.pk}"' not in research.group(0)
    assert f'value="{other.pk}"' in report.group(0)
    response = client.post(reverse("web:export-request", args=["research_extract"]), {
        "campaign": other.pk, "format": "csv", "recipient": "某大学课题组", "purpose": "横断面研究"})
    assert response.status_code == 400 and not ExportJob.objects.exists()


def test_a_kind_the_user_may_not_request_is_refused(cast, client, campaign):
    sign_in(client, cast.alice)
    response = client.post(reverse("web:export-request", args=["research_extract"]), {
        "campaign": campaign.pk, "format": "csv", "recipient": "x", "purpose": "y"})
    assert response.status_code == 403
    assert client.post("/exports/new/everything/", {}).status_code == 404
    assert not ExportJob.objects.exists()


def test_the_same_form_sent_twice_queues_one_job(cast, client, campaign, tiny_builders):
    sign_in(client, cast.olga)
    now = current_term()
    data = {"term": now.key, "region": "", "request_key": "form-1"}
    for _ in range(2):
        assert client.post(reverse("web:export-request", args=["bureau_aggregate"]), data).status_code == 302
    job = ExportJob.objects.get()
    assert job.params == {"region": cast.east.pk, "school_year": now.school_year, "term": now.season}
    with translation.override("en"):
        assert f"{cast.east.name} · {now.label}" in client.get(PAGE).content.decode()


def test_the_campaign_page_requests_its_report(cast, client, campaign, tiny_builders, django_capture_on_commit_callbacks):
    sign_in(client, cast.alice)
    html = client.get(reverse("web:campaign", args=[campaign.pk])).content.decode()
    assert 'action="/exports/new/campaign_report/"' in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/exports/new/campaign_report/", {"campaign": campaign.pk})
    assert response.status_code == 302
    assert ExportJob.objects.get().status == "done"
