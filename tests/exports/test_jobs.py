"""Export jobs through the API: requested, run with progress, done or failed with a reason, kept
for a set time, downloaded by their requester only (audited), swept when their process died.

The jobs build with the tiny builders of ``export_job_helpers`` (the real ones have their own
tests); in tests a job runs right after its request's commit (``XINQIAO_EXPORTS_INLINE``), except
in the one test of the embedded default's background thread.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import time
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.db import connection
from django.db.backends.signals import connection_created
from django.utils import timezone

from exports import services
from exports.models import ExportJob
from screening.core.models import AuditEvent
from tests.exports.export_job_helpers import (
    NAME,
    keep_files_in,
    launched_campaign,
    use_builder,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/exports/"
PERIOD = {"since": "2025-09-01", "until": "2025-12-31"}


@pytest.fixture
def export_storage(settings: Any, tmp_path: Any) -> Any:
    """Kept files go to a temporary folder."""
    return keep_files_in(settings, tmp_path / "media")


@pytest.fixture
def tiny_builders(monkeypatch: pytest.MonkeyPatch, export_storage: Any) -> None:
    """Every kind builds with the tiny builder."""
    use_builder(monkeypatch, "tiny_build")


def request_export(api: Any, who: Any, kind: str, params: dict[str, Any], *, run: Any = None, language: str = "en",
                   **extra: Any) -> Any:
    """POST a job as ``who``; with ``run`` (django_capture_on_commit_callbacks) it runs after the commit."""
    body = {"kind": kind, "params": params, **extra}
    if run is None:
        return api.as_(who).post(URL, body, format="json", HTTP_ACCEPT_LANGUAGE=language)
    with run(execute=True):
        return api.as_(who).post(URL, body, format="json", HTTP_ACCEPT_LANGUAGE=language)


def job_of(response: Any) -> ExportJob:
    return ExportJob.objects.get(public_id=response.json()["id"])


@pytest.fixture
def campaign(cast: Any) -> Any:
    return launched_campaign(cast)


# --- the happy path ------------------------------------------------------------------------------


def test_a_requested_export_runs_to_done_and_its_requester_downloads_it(
        cast, api, campaign, tiny_builders, django_capture_on_commit_callbacks):
    response = request_export(api, cast.diana, "campaign_report", {"campaign": campaign.pk},
                              run=django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "queued"  # answered before the run: the request never waits

    job = api.as_(cast.diana).get(f"{URL}{response.json()['id']}/").json()
    assert (job["status"], job["progress_percent"], job["error_code"]) == ("done", 100, "")
    assert job["progress_done"] == job["progress_total"] > 0
    assert job["download_url"].endswith(f"/api/v1/exports/{job['id']}/download/")
    assert job["expires_at"] is not None and job["filename"].endswith(".xlsx")

    download = api.as_(cast.diana).get(job["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    text = b"".join(download.streaming_content).decode()
    assert f"user,diana\nlanguage,en\ncampaign,{campaign.pk}\n" == text


def test_the_job_runs_in_the_language_its_requester_asked_in(
        cast, api, campaign, tiny_builders, django_capture_on_commit_callbacks):
    response = request_export(api, cast.diana, "campaign_report", {"campaign": campaign.pk},
                              run=django_capture_on_commit_callbacks, language="zh-hans")
    job = job_of(response)
    assert job.language == "zh-hans"
    with default_storage.open(job.file) as handle:
        assert b"language,zh-hans" in handle.read()


def test_only_the_requester_downloads_and_each_download_is_audited(
        cast, api, campaign, tiny_builders, django_capture_on_commit_callbacks):
    job = job_of(request_export(api, cast.diana, "campaign_report", {"campaign": campaign.pk},
                                run=django_capture_on_commit_callbacks))
    url = f"{URL}{job.public_id}/download/"
    for other in (cast.alice, cast.edgar, cast.olga, cast.root):  # a colleague, another school, an analyst, the operator
        assert api.as_(other).get(url).status_code == 404, other
        assert api.as_(other).get(f"{URL}{job.public_id}/").status_code == 404, other
    assert not AuditEvent.objects.filter(action="export", object_type="exports.ExportJob").exists()

    assert api.as_(cast.diana).get(url).status_code == 200
    assert api.as_(cast.diana).get(url).status_code == 200
    downloads = AuditEvent.objects.filter(action="export", object_type="exports.ExportJob", object_id=str(job.pk))
    assert downloads.count() == 2
    entry = downloads.first()
    assert entry is not None
    assert (entry.actor_username, entry.school_id) == ("diana", cast.dongshan.pk)
    assert entry.detail["kind"] == "campaign_report" and entry.detail["campaign"] == campaign.pk
    refused = AuditEvent.objects.filter(action="denied", object_type="exports.ExportJob", actor_username="alice")
    assert refused.exists()  # someone else's job: logged, and answered like a missing one


def forget_principal(user: Any) -> None:
    """principal_of keeps a user's reach on the object for the request; a test changing memberships
    between requests on the same object drops it."""
    user.__dict__.pop("_xinqiao_principal", None)


@pytest.mark.parametrize("change", ["membership ended", "classes changed"])
def test_a_file_is_not_handed_over_once_what_its_requester_may_see_changed(
        cast, api, client, campaign, tiny_builders, django_capture_on_commit_callbacks, change):
    from screening.directory.models import Membership

    who = cast.alice if change == "membership ended" else cast.carol
    job = job_of(request_export(api, who, "campaign_report", {"campaign": campaign.pk},
                                run=django_capture_on_commit_callbacks))
    url = f"{URL}{job.public_id}/download/"
    assert api.as_(who).get(url).status_code == 200
    membership = Membership.objects.get(user=who, school=cast.dongshan)
    if change == "membership ended":  # alice moves to Xishan
        membership.ends_on = timezone.localdate() - dt.timedelta(days=1)
        membership.save(update_fields=["ends_on"])
        Membership.objects.create(user=who, role="counsellor", school=cast.xishan)
    else:  # carol's classes: 7-2 instead of 7-1
        membership.classes.set([cast.ds_7_2])
    forget_principal(who)
    response = api.as_(who).get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "export_access_changed"
    assert api.as_(who).get(f"{URL}{job.public_id}/").json()["download_url"] is None
    client.force_login(who)
    client.cookies["django_language"] = "en"
    page = client.get("/exports/").content.decode()
    assert "Your access has changed since this export was made" in page and f"/exports/{job.public_id}/download/" not in page
    assert AuditEvent.objects.filter(action="export", object_type="exports.ExportJob").count() == 1


def test_the_job_list_holds_only_ones_own_jobs(cast, api, campaign, tiny_builders):
    mine = job_of(request_export(api, cast.diana, "campaign_report", {"campaign": campaign.pk}))
    request_export(api, cast.alice, "campaign_report", {"campaign": campaign.pk})
    listed = api.as_(cast.diana).get(URL).json()["results"]
    assert [row["id"] for row in listed] == [str(mine.public_id)]
    assert api.as_(cast.root).get(URL).json()["results"] == []  # the operator sees every row, lists only theirs
    assert api.as_(cast.lily).post(URL, {"kind": "kpis", "params": PERIOD}, format="json").status_code == 403


def test_a_missing_job_and_a_bad_id_are_not_found(cast, api):
    assert api.as_(cast.diana).get(f"{URL}00000000-0000-0000-0000-000000000000/").status_code == 404
    assert api.as_(cast.diana).get(f"{URL}not-a-uuid/download/").status_code == 404


def test_the_done_entry_of_the_audit_log_holds_what_the_builder_recorded(
        cast, api, campaign, tiny_builders, django_capture_on_commit_callbacks):
    job = job_of(request_export(api, cast.diana, "campaign_report", {"campaign": campaign.pk},
                                run=django_capture_on_commit_callbacks))
    entries = AuditEvent.objects.filter(object_type="exports.ExportJob", object_id=str(job.pk)).order_by("id")
    assert [(e.action, e.detail.get("status")) for e in entries] == [("create", None), ("update", "done")]
    assert entries.last().detail["rows"] == 3  # type: ignore[union-attr]


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "reason"), [("en", "The date is out of range."), ("zh-hans", "日期超出范围。")])
def test_a_builder_refusal_fails_the_job_with_its_reason_in_the_requesters_language(
        cast, api, campaign, export_storage, monkeypatch, django_capture_on_commit_callbacks, language, reason):
    use_builder(monkeypatch, "refusing_build")
    response = request_export(api, cast.diana, "campaign_report", {"campaign": campaign.pk},
                              run=django_capture_on_commit_callbacks, language=language)
    job = api.as_(cast.diana).get(f"{URL}{response.json()['id']}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert (job["status"], job["error_code"], job["error_message"]) == ("failed", "nothing_to_export", reason)
    assert job["download_url"] is None
    assert api.as_(cast.diana).get(f"{URL}{job['id']}/download/").status_code == 404


def test_a_crash_fails_the_job_with_a_generic_reason_and_logs_no_personal_data(
        cast, api, campaign, export_storage, monkeypatch, caplog, django_capture_on_commit_callbacks):
    use_builder(monkeypatch, "crashing_build")
    with caplog.at_level(logging.ERROR, logger="xinqiao.exports"):
        job = job_of(request_export(api, cast.diana, "campaign_report", {"campaign": campaign.pk},
                                    run=django_capture_on_commit_callbacks))
    assert (job.status, job.error_code) == ("failed", "export_failed")
    assert job.error_message == "The export could not be finished; the operators have been told."
    assert "RuntimeError" in caplog.text and "crashing_build" in caplog.text
    assert NAME not in caplog.text and "21" not in caplog.text
    assert not job.file and not (export_storage.exists() and any(export_storage.rglob("*.xlsx")))


# --- idempotency and validation ------------------------------------------------------------------


def test_a_doubled_request_with_the_same_key_returns_the_same_job(cast, api, campaign, tiny_builders):
    body = {"campaign": campaign.pk}
    first = request_export(api, cast.diana, "campaign_report", body, request_key="click-1")
    second = request_export(api, cast.diana, "campaign_report", body, request_key="click-1")
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert ExportJob.objects.count() == 1
    assert AuditEvent.objects.filter(action="create", object_type="exports.ExportJob").count() == 1

    other = request_export(api, cast.diana, "research_extract",
                           {"campaign": campaign.pk, "recipient": "大学", "purpose": "研究"}, request_key="click-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    # The key is the requester's: someone else's same key is their own request.
    third = request_export(api, cast.alice, "campaign_report", body, request_key="click-1")
    assert third.status_code == 202 and third.json()["id"] != first.json()["id"]


@pytest.mark.parametrize(("language", "required", "order"), [
    ("en", "This field is required.", "The last day cannot be before the first."),
    ("zh-hans", "该字段是必填项。", "结束日期不能早于开始日期。"),
])
def test_bad_parameters_get_field_messages_in_the_users_language(cast, api, language, required, order):
    missing = request_export(api, cast.diana, "campaign_report", {}, language=language)
    assert missing.status_code == 400
    assert missing.json()["error"]["fields"] == {"params.campaign": [required]}
    backwards = request_export(api, cast.diana, "kpis", {"since": "2025-12-01", "until": "2025-11-01"},
                               language=language)
    assert backwards.status_code == 400
    assert backwards.json()["error"]["fields"] == {"params.until": [order]}
    assert not ExportJob.objects.exists()


def test_other_bad_requests_are_400_with_the_field_named(cast, api, campaign):
    cases = [
        ({"kind": "everything", "params": {}}, "kind"),
        ({"kind": "campaign_report", "params": ["not", "an", "object"]}, "params"),
        ({"kind": "campaign_report", "params": {"campaign": "x"}}, "params.campaign"),
        ({"kind": "kpis", "params": {"since": "2025-13-01", "until": "2025-12-01"}}, "params.since"),
        ({"kind": "kpis", "params": {"since": "1900-01-01", "until": "2025-12-01"}}, "params.since"),
        ({"kind": "research_extract", "params": {"campaign": campaign.pk, "format": "pdf", "recipient": "r",
                                                 "purpose": "p"}}, "params.format"),
        ({"kind": "research_extract", "params": {"campaign": campaign.pk, "recipient": "r"}}, "params.purpose"),
    ]
    for body, field in cases:
        response = api.as_(cast.diana).post(URL, body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["error"]["fields"], (body, response.json())


def test_another_schools_campaign_does_not_exist_for_the_requester_and_the_attempt_is_logged(cast, api, campaign):
    response = request_export(api, cast.bob, "campaign_report", {"campaign": campaign.pk})
    assert response.status_code == 400 and "params.campaign" in response.json()["error"]["fields"]
    assert AuditEvent.objects.filter(action="denied", object_type="campaigns.Campaign", actor_username="bob").exists()


@pytest.mark.parametrize(("who", "kind", "params", "expected"), [
    ("diana", "research_extract", "research", 202),
    ("alice", "research_extract", "research", 403),   # counsellors: no research extracts
    ("alice", "campaign_report", "campaign", 202),
    ("carol", "campaign_report", "campaign", 202),    # a class-limited counsellor: their classes' report
    ("alice", "kpis", "period", 403),
    ("alice", "bureau_aggregate", "period", 403),
    ("diana", "bureau_aggregate", "period", 403),
    ("olga", "bureau_aggregate", "term", 202),
    ("olga", "bureau_aggregate", "west", 400),       # not her region (tests/exports/test_differencing.py)
    ("olga", "kpis", "dongshan", 400),               # a school in her region: never one school alone
    ("olga", "kpis", "xishan", 400),              # outside her reach: no such school
    ("olga", "campaign_report", "campaign", 403),
    ("edgar", "kpis", "dongshan", 400),
    ("diana", "kpis", "dongshan", 202),
    ("lily", "campaign_report", "campaign", 403),
])
def test_who_may_request_which_export(cast, api, campaign, tiny_builders, who, kind, params, expected):
    shapes = {
        "campaign": {"campaign": campaign.pk},
        "research": {"campaign": campaign.pk, "format": "csv", "recipient": "某大学课题组", "purpose": "横断面研究"},
        "period": PERIOD,
        "term": {"school_year": 2025, "term": "autumn"},
        "west": {"school_year": 2025, "term": "autumn", "region": cast.west.pk},
        "dongshan": {**PERIOD, "school": cast.dongshan.pk},
        "xishan": {**PERIOD, "school": cast.xishan.pk},
    }
    response = request_export(api, getattr(cast, who), kind, shapes[params])
    assert response.status_code == expected, response.json()


def test_kpis_without_a_school_are_the_one_school_a_head_of_centre_heads(cast, api, tiny_builders):
    job = job_of(request_export(api, cast.diana, "kpis", PERIOD))
    assert job.params == {**PERIOD, "school": cast.dongshan.pk, "region": None}
    assert job.school_id == cast.dongshan.pk
    both = request_export(api, cast.olga, "kpis", {**PERIOD, "school": cast.dongshan.pk, "region": cast.east.pk})
    assert both.status_code == 400 and "params.region" in both.json()["error"]["fields"]
    analyst = job_of(request_export(api, cast.olga, "kpis", PERIOD))
    assert analyst.params["school"] is None and analyst.params["region"] == cast.east.pk  # her one region


def test_a_research_extract_as_csv_is_a_csv_file(cast, api, campaign, tiny_builders, django_capture_on_commit_callbacks):
    params = {"campaign": campaign.pk, "format": "csv", "recipient": "某大学课题组", "purpose": "横断面研究"}
    job = job_of(request_export(api, cast.diana, "research_extract", params, run=django_capture_on_commit_callbacks))
    assert job.status == "done" and job.filename.endswith(".csv") and job.content_type.startswith("text/csv")
    download = api.as_(cast.diana).get(f"{URL}{job.public_id}/download/")
    assert download["Content-Type"].startswith("text/csv")
    entry = AuditEvent.objects.filter(action="create", object_type="exports.ExportJob").get()
    assert entry.detail == {"kind": "research_extract", "campaign": campaign.pk, "format": "csv",
                            "recipient": "某大学课题组"}  # never the free-text purpose


# --- progress ------------------------------------------------------------------------------------


def test_progress_is_written_at_most_twice_a_second_and_always_at_the_end(cast, campaign, tiny_builders):
    job = services.export_job_request(actor=cast.diana, kind="campaign_report", params={"campaign": campaign.pk})
    assert services._claim(job.pk, "run-1") is not None
    writer = services.ProgressWriter(job.pk, "run-1")
    writer(1, 10)
    writer(2, 10)  # too soon: not written
    job.refresh_from_db()
    assert (job.progress_done, job.progress_total, job.progress_percent) == (1, 10, 10)
    writer(10, 10)
    job.refresh_from_db()
    assert (job.progress_done, job.progress_percent) == (10, 99)  # 100 only once the file is kept


# --- expiry and the sweep ------------------------------------------------------------------------


def test_a_done_file_is_deleted_after_its_keeping_time(
        cast, api, campaign, tiny_builders, export_storage, time_machine, django_capture_on_commit_callbacks):
    time_machine.move_to(timezone.now(), tick=False)
    job = job_of(request_export(api, cast.diana, "campaign_report", {"campaign": campaign.pk},
                                run=django_capture_on_commit_callbacks))
    kept = export_storage / job.file
    assert kept.exists()
    assert job.expires_at == timezone.now() + dt.timedelta(hours=django_settings.XINQIAO_EXPORT_KEEP_HOURS)

    time_machine.shift(dt.timedelta(hours=django_settings.XINQIAO_EXPORT_KEEP_HOURS) - dt.timedelta(minutes=1))
    assert services.export_jobs_expire() == 0 and kept.exists()
    time_machine.shift(dt.timedelta(minutes=2))
    assert services.export_jobs_expire() == 1
    assert not kept.exists() and not kept.parent.exists()
    assert services.export_jobs_expire() == 0

    shown = api.as_(cast.diana).get(f"{URL}{job.public_id}/").json()
    assert (shown["status"], shown["expired"], shown["download_url"]) == ("done", True, None)
    gone = api.as_(cast.diana).get(f"{URL}{job.public_id}/download/")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "export_expired"


def test_a_file_whose_delete_fails_is_tried_again_at_the_next_run(
        cast, api, campaign, tiny_builders, export_storage, time_machine, django_capture_on_commit_callbacks,
        monkeypatch, caplog):
    time_machine.move_to(timezone.now(), tick=False)
    job = job_of(request_export(api, cast.diana, "campaign_report", {"campaign": campaign.pk},
                                run=django_capture_on_commit_callbacks))
    kept = export_storage / job.file
    time_machine.shift(dt.timedelta(hours=django_settings.XINQIAO_EXPORT_KEEP_HOURS, minutes=1))
    delete_file = services._delete_file

    def unavailable(name: str) -> None:  # the storage (an object store, a network share) is down
        raise OSError("storage unavailable")

    monkeypatch.setattr(services, "_delete_file", unavailable)
    with caplog.at_level(logging.ERROR, logger="xinqiao.exports"):
        assert services.export_jobs_expire() == 0
    job.refresh_from_db()
    assert job.file and job.deleted_at is None and kept.exists()  # the row still names the file
    assert "could not be deleted" in caplog.text
    monkeypatch.setattr(services, "_delete_file", delete_file)
    assert services.export_jobs_expire() == 1
    job.refresh_from_db()
    assert not job.file and job.deleted_at is not None and not kept.exists()


def test_a_job_whose_process_died_is_run_again_once_then_failed(
        cast, campaign, tiny_builders, time_machine, django_capture_on_commit_callbacks):
    time_machine.move_to(timezone.now(), tick=False)
    with translation_of("zh-hans"):
        job = services.export_job_request(actor=cast.diana, kind="campaign_report", params={"campaign": campaign.pk})
    assert services._claim(job.pk, "dies") is not None  # a run that started, then its process died
    time_machine.shift(services.LEASE - dt.timedelta(seconds=1))
    assert services.export_jobs_sweep() == {"requeued": 0, "failed": 0}  # the lease still holds

    time_machine.shift(dt.timedelta(seconds=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.export_jobs_sweep() == {"requeued": 1, "failed": 0}
    job.refresh_from_db()
    assert (job.status, job.runs) == ("done", 2)  # run again, to the end

    again = services.export_job_request(actor=cast.diana, kind="campaign_report", params={"campaign": campaign.pk},
                                        language="zh-hans")
    services._claim(again.pk, "dies")
    time_machine.shift(services.LEASE + dt.timedelta(seconds=1))
    services.export_jobs_sweep()
    services._claim(again.pk, "dies-again")
    time_machine.shift(services.LEASE + dt.timedelta(seconds=1))
    assert services.export_jobs_sweep() == {"requeued": 0, "failed": 1}
    again.refresh_from_db()
    assert (again.status, again.error_code) == ("failed", "export_interrupted")
    with translation_of("zh-hans"):
        assert again.error_message == str(services.INTERRUPTED)  # in the requester's language


def test_a_queued_job_nobody_ran_is_dispatched_again_then_failed(
        cast, campaign, tiny_builders, time_machine, django_capture_on_commit_callbacks):
    time_machine.move_to(timezone.now(), tick=False)
    job = services.export_job_request(actor=cast.diana, kind="campaign_report", params={"campaign": campaign.pk})
    time_machine.shift(services.QUEUE_WAIT + dt.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=False) as dispatched:
        assert services.export_jobs_sweep() == {"requeued": 1, "failed": 0}
    assert len(dispatched) == 1
    time_machine.shift(services.MAX_WAIT)
    assert services.export_jobs_sweep() == {"requeued": 0, "failed": 1}
    job.refresh_from_db()
    assert (job.status, job.error_code) == ("failed", "export_not_started")


def test_a_run_that_lost_its_lease_changes_nothing(cast, campaign, tiny_builders, export_storage):
    job = services.export_job_request(actor=cast.diana, kind="campaign_report", params={"campaign": campaign.pk})
    services._claim(job.pk, "old")
    ExportJob.objects.filter(pk=job.pk).update(lock_token="new")  # the sweep gave it to another run
    with pytest.raises(services.LeaseLost):
        services.ProgressWriter(job.pk, "old")(1, 2)
    job.refresh_from_db()
    assert services._build(job, "old") == "lost"
    job.refresh_from_db()
    assert (job.status, job.file) == ("running", "")
    assert not [p for p in export_storage.rglob("*") if p.is_file()] if export_storage.exists() else True


def test_a_job_is_run_once_however_often_it_is_dispatched(cast, campaign, tiny_builders):
    job = services.export_job_request(actor=cast.diana, kind="campaign_report", params={"campaign": campaign.pk})
    assert services.export_job_run(job_id=job.pk) == "done"
    assert services.export_job_run(job_id=job.pk) == "skipped"
    assert ExportJob.objects.get(pk=job.pk).runs == 1


def test_the_upkeep_runs_from_the_beat_schedule(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"exports.tasks.expire_exports", "exports.tasks.sweep_export_jobs"} <= tasks


# --- the embedded default: a background thread ---------------------------------------------------


@pytest.fixture
def readers_do_not_lock() -> Any:
    """The SQLite test database lives in memory with a shared cache, where a table being written
    refuses readers at once ("database table is locked") instead of waiting as the real database
    file (WAL, busy timeout) makes them. Reading uncommitted rows takes no read locks: the poller
    and the builder's thread then run side by side as they do on the real database."""
    if connection.vendor != "sqlite":
        yield
        return

    def relax(sender: Any, connection: Any, **kwargs: Any) -> None:
        connection.cursor().execute("PRAGMA read_uncommitted = 1")

    connection_created.connect(relax)
    connection.ensure_connection()
    relax(None, connection)
    yield
    connection_created.disconnect(relax)


