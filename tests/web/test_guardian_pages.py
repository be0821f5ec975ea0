"""The guardian's page, opened from a signed link: consent, refuse, withdraw; a bad link is a 404,
an expired one a 410; the student's name and answers are never on it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from screening.campaigns.models import Assignment, Campaign, ConsentRecord, GuardianInvitation
from screening.campaigns.services.campaigns import campaign_create, campaign_launch
from screening.campaigns.services.consent import guardian_invite, guardian_token
from tests.conftest import Cast

pytestmark = pytest.mark.django_db


def invite(cast: Cast, *, student: str = "hamlet", **options: Any) -> GuardianInvitation:
    """Launch a campaign for the student's class, which sends their guardian a link."""
    who = getattr(cast, student)
    school, admin = (cast.dongshan, cast.diana) if who.school_id == cast.dongshan.pk else (cast.xishan, cast.edgar)
    now = timezone.now()
    campaign = campaign_create(
        actor=admin, school=school, name="春季心理筛查", instruments=["phqa", "asq"], opens_at=now,
        closes_at=now + dt.timedelta(days=14), target_classes=[who.school_class], **options,
    )
    campaign_launch(actor=admin, campaign=campaign)
    assignment = Assignment.objects.get(campaign=campaign, student=who)
    invitation = GuardianInvitation.objects.filter(assignment=assignment).first()  # launching sent it
    assert invitation is not None
    return invitation


def link(invitation: GuardianInvitation) -> str:
    return reverse("web:guardian-consent", args=[guardian_token(invitation)])


def shown_sha(html: str) -> str:
    match = re.search(r'name="sha256" value="([0-9a-f]{64})"', html)
    assert match, "the page carries no hash of its text"
    return match.group(1)


def guardian_state(invitation: GuardianInvitation) -> str:
    return Assignment.objects.get(pk=invitation.assignment_id).guardian


def test_the_page_says_what_is_asked_without_naming_the_child(client: Client, cast: Cast) -> None:
    invitation = invite(cast)
    client.cookies["django_language"] = "en"
    response = client.get(link(invitation))
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    html = response.content.decode()
    for text in ["东山初级中学", "春季心理筛查", "初一(1)班", "PHQ-9 Modified for Adolescents (PHQ-A)",
                 "Ask Suicide-Screening Questions (ASQ)", "psychological counsellors",
                 "only if you give a separate consent", "kept securely for 3 years", "Taking part is voluntary",
                 "Withdraw consent", 'value="granted"', 'value="refused"']:
        assert text in html, text
    for text in ["韩小明", "D0001", cast.hamlet.public_id, "13800000000"]:
        assert text not in html, text


def test_a_guardian_consents_by_link_then_withdraws(client: Client, cast: Cast) -> None:
    invitation = invite(cast)
    url = link(invitation)  # once: the signed token carries a timestamp to the second
    client.cookies["django_language"] = "en"
    sha = shown_sha(client.get(url).content.decode())
    consented = client.post(url, {"decision": "granted", "sha256": sha, "language": "en"})
    assert consented.status_code == 302 and consented["Location"] == url
    assert guardian_state(invitation) == "granted"
    record = ConsentRecord.objects.get(assignment_id=invitation.assignment_id, decision="granted")
    assert (record.party, record.method, record.text_sha256, record.language) == ("guardian", "link", sha, "en")

    html = client.get(link(invitation)).content.decode()
    assert "You have consented." in html and 'value="withdrawn"' in html and 'value="refused"' not in html
    client.post(link(invitation), {"decision": "withdrawn", "sha256": shown_sha(html), "language": "en"})
    assert guardian_state(invitation) == "withdrawn"
    assert "You have withdrawn your consent." in client.get(link(invitation)).content.decode()


