"""The referral pages: referring from a case (consent to share, the referral, its errors on the
form), the referral's page for each side and their steps, the liaison's inbox, the agreements
pages, and the hospital's feedback back on the case and the student's file.

A liaison sees a referral only once sent and only the packet (never a name, number, class or
guardian), every view of theirs audited; another hospital's liaison sees nothing (404)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from screening.core.models import AuditEvent
from screening.referrals.models import Agreement, Referral, SharingConsent
from screening.referrals.services import referrals
from tests.cases.case_helpers import case_of, flag
from tests.conftest import Cast
from tests.referrals.test_referral_rules import agreement, draft
from tests.web.test_case_pages import html_of, sign_in

pytestmark = pytest.mark.django_db

NOW = "%Y-%m-%dT%H:%M"


@pytest.fixture
def orange_case(cast: Cast) -> Any:
    agreement(cast)
    flag(cast, cast.hamlet, "orange")
    return case_of(cast.hamlet)


def sent(cast: Cast, case: Any) -> Referral:
    return referrals.referral_send(actor=cast.alice, referral=draft(cast, case))


def step(client: Client, referral: Referral, name: str, **data: Any) -> Any:
    return client.post(reverse("web:referral-step", args=[referral.pk, name]), {"request_key": f"k-{name}", **data})


def private_words(cast: Cast) -> list[str]:
    s = cast.hamlet
    return [s.name, s.number, s.school_class.name, s.guardian_name, s.guardian_phone, s.guardian_email]


# --- the school's side ------------------------------------------------------------------------------


def test_a_counsellor_records_consent_refers_and_sends_from_the_case(client: Client, cast: Cast, orange_case: Any) -> None:
    sign_in(client, cast.alice)
    html = html_of(client.get(reverse("web:case", args=[orange_case.pk])))
    assert "Refer to a hospital" in html and cast.kangning.name in html
    response = client.post(reverse("web:case-consent", args=[orange_case.pk]), {
        "request_key": "c1", "hospital": cast.kangning.pk, "party": "guardian", "method": "paper",
        "given_at": timezone.localtime().strftime(NOW), "note": "签字同意书已存档"})
    assert response.status_code == 302
    consent = SharingConsent.objects.get(student=cast.hamlet)
    response = client.post(reverse("web:case-refer", args=[orange_case.pk]), {
        "request_key": "r1", "hospital": cast.kangning.pk, "reason": "持续情绪低落，需专科评估", "basis": "consent",
        "consent": consent.pk})
    referral = Referral.objects.get(student=cast.hamlet)
    assert response.status_code == 302 and response["Location"] == reverse("web:referral", args=[referral.pk])
    page = html_of(client.get(response["Location"]))
    assert "Send to the hospital" in page and "Cancel the referral" in page and "Accept" not in page
    assert step(client, referral, "send").status_code == 302
    referral.refresh_from_db()
    assert referral.state == "sent"
    case_page = html_of(client.get(reverse("web:case", args=[orange_case.pk])))
    assert reverse("web:referral", args=[referral.pk]) in case_page and "Draft the referral" not in case_page


def test_a_resent_form_records_once(client: Client, cast: Cast, orange_case: Any) -> None:
    sign_in(client, cast.alice)
    data = {"request_key": "same", "hospital": cast.kangning.pk, "party": "guardian", "method": "phone",
            "given_at": timezone.localtime().strftime(NOW)}
    for _ in range(2):
        assert client.post(reverse("web:case-consent", args=[orange_case.pk]), data).status_code == 302
    assert SharingConsent.objects.filter(student=cast.hamlet).count() == 1


def test_the_services_refusals_are_shown_on_the_form(client: Client, cast: Cast, orange_case: Any) -> None:
    sign_in(client, cast.alice)
    response = client.post(reverse("web:case-consent", args=[orange_case.pk]), {
        "request_key": "c2", "hospital": cast.kangning.pk, "party": "student", "method": "paper",
        "given_at": timezone.localtime().strftime(NOW)})
    assert response.status_code == 400 and "the guardian consents" in response.content.decode()
    response = client.post(reverse("web:case-refer", args=[orange_case.pk]), {
        "request_key": "r2", "hospital": cast.kangning.pk, "reason": "需要评估", "basis": "consent"})
    assert response.status_code == 400 and "Record the consent to share with this hospital first" in response.content.decode()
    assert not Referral.objects.exists()
    response = client.post(reverse("web:case-refer", args=[orange_case.pk]), {
        "request_key": "r3", "hospital": cast.kangning.pk, "reason": "", "basis": "emergency"})
    assert response.status_code == 400 and "This field is required." in response.content.decode()


def test_without_an_agreement_covering_the_tier_the_case_says_so(client: Client, cast: Cast) -> None:
    agreement(cast, tiers=["red"], limits={"red": {"acknowledge_hours": 2, "decide_hours": 12}})
    flag(cast, cast.hamlet, "orange")
    sign_in(client, cast.alice)
    html = html_of(client.get(reverse("web:case", args=[case_of(cast.hamlet).pk])))
    assert "no valid agreement with a hospital that covers this tier" in html and "Draft the referral" not in html


def test_the_school_cancels_with_a_note(client: Client, cast: Cast, orange_case: Any) -> None:
    referral = sent(cast, orange_case)
    sign_in(client, cast.alice)
    assert step(client, referral, "cancel", note="").status_code == 400
    assert step(client, referral, "cancel", request_key="k2", note="家长要求改去其他医院").status_code == 302
    referral.refresh_from_db()
    assert referral.state == "cancelled"


# --- the hospital's side ----------------------------------------------------------------------------


def test_a_liaison_never_sees_a_draft_and_another_hospital_sees_nothing(client: Client, cast: Cast,
                                                                        orange_case: Any) -> None:
    referral = draft(cast, orange_case)
    sign_in(client, cast.lily)
    assert client.get(reverse("web:referral", args=[referral.pk])).status_code == 404
    assert "data-referral" not in html_of(client.get(reverse("web:home")))
    referrals.referral_send(actor=cast.alice, referral=referral)
    sign_in(client, cast.liam)
    assert client.get(reverse("web:referral", args=[referral.pk])).status_code == 404
    assert "data-referral" not in html_of(client.get(reverse("web:home")))
    assert step(client, referral, "accept").status_code == 404
    sign_in(client, cast.bob)  # Xishan's counsellor
    assert client.get(reverse("web:referral", args=[referral.pk])).status_code == 404


def test_the_liaison_reads_the_packet_only_and_every_view_is_audited(client: Client, cast: Cast,
                                                                     orange_case: Any) -> None:
    referral = sent(cast, orange_case)
    sign_in(client, cast.lily)
    inbox = html_of(client.get(reverse("web:home")))
    assert f'data-referral="{referral.pk}"' in inbox and cast.hamlet.public_id in inbox
    page = html_of(client.get(reverse("web:referral", args=[referral.pk])))
    assert cast.hamlet.public_id in page and "持续情绪低落" in page and str(cast.hamlet.birth_date.year) in page
    for words in private_words(cast):
        assert words not in inbox and words not in page
    seen = AuditEvent.objects.filter(actor_id=cast.lily.pk, student_public_id=cast.hamlet.public_id)
    assert set(seen.values_list("action", flat=True)) == {"list", "read"}
    assert "Acknowledge receipt" in page and "Accept" in page and "Send to the hospital" not in page


def test_the_hospital_accepts_schedules_and_records_attendance(client: Client, cast: Cast, orange_case: Any) -> None:
    referral = sent(cast, orange_case)
    sign_in(client, cast.lily)
    assert step(client, referral, "accept", note="").status_code == 302
    assert step(client, referral, "schedule", at="", place="").status_code == 400
    when = (timezone.localtime() + dt.timedelta(days=2)).strftime(NOW)
    assert step(client, referral, "schedule", request_key="s2", at=when, place="门诊三楼", bring="学生证").status_code == 302
    response = step(client, referral, "attendance", attended="yes", recommendation="")
    assert response.status_code == 400 and "Choose the recommendation." in response.content.decode()
    assert step(client, referral, "attendance", request_key="a2", attended="yes", recommendation="return_with_follow_up",
                advice="建议学校每周随访").status_code == 302
    referral.refresh_from_db()
    assert (referral.state, referral.recommendation) == ("attended", "return_with_follow_up")
    # Back at the school: the feedback on the case, next to the plan form, and on the student's file.
    sign_in(client, cast.alice)
    case_page = html_of(client.get(reverse("web:case", args=[orange_case.pk])))
    assert "The hospital recommends: return to school with follow-up; the dates below follow it." in case_page
    assert "建议学校每周随访" in case_page
    file_page = html_of(client.get(reverse("web:student", args=[cast.hamlet.public_id])))
    assert "return to school with follow-up" in file_page and "建议学校每周随访" in file_page


def test_a_step_not_the_users_side_is_refused_on_the_page(client: Client, cast: Cast, orange_case: Any) -> None:
    referral = sent(cast, orange_case)
    sign_in(client, cast.alice)
    assert step(client, referral, "accept").status_code == 403
    sign_in(client, cast.lily)
    assert step(client, referral, "send").status_code in (403, 409)
    referral.refresh_from_db()
    assert referral.state == "sent"


def test_the_platform_admin_reads_the_referral_but_is_offered_no_step(client: Client, cast: Cast,
                                                                      orange_case: Any) -> None:
    """Only the two sides act; the operator's page shows the timeline without a single step form."""
    referral = sent(cast, orange_case)
    sign_in(client, cast.root)
    page = client.get(reverse("web:referral", args=[referral.pk]))
    assert page.status_code == 200
    assert reverse("web:referral-step", args=[referral.pk, "cancel"]) not in page.content.decode()
    sign_in(client, cast.alice)
    page = client.get(reverse("web:referral", args=[referral.pk]))
    assert reverse("web:referral-step", args=[referral.pk, "cancel"]) in page.content.decode()


