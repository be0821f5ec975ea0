"""Sign-in on a 360-px phone, by keyboard, in Debian's Chromium: a student and a counsellor."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ACCESS_CODE, STAFF_PASSWORD, Cast

# Playwright's sync API runs an event loop in this thread; the ORM calls made by the fixtures and
# the live server are still synchronous, so Django's async-safety check is turned off here only.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

PHONE = {"width": 360, "height": 740}
SCREENSHOT = "/tmp/xq-shot.png"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A phone-sized page whose browser asks for Chinese first, as most of our users' do."""
    context = browser.new_context(viewport=PHONE, locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def fits_the_phone(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_student_signs_in_by_keyboard_and_sees_their_home(live_server: Any, transactional_db: Any, cast: Cast, phone: Any) -> None:
    phone.goto(f"{live_server.url}/student/login/")
    assert phone.locator("html").get_attribute("lang") == "zh-Hans"
    # The school-code field has focus on arrival; everything else is reached with Tab.
    phone.keyboard.type("DSJH")
    phone.keyboard.press("Tab")
    phone.keyboard.type("D0001")
    phone.keyboard.press("Tab")
    phone.keyboard.type(ACCESS_CODE)
    phone.keyboard.press("Enter")
    phone.wait_for_url(f"{live_server.url}/home/")
    main = phone.locator("main")
    assert "韩小明" in main.inner_text()
    assert "东山初级中学" in main.inner_text() and "初一(1)班" in main.inner_text()
    assert "何小丽" not in phone.content()
    assert fits_the_phone(phone)


def test_counsellor_signs_in_sees_her_students_and_switches_to_english(
    live_server: Any, transactional_db: Any, cast: Cast, phone: Any
) -> None:
    phone.goto(f"{live_server.url}/login/")
    for label_for, value in (("id_username", "alice"), ("id_password", STAFF_PASSWORD)):
        # Every input has a label tied to it.
        assert phone.locator(f"label[for={label_for}]").count() == 1
        phone.fill(f"#{label_for}", value)
    phone.keyboard.press("Enter")
    phone.wait_for_url(f"{live_server.url}/home/")
    results = phone.locator("#student-results")
    assert "韩小明" in results.inner_text() and "何小丽" in results.inner_text()
    assert "陈可儿" not in phone.content()

    # Search refreshes the list in place (htmx), without a page load.
    phone.fill("#id_q", "D0001")
    phone.wait_for_function("!document.querySelector('#student-results').innerText.includes('何小丽')")
    assert "韩小明" in phone.locator("#student-results").inner_text()

    # Focus is visible: the focused search box draws an outline.
    phone.focus("#id_q")
    assert phone.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    assert fits_the_phone(phone)
    phone.screenshot(path=SCREENSHOT, full_page=True)

    phone.select_option("#lang-select", "en")
    phone.click("form.lang button[type=submit]")
    phone.wait_for_load_state()
    assert phone.locator("html").get_attribute("lang") == "en"
    assert phone.get_by_role("button", name="Sign out").is_visible()
    assert "韩小明" in phone.locator("#student-results").inner_text()
