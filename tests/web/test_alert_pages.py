"""Red alert pages: only staff who cover the student see an alert; every read is audited; the
staff home says how many are open."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from screening.campaigns.models import Assignment, CrisisAlert
from screening.campaigns.services import answering, consent
from screening.campaigns.services.campaigns import campaign_create, campaign_launch
from screening.core.models import AuditEvent
from screening.directory.models import Student
from screening.directory.services import student_user_ensure
from tests.conftest import Cast

pytestmark = pytest.mark.django_db

ASQ_ACUTE = {"asq": {"1": True, "2": False, "3": False, "4": False, "5": True}}


def sign_in(client: Client, who: Any, language: str = "en") -> Client:
    client.cookies["django_language"] = language
    client.force_login(student_user_ensure(student=who) if isinstance(who, Student) else who)
    return client


def red_alert(cast: Cast, student: Student) -> CrisisAlert:
    """A launched ASQ campaign at the student's school, consent from both parties, and an answer
    set with the acute item: the submit raises a red alert."""
    head = cast.diana if student.school_id == cast.dongshan.pk else cast.edgar
    now = timezone.now()
    campaign = campaign_create(
        actor=head, school=student.school, name="危机筛查", instruments=["asq"],
        opens_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(days=7), target_classes=[student.school_class],
    )
    campaign_launch(actor=head, campaign=campaign)
    assignment = Assignment.objects.get(campaign=campaign, student=student)
    consent.paper_consent_record(actor=head, assignment=assignment, decision="granted", note="form on file")
    user = student_user_ensure(student=student)
    assignment.refresh_from_db()
    consent.student_consent_give(actor=user, assignment=assignment, agree=True, language="en")
    assignment.refresh_from_db()
    answering.assignment_submit(actor=user, assignment_id=assignment.pk, answers=ASQ_ACUTE, idempotency_key="k1", language="en")
    return CrisisAlert.objects.get(student=student)


def test_the_alert_list_shows_the_covering_staff_their_alerts_with_reasons_and_time_left(client: Client, cast: Cast) -> None:
    alert = red_alert(cast, cast.hamlet)
    sign_in(client, cast.alice)

    html = client.get(reverse("web:alerts")).content.decode()

    assert "韩小明" in html and reverse("web:alert", args=[alert.pk]) in html
    assert alert.rules and escape(alert.rules[0]["description"]["en"]) in html
    assert " left" in html  # the hour to first contact is running
    assert "diagnos" not in html.split("<footer")[0].lower()
    listed = AuditEvent.objects.filter(action="list", actor_username="alice", student_public_id=cast.hamlet.public_id)
    assert listed.count() == 1


@pytest.mark.parametrize("who,sees", [("alice", True), ("diana", True), ("carol", True), ("bob", False), ("edgar", False)])
def test_only_staff_who_cover_the_student_see_the_alert(client: Client, cast: Cast, who: str, sees: bool) -> None:
    alert = red_alert(cast, cast.hamlet)
    sign_in(client, getattr(cast, who))

    listing = client.get(reverse("web:alerts"))
    detail = client.get(reverse("web:alert", args=[alert.pk]))

    assert listing.status_code == 200
    assert ("韩小明" in listing.content.decode()) is sees
    assert detail.status_code == (200 if sees else 404)
    if not sees:
        assert AuditEvent.objects.filter(action="denied", object_type="campaigns.CrisisAlert", actor_username=who).exists()


def test_a_class_limited_counsellor_sees_no_alert_outside_her_classes(client: Client, cast: Cast) -> None:
    alert = red_alert(cast, cast.hilda)  # class 7-2; carol covers 7-1 only
    sign_in(client, cast.carol)
    assert "何小丽" not in client.get(reverse("web:alerts")).content.decode()
    assert client.get(reverse("web:alert", args=[alert.pk])).status_code == 404
    assert "open red alert" not in client.get("/home/").content.decode()


def test_the_alert_page_shows_the_student_and_is_audited(client: Client, cast: Cast) -> None:
    alert = red_alert(cast, cast.hamlet)
    sign_in(client, cast.alice)

    html = client.get(reverse("web:alert", args=[alert.pk])).content.decode()

    assert "韩小明" in html and "D0001" in html and "初一(1)班" in html and "危机筛查" in html
    assert reverse("web:student", args=[cast.hamlet.public_id]) in html
    assert escape(alert.rules[0]["description"]["en"]) in html
    assert timezone.localtime(alert.due_at).strftime("%Y-%m-%d %H:%M") in html
    read = AuditEvent.objects.get(action="read", actor_username="alice")
    assert read.student_public_id == cast.hamlet.public_id


def test_the_alert_page_speaks_the_readers_language(client: Client, cast: Cast) -> None:
    alert = red_alert(cast, cast.hamlet)
    sign_in(client, cast.alice, "zh-hans")
    html = client.get(reverse("web:alert", args=[alert.pk])).content.decode()
    assert escape(alert.rules[0]["description"]["zh-hans"]) in html
    assert escape(alert.rules[0]["description"]["en"]) not in html


def test_an_overdue_alert_says_so(client: Client, cast: Cast) -> None:
    alert = red_alert(cast, cast.hamlet)
    CrisisAlert.objects.filter(pk=alert.pk).update(due_at=timezone.now() - dt.timedelta(minutes=30))
    sign_in(client, cast.alice)
    assert "overdue by" in client.get(reverse("web:alert", args=[alert.pk])).content.decode()


def test_the_staff_home_shows_open_red_alerts(client: Client, cast: Cast) -> None:
    red_alert(cast, cast.hamlet)
    html = sign_in(client, cast.alice).get("/home/").content.decode()
    assert "1 open red alert" in html and reverse("web:alerts") in html
    xishan = sign_in(Client(), cast.bob).get("/home/").content.decode()
    assert "open red alert" not in xishan


def test_the_email_link_asks_a_signed_out_reader_to_sign_in(client: Client, cast: Cast) -> None:
    alert = red_alert(cast, cast.hamlet)
    response = client.get(reverse("web:alert", args=[alert.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_students_and_liaisons_get_no_alert_pages(client: Client, cast: Cast) -> None:
    alert = red_alert(cast, cast.hamlet)
    for who in (cast.hamlet, cast.lily, cast.nobody):
        sign_in(client, who)
        assert client.get(reverse("web:alerts")).status_code == 403
        assert client.get(reverse("web:alert", args=[alert.pk])).status_code == 403


def test_the_students_page_shows_the_red_tier(client: Client, cast: Cast) -> None:
    red_alert(cast, cast.hamlet)
    html = sign_in(client, cast.alice).get(reverse("web:student", args=[cast.hamlet.public_id])).content.decode()
    assert "危机筛查" in html and "tier-red" in html
