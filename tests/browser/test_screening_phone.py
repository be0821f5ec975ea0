"""A whole screening on a 360-px touch phone, in zh-Hans and in en, in Debian's Chromium.

Hamlet (12, class 7-1 at Dongshan) needs his guardian's consent. The guardian opens the e-mailed
link and consents; hamlet signs in, agrees on the first page and answers part of the GAD-7 by
tapping the option labels (each tap saves the draft through htmx); on another phone (a fresh
browser context, no shared cookies) he signs in again, finds those answers in place, finishes,
answers the ASQ with an acute set (item 1 yes, 2-4 no, then item 5, which appears only after a
positive answer, yes), reviews and submits, and is shown the crisis page with every line to call.
No page scrolls sideways, and no page throws a script error.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

import scoring
from screening.campaigns.models import Assignment, ConsentRecord, CrisisAlert, GuardianInvitation, Submission
from screening.campaigns.services import campaign_create, campaign_launch
from screening.campaigns.services.consent import guardian_invitation_for_token
from tests.conftest import ACCESS_CODE, Cast

# Playwright's sync API runs an event loop in this thread; the ORM calls made by the test and the
# live server are still synchronous, so Django's async-safety check is turned off here only.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

PHONE = {"width": 360, "height": 740}
TIMEOUT_MS = 20_000
CAMPAIGN = "秋季心理筛查"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# GAD-7 (8 items: the seven, then how difficult) and the ASQ. Values are the stored answers.
FIRST_PHONE = {"1": 1, "2": 0, "3": 2, "4": 1}  # answered on the first phone
SECOND_PHONE = {"5": 0, "6": 1, "7": 0, "8": 1}  # answered after resuming on the second
ASQ_ACUTE = {"1": True, "2": False, "3": False, "4": False, "5": True}

# What each language must show: the browser's locale and the words on the pages.
LANGUAGES: dict[str, dict[str, str]] = {
    "zh-hans": {
        "html_lang": "zh-Hans", "locale": "zh-CN", "accept": "zh-CN,zh;q=0.9", "other_link": "English",
        "other_html_lang": "en", "own_link": "中文",
        "guardian_title": "心理健康筛查知情同意", "consent": "我同意", "consented": "您已表示同意，谢谢您。",
        "school_code": "学校代码", "number": "学号", "access_code": "登录码", "sign_in": "登录",
        "start": "开始", "continue": "继续", "agree": "我同意，开始吧", "saved": "已保存", "next": "下一页",
        "review": "检查你的回答", "all_answered": "你已经回答了所有问题。", "submit": "提交我的回答",
        "crisis_title": "谢谢你告诉我们", "crisis_heading": "你不必独自面对",
        "school_line": "你们学校的24小时热线", "hotline": "心理援助热线（24小时）",
        "police": "如果你现在有危险，请报警", "ambulance": "如果你受伤或现在有危险，请呼叫急救",
        "hospital": "康宁医院", "home": "返回首页",
    },
    "en": {
        "html_lang": "en", "locale": "en-GB", "accept": "en-GB,en;q=0.9", "other_link": "中文",
        "other_html_lang": "zh-Hans", "own_link": "English",
        "guardian_title": "Your consent to a wellbeing screening", "consent": "I consent",
        "consented": "You have consented. Thank you.",
        "school_code": "School code", "number": "Student number", "access_code": "Access code", "sign_in": "Sign in",
        "start": "Start", "continue": "Continue", "agree": "I agree, let's start", "saved": "Saved", "next": "Next",
        "review": "Check your answers", "all_answered": "You have answered every question.",
        "submit": "Submit my answers",
        "crisis_title": "Thank you for telling us", "crisis_heading": "You do not have to face this alone",
        "school_line": "Your school's 24-hour line", "hotline": "Psychological assistance hotline (24 hours)",
        "police": "Police, if you are in danger now", "ambulance": "Ambulance, if you are hurt or in danger now",
        "hospital": "Kangning Hospital", "home": "Back to your home page",
    },
}


# --- the browser ---------------------------------------------------------------------------------


class Phones:
    """New phones on demand (each a fresh browser context: no cookies shared), all closed at the end.
    Every page's script errors are collected, so the test can say there were none."""

    def __init__(self, browser: Any, words: dict[str, str]):
        self.browser, self.words = browser, words
        self.contexts: list[Any] = []
        self.script_errors: list[str] = []

    def new(self) -> Any:
        context = self.browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, locale=self.words["locale"],
            extra_http_headers={"Accept-Language": self.words["accept"]},
        )
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.script_errors.append(str(exc)))
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def phones(browser: Any, request: Any) -> Iterator[Any]:
    def make(words: dict[str, str]) -> Phones:
        made = Phones(browser, words)
        request.addfinalizer(made.close)
        return made

    yield make