# --- agreements -------------------------------------------------------------------------------------


def agreement_data(cast: Cast, **overrides: Any) -> dict[str, Any]:
    today = timezone.localdate()
    data = {"school": cast.dongshan.pk, "hospital": cast.anding.pk, "valid_from": today.isoformat(),
            "valid_until": (today + dt.timedelta(days=20)).isoformat(), "tiers": ["red"], "packet": ["public_id", "tier"],
            "red_acknowledge_hours": 2, "red_decide_hours": 12, "crisis_contact_name": "值班医生",
            "crisis_line": "0755-4444444", "endpoint_url": "", "endpoint_secret": ""}
    return {**data, **overrides}


def test_a_head_records_an_agreement_and_is_warned_before_it_ends(client: Client, cast: Cast) -> None:
    sign_in(client, cast.diana)
    response = client.post(reverse("web:agreement-new"), agreement_data(cast, red_decide_hours=""))
    assert response.status_code == 400 and "red: give whole hours to acknowledge" in response.content.decode()
    secret = "s" * 40
    response = client.post(reverse("web:agreement-new"), agreement_data(
        cast, endpoint_url="https://anding.example.org/fhir", endpoint_secret=secret))
    assert response.status_code == 302
    saved = Agreement.objects.get(hospital=cast.anding)
    html = html_of(client.get(reverse("web:agreements")))
    assert "expires in 20 days" in html
    edit = html_of(client.get(reverse("web:agreement-edit", args=[saved.pk])))
    assert secret not in edit and "anding.example.org" in edit
    assert client.post(reverse("web:agreement-edit", args=[saved.pk]), agreement_data(
        cast, endpoint_url="https://anding.example.org/fhir", crisis_line="0755-4444445")).status_code == 302
    saved.refresh_from_db()
    assert saved.endpoint_secret == secret and saved.crisis_line == "0755-4444445"  # kept, not re-entered


def test_who_may_see_and_change_agreements(client: Client, cast: Cast) -> None:
    made = agreement(cast)
    sign_in(client, cast.lily)
    assert cast.dongshan.name in html_of(client.get(reverse("web:agreements")))
    assert client.get(reverse("web:agreement-new")).status_code == 403
    sign_in(client, cast.liam)
    assert cast.dongshan.name not in html_of(client.get(reverse("web:agreements")))
    sign_in(client, cast.edgar)  # Xishan's head
    assert client.get(reverse("web:agreement-edit", args=[made.pk])).status_code == 404
    sign_in(client, cast.olga)
    assert client.get(reverse("web:agreements")).status_code == 403
