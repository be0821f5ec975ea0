"""The referral loop on a 360-px phone in Debian's Chromium, both sides.

Dongshan has an agreement with Kangning Hospital (recorded by diana) and hamlet's screening is
orange. Alice opens his case, records the guardian's consent to share, refers him and sends the
referral. Lily, Kangning's liaison, signs in, finds it in her inbox by public id (never his name),
accepts, schedules and records the attendance with a recommendation and advice. Alice then sees
the feedback on hamlet's file. No page scrolls sideways, and no page throws a script error.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone

from screening.referrals.models import Referral
from tests.browser.test_counsellor_workspace import assert_fits, expect, phone  # noqa: F401 (a fixture)
from tests.cases.case_helpers import case_of, flag
from tests.conftest import STAFF_PASSWORD, Cast
from tests.referrals.test_referral_rules import agreement

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REASON = "持续情绪低落，需专科评估"
ADVICE = "建议学校每周随访，两周后复诊"


def sign_in(page: Any, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/home/")


def test_a_referral_goes_to_the_hospital_and_its_feedback_comes_back(
    live_server: Any, transactional_db: Any, cast: Cast, phone: Any,  # noqa: F811
) -> None:
    base = live_server.url
    agreement(cast)  # diana records it through agreements.agreement_save
    flag(cast, cast.hamlet, "orange")
    case = case_of(cast.hamlet)

    # --- alice: consent, referral, send -----------------------------------------------------------------
    sign_in(phone, base, "alice")
    phone.goto(f"{base}/cases/{case.pk}/")
    section = phone.locator("#refer")
    expect(section).to_contain_text(cast.kangning.name)
    consent = section.locator(f'form[action^="/cases/{case.pk}/consent-to-share/"]')
    consent.get_by_label("guardian").check()
    consent.get_by_label("signed form").check()
    consent.get_by_role("button", name="Record the consent").tap()
    expect(phone.locator(".messages")).to_contain_text("The consent to share was recorded.")
    refer = phone.locator(f'#refer form[action^="/cases/{case.pk}/refer/"]')
    refer.get_by_label("Reason for referral").fill(REASON)
    refer.get_by_role("button", name="Draft the referral").tap()
    phone.wait_for_url(re.compile(r"/referrals/\d+/(#.*)?$"))
    referral = Referral.objects.get(student=cast.hamlet)
    assert_fits(phone)
    phone.locator("#step-send").get_by_role("button", name="Send to the hospital").tap()
    expect(phone.locator(".messages")).to_contain_text("sent")
    referral.refresh_from_db()
    assert referral.state == "sent" and referral.consent is not None

    # --- lily: the inbox, accept, schedule, attendance ---------------------------------------------------
    sign_in(phone, base, "lily")
    row = phone.locator(f'tr[data-referral="{referral.pk}"]')
    expect(row).to_contain_text(cast.hamlet.public_id)
    assert cast.hamlet.name not in phone.content()
    assert_fits(phone)
    row.get_by_role("link").tap()
    phone.wait_for_url(f"{base}/referrals/{referral.pk}/")
    expect(phone.locator(".packet")).to_contain_text(REASON)
    assert cast.hamlet.name not in phone.content() and cast.hamlet.number not in phone.content()
    phone.locator("#step-accept").get_by_role("button", name="Accept").tap()
    expect(phone.locator(".messages")).to_contain_text("accepted")
    schedule = phone.locator("#step-schedule")
    when = timezone.localtime() + dt.timedelta(days=2)
    schedule.get_by_label("Appointment").fill(when.strftime("%Y-%m-%dT%H:%M"))
    schedule.get_by_label("Where").fill("康宁医院门诊三楼儿少心理科")
    schedule.get_by_label("What to bring").fill("学生证")
    schedule.get_by_role("button", name="Schedule").tap()
    expect(phone.locator(".messages")).to_contain_text("appointment scheduled")
    attendance = phone.locator("#step-attendance")
    attendance.get_by_label("yes").check()
    attendance.get_by_label("Recommendation").select_option("return_with_follow_up")
    attendance.get_by_label("Advice to the school").fill(ADVICE)
    attendance.get_by_role("button", name="Record attendance").tap()
    expect(phone.locator(".messages")).to_contain_text("attended")
    assert_fits(phone)
    referral.refresh_from_db()
    assert (referral.state, referral.seen, referral.recommendation) == ("attended", True, "return_with_follow_up")

    # --- alice: the feedback on hamlet's file and next to the plan ---------------------------------------
    sign_in(phone, base, "alice")
    phone.goto(f"{base}/students/{cast.hamlet.public_id}/")
    referrals_list = phone.locator(".referral-list")
    expect(referrals_list).to_contain_text("return to school with follow-up")
    expect(referrals_list).to_contain_text(ADVICE)
    expect(phone.locator("ol.timeline")).to_contain_text("attended")
    assert_fits(phone)
    phone.goto(f"{base}/cases/{case.pk}/")
    expect(phone.locator("#plan")).to_contain_text("The hospital recommends: return to school with follow-up")
    assert phone.script_errors == []