# --- helpers -------------------------------------------------------------------------------------


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def assert_fits(page: Any) -> None:
    """Nothing on the page is wider than the phone: no sideways scrolling."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"{page.url} is {width}px wide on a {PHONE['width']}px phone"


def assert_language(page: Any, words: dict[str, str]) -> None:
    expect(page.locator("html")).to_have_attribute("lang", words["html_lang"])


def texts(code: str, language: str) -> Any:
    return scoring.item_texts(code, "en" if language == "en" else "zh-hans")


def option_label(code: str, item_id: str, value: Any, language: str) -> str:
    item = next(i for i in scoring.instrument(code).items if i.id == item_id)
    label = texts(code, language).option_label(item.options.name, value)
    assert label, f"{code} item {item_id} has no label for {value!r} in {language}"
    return str(label)


def question(page: Any, code: str, item_id: str, language: str) -> Any:
    """The question's fieldset, found by its legend (the question's text), as a screen reader would."""
    text = texts(code, language).item(item_id)
    assert text, f"{code} item {item_id} has no text in {language}"
    return page.get_by_role("group", name=text)


def tap_answer(page: Any, code: str, item_id: str, value: Any, language: str) -> None:
    """Tap the option's label (a large touch target) and wait for the htmx draft save it triggers."""
    group = question(page, code, item_id, language)
    label_text = option_label(code, item_id, value, language)
    label = group.get_by_text(label_text, exact=True).locator("xpath=ancestor::label[1]")
    box = label.bounding_box()
    assert box is not None and box["height"] >= 44, f"{code} item {item_id}: touch target {box}"
    with page.expect_response(lambda r: r.url.endswith("/draft/") and r.request.method == "POST") as saved:
        label.tap()
    assert saved.value.ok, f"draft save answered {saved.value.status}"
    expect(group.get_by_label(label_text, exact=True)).to_be_checked()


def sign_in(page: Any, base: str, words: dict[str, str]) -> None:
    page.goto(f"{base}/student/login/")
    assert_language(page, words)
    assert_fits(page)
    page.get_by_label(words["school_code"], exact=True).fill("DSJH")
    page.get_by_label(words["number"], exact=True).fill("D0001")
    page.get_by_label(words["access_code"], exact=True).fill(ACCESS_CODE)
    page.get_by_role("button", name=words["sign_in"], exact=True).tap()
    page.wait_for_url(f"{base}/home/")
    assert_language(page, words)
    assert_fits(page)


def open_screening(page: Any, action: str) -> None:
    """From the student's home page, the screening's button (Start or Continue), whose accessible
    name carries the screening's name (the flex layout puts a space before the colon)."""
    name = re.compile(rf"^{re.escape(action)}\s*:\s*{re.escape(CAMPAIGN)}$")
    page.locator("main").get_by_role("link", name=name).tap()


def guardian_link_in(outbox: Any, invitation: GuardianInvitation, base: str) -> str:
    """The link in the e-mail sent to hamlet's guardian. Every guardian in the cast shares one
    address, so the link is told apart by the invitation its signed token names (the token is
    timestamped: a link made again later is a different string)."""
    links = [m for message in outbox for m in re.findall(rf"{re.escape(base)}/consent/[^/\s]+/", message.body)]
    assert links, "no guardian e-mail carries a link to this server"
    ours = [link for link in links if guardian_invitation_for_token(link.rstrip("/").rsplit("/", 1)[1]).pk == invitation.pk]
    assert len(ours) == 1, f"{len(ours)} e-mails carry hamlet's guardian's link"
    return ours[0]


