"""A campaign report requested, watched and downloaded on a 360-px phone, by keyboard, in Debian's
Chromium; and the job out of reach of a counsellor of another school.

Dongshan's autumn screening has results (hamlet red, hilda yellow); a spring one opens next week.
Diana, head of Dongshan's psychological centre, signs in, reaches Exports from the main menu with
Tab and Enter, picks the autumn campaign with the arrow keys and sends the form with Enter. The job
runs as on the embedded default (no broker): in a background thread of the server. Two gates hold it
at the points a user could otherwise miss in a blink: queued, then running with part of its progress
written. The row on the page goes from queued to running to done on its own (htmx polls it), without
the page loading again, and then offers the file. The workbook has its sheets, the Summary its
charts, and the flagged sheet hamlet's row. The page is read once more in zh-Hans. Bob, counsellor at
Xishan, gets 404 for the job and its file, finds nothing of it on his Exports page, and a forged
request for Dongshan's campaign comes back as a form error. No page scrolls sideways, and no page
throws a script error.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.utils import timezone

from exports import services, tasks
from exports.models import ExportJob
from screening.campaigns.services import campaign_create, campaign_launch
from screening.core.models import AuditEvent
from tests.browser.test_counsellor_workspace import assert_fits, expect, phone  # noqa: F401 (a fixture)
from tests.browser.test_referral_loop import sign_in
from tests.campaigns.campaign_test_helpers import campaign_open
from tests.cases.case_helpers import flag
from tests.conftest import Cast
from tests.exports.export_job_helpers import keep_files_in
from tests.exports.test_jobs import readers_do_not_lock  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POLLED_MS = 10_000  # five of the row's polls: what htmx shows by itself (expect's own default is 5 s)
GATE_SECONDS = 30  # a gate nobody opens lets the job go on by itself, and the test fails on what it sees
SHEETS = ["Summary", "初一(1)班", "初一(2)班", "Item statistics", "Flagged students"]
# participation, student's consent, guardian's consent, PHQ-9, ASQ, tiers (as tests/exports/test_campaign_report.py)
SUMMARY_CHARTS = 6


class Gates:
    """Where the background run waits for the test: before it claims the job (``start``: the job
    stays queued) and after its first progress write between 0 and 100 % (``midway``: it is running)."""

    def __init__(self) -> None:
        self.start, self.midway = threading.Event(), threading.Event()
        self.at_midway = threading.Event()  # the run has written its progress and waits

    def wait_at_midway(self) -> None:
        assert self.at_midway.wait(GATE_SECONDS), "the run never reached its first progress report"

    def open_all(self) -> None:
        self.start.set()
        self.midway.set()


@pytest.fixture
def gates(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path,
          readers_do_not_lock: Any) -> Iterator[Gates]:  # noqa: F811
    """Jobs run as on the embedded default (a daemon thread of the server, no broker), held at the
    gates; kept files go to a temporary folder. Every gate opens and every run ends before teardown."""
    settings.XINQIAO_EXPORTS_INLINE = False
    settings.CELERY_BROKER_URL = ""
    keep_files_in(settings, tmp_path / "media")
    held = Gates()
    run_in_thread = tasks._run_in_thread

    def waiting_run(job_id: int) -> None:
        held.start.wait(GATE_SECONDS)
        run_in_thread(job_id)

    class PausingProgress(services.ProgressWriter):
        paused = False

        def __call__(self, done: int, total: int) -> None:
            super().__call__(done, total)  # the first report is always written
            if not self.paused and 0 < done < total:
                self.paused = True
                held.at_midway.set()
                held.midway.wait(GATE_SECONDS)

    monkeypatch.setattr(tasks, "_run_in_thread", waiting_run)
    monkeypatch.setattr(services, "ProgressWriter", PausingProgress)
    yield held
    held.open_all()
    for thread in threading.enumerate():
        if thread.name.startswith("xinqiao-export-"):
            thread.join(GATE_SECONDS)


def tab_to(page: Any, target: Any, presses: int = 80) -> None:
    """Press Tab until ``target`` has the focus, as a keyboard user does."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    pytest.fail(f"{target} was not reached with {presses} presses of Tab")


def status_of(page: Any, url: str) -> int:
    """The status the page answered with when opened at ``url``."""
    response = page.goto(url)
    return int(response.status)