def test_a_guardian_refuses_and_the_student_cannot_start(client: Client, cast: Cast) -> None:
    invitation = invite(cast)
    sha = shown_sha(client.get(link(invitation)).content.decode())
    client.post(link(invitation), {"decision": "refused", "sha256": sha, "language": "zh-hans"})
    assert guardian_state(invitation) == "refused"
    assert ConsentRecord.objects.get(assignment_id=invitation.assignment_id).decision == "refused"


def test_a_decision_against_words_that_were_not_shown_is_refused(client: Client, cast: Cast) -> None:
    invitation = invite(cast)
    response = client.post(link(invitation), {"decision": "granted", "sha256": "f" * 64, "language": "en"})
    assert response.status_code == 409
    assert guardian_state(invitation) == "asked"
    nothing = client.post(link(invitation), {"decision": "withdrawn", "language": "en"})
    assert nothing.status_code == 409 and guardian_state(invitation) == "asked"
    assert client.post(link(invitation), {"decision": "maybe"}).status_code == 400


def test_a_forged_altered_or_replaced_link_is_not_found(client: Client, cast: Cast) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    invitation = invite(cast)
    old = link(invitation)
    assert client.get(reverse("web:guardian-consent", args=["not-a-token"])).status_code == 404
    assert client.get(old[:-3] + "xyz/").status_code == 404
    guardian_invite(actor=cast.diana, assignment=invitation.assignment)  # a fresh link revokes the old one
    response = client.get(old)
    assert response.status_code == 404 and "This link does not work" in response.content.decode()
    assert client.post(old, {"decision": "granted"}).status_code == 404
    assert guardian_state(invitation) == "asked"


def test_an_expired_link_says_to_ask_the_school_for_a_new_one(client: Client, cast: Cast) -> None:
    invitation = invite(cast)
    GuardianInvitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    client.cookies["django_language"] = "en"
    response = client.get(link(invitation))
    assert response.status_code == 410
    assert "Please ask the school for a new link." in response.content.decode()
    assert client.post(link(invitation), {"decision": "granted"}).status_code == 410
    assert guardian_state(invitation) == "asked"


@pytest.mark.parametrize("language,html_lang", [("en", 'lang="en"'), ("zh-hans", 'lang="zh-Hans"')])
def test_lang_in_the_link_switches_the_page_language(client: Client, cast: Cast, language: str, html_lang: str) -> None:
    invitation = invite(cast)
    url = link(invitation)  # once: the signed token carries a timestamp to the second
    switched = client.get(url, {"lang": language})
    assert switched.status_code == 302 and switched["Location"] == url
    assert switched.cookies["django_language"].value == language
    html = client.get(url).content.decode()
    assert html_lang in html
    name = "Ask Suicide-Screening Questions (ASQ)" if language == "en" else "自杀风险筛查问题（ASQ）"
    assert name in html


def test_a_guardian_of_a_student_of_14_to_17_is_told_and_may_object(client: Client, cast: Cast) -> None:
    invitation = invite(cast, student="cordelia", consent_mode=Campaign.ConsentMode.GUARDIAN_NOTICE)
    assert invitation.purpose == "notice"
    client.cookies["django_language"] = "en"
    html = client.get(link(invitation)).content.decode()
    assert "they decide for themselves" in html and "陈可儿" not in html
    assert 'value="refused"' in html and 'value="granted"' not in html
    client.post(link(invitation), {"decision": "refused", "sha256": shown_sha(html), "language": "en"})
    assert guardian_state(invitation) == "refused"
    assert "You have objected." in client.get(link(invitation)).content.decode()


def test_the_email_has_the_link_and_its_expiry_but_no_name(cast: Cast, mailoutbox: Any,
                                                          django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invite(cast)
    assert len(mailoutbox) == 1
    body = mailoutbox[0].body
    assert guardian_token(invitation) in body and "东山初级中学" in body
    assert str(timezone.localtime(invitation.expires_at).year) in body
    assert "韩小明" not in body and "&amp;" not in body