def draft_of(assignment: Assignment) -> dict[str, Any]:
    return dict(Assignment.objects.get(pk=assignment.pk).draft or {})


# --- the test ------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_guardian_consents_then_the_student_answers_on_two_phones_and_sees_the_crisis_lines(
    live_server: Any, transactional_db: Any, cast: Cast, settings: Any, mailoutbox: Any, phones: Any, language: str,
) -> None:
    words = LANGUAGES[language]
    base = live_server.url
    settings.XINQIAO_PUBLIC_URL = base  # the guardian's e-mail links to this server
    cast.dongshan.partner_hospital = cast.kangning
    cast.dongshan.save(update_fields=["partner_hospital"])

    # Diana launches a GAD-7 + ASQ screening for classes 7-1 and 7-2; the guardians are e-mailed.
    now = timezone.now()
    campaign = campaign_create(
        actor=cast.diana, school=cast.dongshan, name=CAMPAIGN, instruments=["gad7", "asq"],
        target_classes=[cast.ds_7_1, cast.ds_7_2], opens_at=now - dt.timedelta(hours=1),
        closes_at=now + dt.timedelta(days=7),
    )
    campaign_launch(actor=cast.diana, campaign=campaign)
    assignment = Assignment.objects.get(campaign=campaign, student=cast.hamlet)
    invitation = GuardianInvitation.objects.get(assignment=assignment)
    link = guardian_link_in(mailoutbox, invitation, base)
    devices = phones(words)

    # --- the guardian, on their own phone, opens the link and consents ---------------------------
    guardian = devices.new()
    guardian.goto(link)
    assert_language(guardian, words)
    expect(guardian.get_by_role("heading", level=1)).to_have_text(words["guardian_title"])
    main = guardian.locator("main")
    expect(main).to_contain_text(cast.dongshan.name)
    expect(main).to_contain_text(CAMPAIGN)
    expect(main).to_contain_text(cast.ds_7_1.name)
    assert cast.hamlet.name not in guardian.content()  # the link names the class, never the child
    assert_fits(guardian)
    # The page's own language links switch both ways and keep the link's address.
    guardian.get_by_role("link", name=words["other_link"], exact=True).tap()
    expect(guardian.locator("html")).to_have_attribute("lang", words["other_html_lang"])
    guardian.get_by_role("link", name=words["own_link"], exact=True).tap()
    assert_language(guardian, words)
    assert guardian.url == link
    guardian.get_by_role("button", name=words["consent"], exact=True).tap()
    expect(guardian.get_by_role("status").filter(has_text=words["consented"])).to_be_visible()
    assert_language(guardian, words)
    assert_fits(guardian)
    record = ConsentRecord.objects.get(assignment=assignment, party="guardian")
    assert (record.decision, record.method, record.language) == ("granted", "link", language)
    assert Assignment.objects.get(pk=assignment.pk).guardian == "granted"

    # --- hamlet on his first phone: sign in, agree, answer GAD-7 items 1-4 -----------------------
    first = devices.new()
    sign_in(first, base, words)
    open_screening(first, words["start"])
    first.wait_for_url(f"{base}/me/assignments/{assignment.pk}/consent/")
    assert_language(first, words)
    assert_fits(first)
    first.get_by_role("button", name=words["agree"], exact=True).tap()
    first.wait_for_url(f"{base}/me/assignments/{assignment.pk}/q/1/")
    assert_language(first, words)
    expect(first.get_by_role("heading", level=1)).to_have_text(texts("gad7", language).title)
    for item_id, value in FIRST_PHONE.items():
        tap_answer(first, "gad7", item_id, value, language)
    expect(first.locator("#save-status")).to_contain_text(words["saved"])
    assert_fits(first)
    assert draft_of(assignment) == {"gad7": FIRST_PHONE}
    # He puts this phone away mid-questionnaire.

    # --- the second phone: a fresh context, sign in again, every answer is still there ----------
    second = devices.new()
    sign_in(second, base, words)
    open_screening(second, words["continue"])
    second.wait_for_url(f"{base}/me/assignments/{assignment.pk}/q/1/")
    assert_language(second, words)
    for item_id, value in FIRST_PHONE.items():
        label_text = option_label("gad7", item_id, value, language)
        expect(question(second, "gad7", item_id, language).get_by_label(label_text, exact=True)).to_be_checked()
    for item_id in SECOND_PHONE:
        expect(question(second, "gad7", item_id, language).get_by_role("radio", checked=True)).to_have_count(0)
    for item_id, value in SECOND_PHONE.items():
        tap_answer(second, "gad7", item_id, value, language)
    assert_fits(second)
    second.get_by_role("button", name=words["next"], exact=True).tap()
    second.wait_for_url(f"{base}/me/assignments/{assignment.pk}/q/2/")

    # --- the ASQ: item 5 appears (htmx) only once an answer is positive ----------------------------
    assert_language(second, words)
    expect(second.get_by_role("heading", level=1)).to_have_text(texts("asq", language).title)
    item5 = second.locator("#q-asq-5")
    expect(item5).to_be_hidden()
    tap_answer(second, "asq", "1", True, language)
    expect(item5).to_be_visible()
    for item_id in ("2", "3", "4"):
        tap_answer(second, "asq", item_id, False, language)
    tap_answer(second, "asq", "5", True, language)
    expect(second.locator("#save-status")).to_contain_text(words["saved"])
    assert_fits(second)
    assert draft_of(assignment) == {"gad7": {**FIRST_PHONE, **SECOND_PHONE}, "asq": ASQ_ACUTE}
    second.get_by_role("button", name=words["next"], exact=True).tap()

    # --- review and submit ---------------------------------------------------------------------------
    second.wait_for_url(f"{base}/me/assignments/{assignment.pk}/review/")
    assert_language(second, words)
    expect(second.get_by_role("heading", level=1)).to_have_text(words["review"])
    expect(second.locator("main")).to_contain_text(words["all_answered"])
    assert_fits(second)
    second.get_by_role("button", name=words["submit"], exact=True).tap()

    # --- the crisis page, in the same response, in his language ------------------------------------
    second.wait_for_url(f"{base}/me/assignments/{assignment.pk}/submit/")
    assert_language(second, words)
    expect(second.get_by_role("heading", level=1)).to_have_text(words["crisis_title"])
    expect(second.get_by_role("heading", level=2)).to_have_text(words["crisis_heading"])
    crisis = second.locator("main section.crisis")
    lines = [
        (words["school_line"], cast.dongshan.crisis_line),
        (words["hospital"], cast.kangning.crisis_line),
        (words["hotline"], "12356"),
        (words["police"], "110"),
        (words["ambulance"], "120"),
    ]
    for label, phone in lines:
        call = crisis.get_by_role("link", name=label)
        expect(call).to_have_attribute("href", f"tel:{phone}")
        expect(call).to_contain_text(phone)
        box = call.bounding_box()
        assert box is not None and box["height"] >= 44, f"the {phone} link is a small touch target: {box}"
    assert crisis.locator("a[href^='tel:']").count() == len(lines)
    assert_fits(second)

    # The record: one submission, red, in his language; one alert for his counsellors.
    submission = Submission.objects.get(assignment=assignment)
    assert Submission.objects.filter(student=cast.hamlet).count() == 1
    assert submission.crisis and submission.tier == "red"
    assert submission.language == language
    assert submission.answers == {"gad7": {**FIRST_PHONE, **SECOND_PHONE}, "asq": ASQ_ACUTE}
    alert = CrisisAlert.objects.get(student=cast.hamlet)
    assert alert.submission_id == submission.pk
    assert cast.alice in alert.recipients.all()

    # The page leads home, where the screening now shows as finished.
    second.get_by_role("link", name=words["home"], exact=True).tap()
    second.wait_for_url(f"{base}/home/")
    expect(second.locator("main .finished")).to_contain_text(CAMPAIGN)
    assert_fits(second)
    assert devices.script_errors == []