def test_a_head_of_centre_watches_her_campaign_report_being_made_and_downloads_it(
    live_server: Any, transactional_db: Any, cast: Cast, phone: Any, gates: Gates, tmp_path: Path,  # noqa: F811
) -> None:
    base = live_server.url
    autumn = campaign_open(cast)
    flag(cast, cast.hamlet, "red", autumn)
    flag(cast, cast.hilda, "yellow", autumn)
    next_week = timezone.now() + dt.timedelta(days=7)
    spring = campaign_create(actor=cast.diana, school=cast.dongshan, name="春季心理筛查", instruments=["phq9"],
                             target_classes=[cast.ds_7_2], opens_at=next_week,
                             closes_at=next_week + dt.timedelta(days=14))
    campaign_launch(actor=cast.diana, campaign=spring)
    campaign_open(cast, school=cast.xishan)  # bob's own campaign, the one his form offers

    # --- diana reaches Exports and requests the report by keyboard -------------------------------------
    sign_in(phone, base, "diana")
    tab_to(phone, phone.get_by_role("navigation", name="Main").get_by_role("link", name="Exports"))
    phone.keyboard.press("Enter")
    phone.wait_for_url(f"{base}/exports/")
    expect(phone.locator("main")).to_contain_text("You have not requested any export yet.")
    assert_fits(phone)
    form = phone.locator("#request-campaign_report form")
    choice = form.get_by_label("Campaign")
    expect(choice).to_have_value(str(spring.pk))  # the newest comes first
    tab_to(phone, choice)
    phone.keyboard.press("ArrowDown")
    expect(choice).to_have_value(str(autumn.pk))
    tab_to(phone, form.get_by_role("button", name="Request this export"))
    phone.keyboard.press("Enter")
    phone.wait_for_url(f"{base}/exports/")
    expect(phone.locator(".messages")).to_contain_text("The export was requested.")
    job = ExportJob.objects.get(requested_by=cast.diana)
    assert (job.kind, job.params, job.language) == ("campaign_report", {"campaign": autumn.pk}, "en")
    phone.evaluate("window.stillTheSamePage = true")

    # --- the row goes queued → running → done by itself --------------------------------------------------
    row = phone.locator(f"#job-{job.public_id}")
    expect(row).to_have_attribute("data-status", "queued")
    expect(row).to_have_attribute("hx-trigger", "every 2s")
    expect(row.locator(".badge")).to_have_text("queued")
    expect(row.locator("[data-percent]")).to_have_text("0%")
    expect(row).to_contain_text("Being prepared…")
    expect(row).to_contain_text("Campaign report")
    expect(row).to_contain_text("秋季心理筛查")
    assert_fits(phone)

    gates.start.set()
    gates.wait_at_midway()
    job.refresh_from_db()
    assert job.status == "running" and 0 < job.progress_percent < 100, (job.status, job.progress_percent)
    expect(row).to_have_attribute("data-status", "running", timeout=POLLED_MS)
    expect(row.locator(".badge")).to_have_text("running")
    expect(row.locator("[data-percent]")).to_have_text(f"{job.progress_percent}%", timeout=POLLED_MS)
    expect(row.locator("progress")).to_have_attribute("value", str(job.progress_percent))
    expect(row.get_by_role("link", name="Download")).to_have_count(0)

    gates.midway.set()
    expect(row).to_have_attribute("data-status", "done", timeout=POLLED_MS)
    expect(row.locator(".badge")).to_have_text("done")
    expect(row.locator("[data-percent]")).to_have_text("100%")
    download_link = row.get_by_role("link", name="Download")
    expect(download_link).to_be_visible()
    expect(row).not_to_have_attribute("hx-get", re.compile(".*"))  # it stops polling
    assert phone.evaluate("window.stillTheSamePage") is True  # no page load: htmx swapped the row
    assert_fits(phone)

    # --- the file: its sheets, the Summary's charts, the flagged rows ------------------------------------
    tab_to(phone, download_link)
    with phone.expect_download() as pending:
        phone.keyboard.press("Enter")
    download = pending.value
    assert re.fullmatch(r"xinqiao-campaign-report-\d{8}-\d{6}\.xlsx", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    book = openpyxl.load_workbook(saved)
    assert book.sheetnames == SHEETS
    assert len(book["Summary"]._charts) == SUMMARY_CHARTS
    with zipfile.ZipFile(saved) as archive:
        charts = [name for name in archive.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", name)]
    assert len(charts) == SUMMARY_CHARTS
    flagged = [line[0] for line in book["Flagged students"].iter_rows(values_only=True)]
    assert "D0001" in flagged and "D0002" in flagged

    # --- the same page in zh-Hans -------------------------------------------------------------------------
    tab_to(phone, phone.locator("#lang-select"))
    phone.keyboard.press("Home")  # 简体中文 is the first language
    tab_to(phone, phone.locator("form.lang button[type=submit]"))
    phone.keyboard.press("Enter")
    expect(phone.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(phone.locator("main h2").first).to_have_text("我的导出")
    expect(row.locator(".badge")).to_have_text("已完成")
    expect(row.get_by_role("link", name="下载")).to_be_visible()
    expect(row).to_contain_text("筛查活动报告")
    assert_fits(phone)
    assert phone.script_errors == []

    # --- bob, at Xishan: nothing of it is his ----------------------------------------------------------------
    sign_in(phone, base, "bob")
    assert status_of(phone, f"{base}/exports/{job.public_id}/") == 404
    assert status_of(phone, f"{base}/exports/{job.public_id}/download/") == 404
    assert status_of(phone, f"{base}/exports/") == 200
    expect(phone.locator("main")).to_contain_text("You have not requested any export yet.")
    expect(phone.locator(f"#job-{job.public_id}")).to_have_count(0)
    form = phone.locator("#request-campaign_report form")
    choice = form.get_by_label("Campaign")
    expect(choice.locator("option")).to_have_count(1)
    expect(choice).not_to_contain_text(cast.dongshan.name)
    # A forged request: the one option is made to name Dongshan's campaign.
    choice.evaluate("(select, pk) => { select.options[0].value = pk; }", str(autumn.pk))
    tab_to(phone, form.get_by_role("button", name="Request this export"))
    with phone.expect_navigation() as sent:
        phone.keyboard.press("Enter")
    assert sent.value.status == 400
    expect(phone.locator("#campaign_report-campaign-error")).to_contain_text("Select a valid choice")
    assert cast.dongshan.name not in phone.content()
    assert not ExportJob.objects.filter(requested_by=cast.bob).exists()
    assert AuditEvent.objects.filter(actor_id=cast.bob.pk, action="denied", object_type="campaigns.Campaign",
                                     object_id=str(autumn.pk)).exists()  # the attempt is in the log
    assert_fits(phone)
    assert phone.script_errors == []