@pytest.mark.django_db(transaction=True)
def test_on_the_embedded_default_a_background_thread_runs_the_job_while_the_request_returns(
        cast, api, monkeypatch, settings, export_storage, readers_do_not_lock):
    settings.XINQIAO_EXPORTS_INLINE = False
    settings.CELERY_BROKER_URL = ""
    use_builder(monkeypatch, "slow_build")
    campaign = launched_campaign(cast)
    response = request_export(api, cast.diana, "campaign_report", {"campaign": campaign.pk})
    assert response.status_code == 202
    assert ExportJob.objects.get().status != "done"  # the request did not wait for the build (2 seconds)
    seen = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = api.as_(cast.diana).get(f"{URL}{response.json()['id']}/").json()
        seen.add(job["status"])
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert job["status"] == "done", job
    assert "running" in seen and job["progress_percent"] == 100
    download = api.as_(cast.diana).get(job["download_url"])
    assert b"user,diana" in b"".join(download.streaming_content)
    connection.close()


# --- helpers -------------------------------------------------------------------------------------


def translation_of(language: str) -> Any:
    from django.utils import translation

    return translation.override(language)


# --- the real builders, end to end ---------------------------------------------------------------


@pytest.mark.parametrize(("kind", "params"), [("campaign_report", "campaign"), ("kpis", "period")])
def test_the_real_builders_run_as_jobs(cast, api, campaign, export_storage, django_capture_on_commit_callbacks,
                                       kind, params):
    from django.utils.module_loading import import_string

    from exports.kinds import KINDS

    try:
        import_string(KINDS[kind].builder)
    except ImportError:
        pytest.skip(f"{KINDS[kind].builder} is not written yet")
    openpyxl = pytest.importorskip("openpyxl")
    shapes = {"campaign": {"campaign": campaign.pk}, "period": PERIOD}
    job = job_of(request_export(api, cast.diana, kind, shapes[params], run=django_capture_on_commit_callbacks))
    assert (job.status, job.error_message) == ("done", "")
    download = api.as_(cast.diana).get(f"{URL}{job.public_id}/download/")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content)), read_only=True)
    assert book.sheetnames
