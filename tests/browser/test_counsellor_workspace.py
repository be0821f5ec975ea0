"""A counsellor's work on a red case, on a 360-px phone in Debian's Chromium.

Hamlet's second screening is red (his first, a term before, was yellow). Alice signs in, finds
him at the top of her queue with an open red alert, opens the case and acknowledges the alert;
opens his file and sees the PHQ-9 trend drawn as an SVG; records a face-to-face contact with a
note (stored encrypted: the raw column does not hold the words); creates the follow-up plan with
one press of the button; and closes the case with a reason. No page scrolls sideways, and no page
throws a script error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from screening.campaigns.models import CrisisAlert
from screening.cases.models import Case, Contact, FollowUp
from screening.cases.services import work
from tests.cases.case_helpers import flag
from tests.conftest import STAFF_PASSWORD, Cast

# Playwright's sync API runs an event loop in this thread; the ORM calls made by the test and the
# live server are still synchronous, so Django's async-safety check is turned off here only.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

PHONE = {"width": 360, "height": 740}
TIMEOUT_MS = 20_000
NOTE = "谈到考试压力和失眠，同意每周见面"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A phone-sized touch page in English, collecting script errors."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-GB",
                                  extra_http_headers={"Accept-Language": "en-GB,en;q=0.9"})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.script_errors = []
    page.on("pageerror", lambda exc: page.script_errors.append(str(exc)))
    yield page
    context.close()


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def assert_fits(page: Any) -> None:
    """Nothing on the page is wider than the phone: no sideways scrolling."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"{page.url} is {width}px wide on a {PHONE['width']}px phone"


def raw_note(contact_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT note FROM cases_contact WHERE id = %s", [contact_id])
        row = cursor.fetchone()
    return str(row[0])


def test_a_counsellor_acknowledges_reads_the_file_records_plans_and_closes(
    live_server: Any, transactional_db: Any, cast: Cast, phone: Any,
) -> None:
    base = live_server.url
    flag(cast, cast.hamlet, "yellow")
    flag(cast, cast.hamlet, "red")
    case = Case.objects.get(student=cast.hamlet)
    alert = CrisisAlert.objects.get(student=cast.hamlet)

    # --- alice signs in and opens her queue -----------------------------------------------------------
    phone.goto(f"{base}/login/")
    phone.fill("#id_username", "alice")
    phone.fill("#id_password", STAFF_PASSWORD)
    phone.keyboard.press("Enter")
    phone.wait_for_url(f"{base}/home/")
    phone.locator("nav").get_by_role("link", name="Cases", exact=True).tap()
    phone.wait_for_url(f"{base}/cases/")
    row = phone.locator(f'tr[data-case="{case.pk}"]')
    expect(row).to_contain_text(cast.hamlet.name)
    expect(row).to_contain_text("Open red alert")
    expect(row.locator(".tier-badge")).to_have_text("red")
    assert_fits(phone)

    # --- (1) the case: acknowledge the red alert -----------------------------------------------------
    row.get_by_role("link", name=cast.hamlet.name).tap()
    phone.wait_for_url(f"{base}/cases/{case.pk}/")
    expect(phone.locator(".alert-banner").first).to_contain_text("Open red alert")
    assert_fits(phone)
    phone.locator(".alert-banner").get_by_role("button", name="Acknowledge").tap()
    expect(phone.locator(".messages")).to_contain_text("You acknowledged the red alert")
    expect(phone.locator("main")).to_contain_text("Acknowledged by alice")
    alert.refresh_from_db()
    assert alert.acknowledged_by == cast.alice and alert.acknowledged_at is not None

    # --- (2) the student's file: the PHQ-9 trend is an inline SVG -----------------------------------
    phone.get_by_role("link", name="The student's file").tap()
    phone.wait_for_url(f"{base}/students/{cast.hamlet.public_id}/")
    chart = phone.locator('figure[data-instrument="phq9"] svg')
    expect(chart).to_be_visible()
    expect(chart.locator("circle")).to_have_count(2)
    expect(chart.locator("polyline")).to_have_count(1)
    assert_fits(phone)
    phone.locator("#cases").locator("xpath=following-sibling::ul[1]").get_by_role("link").first.tap()
    phone.wait_for_url(f"{base}/cases/{case.pk}/")

    # --- (3) a face-to-face contact with a note ---------------------------------------------------------
    form = phone.locator("#contact form")
    expect(form.get_by_label("contact with the student")).to_be_checked()
    expect(form.get_by_label("face to face")).to_be_checked()
    form.get_by_label("class teacher").check()
    form.get_by_label("confirmed need (intervention or referral)").check()
    form.get_by_label("Note").fill(NOTE)
    form.get_by_role("button", name="Record the contact").tap()
    expect(phone.locator(".messages")).to_contain_text("The contact was recorded.")
    expect(phone.locator("ol.timeline")).to_contain_text(NOTE)
    contact = Contact.objects.get(case=case)
    assert contact.participants == ["student", "class_teacher"] and contact.outcome == "confirmed_need"
    stored = raw_note(contact.pk)
    assert NOTE not in stored and "考试" not in stored  # encrypted at rest
    assert Contact.objects.get(pk=contact.pk).note == NOTE
    assert_fits(phone)

    # --- (4) the follow-up plan in one press ------------------------------------------------------------
    suggested = work.follow_up_suggest(case=case)
    phone.locator("#plan").get_by_role("button", name="Save the plan").tap()
    expect(phone.locator(".messages")).to_contain_text("The follow-up plan was saved.")
    assert list(FollowUp.objects.filter(case=case).values_list("due_on", flat=True)) == suggested
    case.refresh_from_db()
    assert case.status == "monitoring"
    expect(phone.locator("main")).to_contain_text("monitoring")

    # --- (5) close with a reason ----------------------------------------------------------------------
    close = phone.locator("#close form")
    close.get_by_label("Reason for closing").select_option("support_completed")
    close.get_by_role("button", name="Close the case").tap()
    expect(phone.locator(".messages")).to_contain_text("The case was closed.")
    case.refresh_from_db()
    assert (case.status, case.close_reason, case.closed_by) == ("closed", "support_completed", cast.alice)
    assert FollowUp.objects.filter(case=case, status="planned").count() == 0
    expect(phone.locator("#contact")).to_have_count(0)
    assert_fits(phone)
    assert phone.script_errors == []
