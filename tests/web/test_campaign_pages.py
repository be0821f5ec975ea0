"""Campaign pages: a head of centre creates, launches and closes; completion by class is live;
staff who cover a student record paper consent; everyone else is refused (403) or sees nothing (404)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from screening.campaigns.models import Assignment, Campaign, ConsentRecord
from screening.campaigns.services import answering, consent
from screening.campaigns.services.campaigns import campaign_close, campaign_create, campaign_launch
from screening.core.models import AuditEvent
from screening.directory.models import Student
from screening.directory.services import student_user_ensure
from tests.conftest import Cast

pytestmark = pytest.mark.django_db

LOCAL = "%Y-%m-%dT%H:%M"


def sign_in(client: Client, who: Any, language: str = "en") -> Client:
    client.cookies["django_language"] = language
    client.force_login(student_user_ensure(student=who) if isinstance(who, Student) else who)
    return client


def form_data(cast: Cast, **changes: Any) -> dict[str, Any]:
    now = timezone.localtime()
    data = {
        "name": "秋季心理筛查", "instruments": ["phq9", "asq"], "order": "",
        "target_classes": [cast.ds_7_1.pk, cast.ds_7_2.pk],
        "opens_at": (now - dt.timedelta(hours=1)).strftime(LOCAL), "closes_at": (now + dt.timedelta(days=14)).strftime(LOCAL),
        "consent_mode": "guardian_consent", "profile_phq9": "default", "profile_cesd": "default",
    }
    return {**data, **changes}


def make_campaign(cast: Cast, *, launch: bool = True, instruments: tuple[str, ...] = ("phq9",), **extra: Any) -> Campaign:
    now = timezone.now()
    campaign = campaign_create(
        actor=cast.diana, school=cast.dongshan, name="秋季心理筛查", instruments=list(instruments),
        opens_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(days=14),
        target_classes=extra.pop("target_classes", [cast.ds_7_1, cast.ds_7_2]), **extra,
    )
    if launch:
        campaign_launch(actor=cast.diana, campaign=campaign)
    return campaign


def counts(html: str, class_id: int) -> dict[str, int]:
    """The completion fragment's numbers for one class, by status."""
    row = re.search(rf'<tr data-class="{class_id}">(.*?)</tr>', html, re.S)
    assert row, f"no row for class {class_id}"
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', row.group(1))}


def submit(cast: Cast, student: Student, campaign: Campaign, answers: dict[str, Any]) -> Assignment:
    assignment = Assignment.objects.get(campaign=campaign, student=student)
    consent.paper_consent_record(actor=cast.diana, assignment=assignment, decision="granted", note="signed form, file 3")
    user = student_user_ensure(student=student)
    assignment.refresh_from_db()
    consent.student_consent_give(actor=user, assignment=assignment, agree=True, language="en")
    assignment.refresh_from_db()
    answering.assignment_submit(actor=user, assignment_id=assignment.pk, answers=answers, idempotency_key="k1", language="en")
    assignment.refresh_from_db()
    return assignment


PHQ9_LOW = {"phq9": {str(i): 0 for i in range(1, 10)}}


# --- creating --------------------------------------------------------------------------------------


def test_a_head_of_centre_creates_a_campaign_from_the_page(client: Client, cast: Cast) -> None:
    sign_in(client, cast.diana)
    form = client.get(reverse("web:campaign-new")).content.decode()
    assert "初一(1)班" in form and "初一(2)班" in form and "高一(1)班" not in form
    assert 'name="school"' not in form  # one school: nothing to choose
    assert "Ask Suicide-Screening Questions (ASQ)" in form
    assert 'value="scl90"' not in form  # licensed wording not installed: not offered

    response = client.post(reverse("web:campaign-new"), form_data(cast, order="asq, phq9", profile_phq9="us_adolescent"))

    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("web:campaign", args=[campaign.pk])
    assert campaign.school == cast.dongshan and campaign.status == Campaign.Status.DRAFT
    assert campaign.instruments == ["asq", "phq9"] and campaign.profiles == {"phq9": "us_adolescent"}
    assert set(campaign.target_classes.all()) == {cast.ds_7_1, cast.ds_7_2}
    assert campaign.students_see_results is False and campaign.stepped is False


def test_an_invalid_campaign_is_a_400_with_messages_on_its_fields_and_nothing_saved(client: Client, cast: Cast) -> None:
    sign_in(client, cast.diana)
    now = timezone.localtime()
    data = form_data(cast, instruments=[], target_classes=[], stepped="on",
                     closes_at=(now - dt.timedelta(days=2)).strftime(LOCAL))

    response = client.post(reverse("web:campaign-new"), data)

    assert response.status_code == 400
    html = response.content.decode()
    for message in ("Choose at least one questionnaire.", "Choose classes or grades.",
                    "The campaign must close after it opens.", "Stepped screening needs the PHQ-2 or the GAD-2."):
        assert message in html, message
    assert 'value="秋季心理筛查"' in html  # what was typed is kept
    assert not Campaign.objects.exists()


def test_an_order_that_does_not_match_the_ticked_questionnaires_is_refused(client: Client, cast: Cast) -> None:
    sign_in(client, cast.diana)
    response = client.post(reverse("web:campaign-new"), form_data(cast, order="phq9, gad7"))
    assert response.status_code == 400
    assert "List each ticked questionnaire exactly once" in response.content.decode()
    assert not Campaign.objects.exists()


def test_errors_are_in_the_readers_language(client: Client, cast: Cast) -> None:
    sign_in(client, cast.diana, "zh-hans")
    response = client.post(reverse("web:campaign-new"), form_data(cast, instruments=[]))
    assert response.status_code == 400
    html = response.content.decode()
    assert "请至少选择一份问卷。" in html and "Choose at least one questionnaire." not in html


def test_counsellors_may_read_campaigns_but_not_create_launch_or_close(client: Client, cast: Cast) -> None:
    campaign = make_campaign(cast, launch=False)
    sign_in(client, cast.alice)

    assert client.get(reverse("web:campaign-new")).status_code == 403
    assert client.post(reverse("web:campaign-new"), form_data(cast)).status_code == 403
    assert client.post(reverse("web:campaign-launch", args=[campaign.pk])).status_code == 403
    assert client.post(reverse("web:campaign-guardians-invite", args=[campaign.pk])).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and Campaign.objects.count() == 1

    listing = client.get(reverse("web:campaigns")).content.decode()
    assert campaign.name in listing and reverse("web:campaign-new") not in listing
    detail = client.get(reverse("web:campaign", args=[campaign.pk])).content.decode()
    assert reverse("web:campaign-launch", args=[campaign.pk]) not in detail


def test_students_and_people_without_a_role_get_no_campaign_pages(client: Client, cast: Cast) -> None:
    campaign = make_campaign(cast)
    for who in (cast.hamlet, cast.nobody, cast.lily):
        sign_in(client, who)
        assert client.get(reverse("web:campaigns")).status_code == 403
        assert client.get(reverse("web:campaign", args=[campaign.pk])).status_code == 403


# --- launching, completion, closing -----------------------------------------------------------------


def test_launch_from_the_page_assigns_both_classes(client: Client, cast: Cast) -> None:
    campaign = make_campaign(cast, launch=False)
    sign_in(client, cast.diana)
    detail = client.get(reverse("web:campaign", args=[campaign.pk])).content.decode()
    assert reverse("web:campaign-launch", args=[campaign.pk]) in detail

    response = client.post(reverse("web:campaign-launch", args=[campaign.pk]), follow=True)

    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.LAUNCHED
    assert set(Assignment.objects.filter(campaign=campaign).values_list("student__name", flat=True)) == {"韩小明", "何小丽"}
    html = response.content.decode()
    assert "2 students were assigned" in html
    # Launching also e-mails each guardian a consent link (hamlet is 12): one waits in 7-1.
    assert counts(html, cast.ds_7_1.pk) == {"total": 1, "submitted": 0, "in_progress": 0, "pending": 1, "missed": 0, "guardian_waiting": 1}
    assert 'hx-trigger="every 5s"' in html


def test_a_state_conflict_is_a_message_not_an_error_page(client: Client, cast: Cast) -> None:
    campaign = make_campaign(cast, launch=False)
    sign_in(client, cast.diana)
    response = client.post(reverse("web:campaign-close", args=[campaign.pk]), follow=True)
    assert response.status_code == 200
    assert "A draft campaign has nothing to close" in response.content.decode()
    campaign_launch(actor=cast.diana, campaign=campaign)
    campaign_close(actor=cast.diana, campaign=campaign)
    response = client.post(reverse("web:campaign-launch", args=[campaign.pk]), follow=True)
    assert response.status_code == 200
    assert "A closed campaign cannot be launched again." in response.content.decode()


def test_the_completion_fragment_counts_a_submission(client: Client, cast: Cast) -> None:
    campaign = make_campaign(cast)
    sign_in(client, cast.diana)
    url = reverse("web:campaign-completion", args=[campaign.pk])
    before = client.get(url, headers={"HX-Request": "true"})
    assert before.status_code == 200
    assert "<html" not in before.content.decode()  # a fragment, not a page
    assert counts(before.content.decode(), cast.ds_7_1.pk)["submitted"] == 0

    submit(cast, cast.hamlet, campaign, PHQ9_LOW)

    after = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert counts(after, cast.ds_7_1.pk) == {"total": 1, "submitted": 1, "in_progress": 0, "pending": 0, "missed": 0, "guardian_waiting": 0}
    assert counts(after, cast.ds_7_2.pk)["submitted"] == 0
    assert "100%" in after
    assert "韩小明" not in after and "何小丽" not in after  # counts only


def test_guardian_links_reach_guardians_not_asked_yet(client: Client, cast: Cast) -> None:
    Student.objects.filter(pk=cast.hilda.pk).update(guardian_email="")  # no address at launch
    campaign = make_campaign(cast)
    hilda = Assignment.objects.get(campaign=campaign, student=cast.hilda)
    assert hilda.guardian == Assignment.Guardian.NOT_ASKED
    student = Student.objects.get(pk=cast.hilda.pk)
    student.guardian_email = "hilda.parent@example.org"
    student.save()
    sign_in(client, cast.diana)

    response = client.post(reverse("web:campaign-guardians-invite", args=[campaign.pk]), follow=True)

    assert response.status_code == 200
    assert "1 guardian was sent a link." in response.content.decode()
    hilda.refresh_from_db()
    assert hilda.guardian == Assignment.Guardian.ASKED
    assert counts(response.content.decode(), cast.ds_7_2.pk)["guardian_waiting"] == 1


def test_closing_from_the_page_marks_unfinished_questionnaires_missed(client: Client, cast: Cast) -> None:
    campaign = make_campaign(cast)
    submit(cast, cast.hamlet, campaign, PHQ9_LOW)
    sign_in(client, cast.diana)

    response = client.post(reverse("web:campaign-close", args=[campaign.pk]), follow=True)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CLOSED
    assert Assignment.objects.get(campaign=campaign, student=cast.hilda).status == Assignment.Status.MISSED
    assert Assignment.objects.get(campaign=campaign, student=cast.hamlet).status == Assignment.Status.SUBMITTED
    html = response.content.decode()
    assert counts(html, cast.ds_7_2.pk)["missed"] == 1 and counts(html, cast.ds_7_1.pk)["missed"] == 0
    assert "hx-trigger" not in html  # a closed campaign no longer changes


# --- scope --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["edgar", "bob"])
def test_another_schools_staff_get_404_on_every_campaign_page(client: Client, cast: Cast, who: str) -> None:
    campaign = make_campaign(cast)
    assignment = Assignment.objects.get(campaign=campaign, student=cast.hamlet)
    sign_in(client, getattr(cast, who))

    assert campaign.name not in client.get(reverse("web:campaigns")).content.decode()
    for name, args in [("web:campaign", [campaign.pk]), ("web:campaign-completion", [campaign.pk]),
                       ("web:campaign-class", [campaign.pk, cast.ds_7_1.pk]),
                       ("web:paper-consent", [campaign.pk, assignment.pk])]:
        assert client.get(reverse(name, args=args)).status_code == 404, name
    if who == "edgar":  # a head of centre, but of another school
        for name in ("web:campaign-launch", "web:campaign-close", "web:campaign-guardians-invite"):
            assert client.post(reverse(name, args=[campaign.pk])).status_code == 404, name
    assert client.post(reverse("web:paper-consent", args=[campaign.pk, assignment.pk]),
                       {"decision": "granted", "note": "x"}).status_code == 404
    assert not ConsentRecord.objects.exists()
    assert AuditEvent.objects.filter(action="denied", object_type="campaigns.Campaign").exists()


def test_the_class_page_lists_the_classes_students_and_audits_them(client: Client, cast: Cast) -> None:
    campaign = make_campaign(cast)
    sign_in(client, cast.diana)

    html = client.get(reverse("web:campaign-class", args=[campaign.pk, cast.ds_7_1.pk])).content.decode()

    assert "韩小明" in html and "D0001" in html and "何小丽" not in html
    assert "not asked yet" in html
    hamlet = Assignment.objects.get(campaign=campaign, student=cast.hamlet)
    assert reverse("web:paper-consent", args=[campaign.pk, hamlet.pk]) in html
    listed = AuditEvent.objects.filter(action="list", actor_username="diana")
    assert list(listed.values_list("student_public_id", flat=True)) == [cast.hamlet.public_id]


def test_a_class_limited_counsellor_sees_only_her_classes(client: Client, cast: Cast) -> None:
    campaign = make_campaign(cast)
    hilda = Assignment.objects.get(campaign=campaign, student=cast.hilda)
    sign_in(client, cast.carol)

    detail = client.get(reverse("web:campaign", args=[campaign.pk])).content.decode()
    assert f'data-class="{cast.ds_7_1.pk}"' in detail and f'data-class="{cast.ds_7_2.pk}"' not in detail
    assert client.get(reverse("web:campaign-class", args=[campaign.pk, cast.ds_7_1.pk])).status_code == 200
    assert client.get(reverse("web:campaign-class", args=[campaign.pk, cast.ds_7_2.pk])).status_code == 404
    assert client.get(reverse("web:paper-consent", args=[campaign.pk, hilda.pk])).status_code == 404


# --- paper consent -----------------------------------------------------------------------------------


def test_a_counsellor_records_paper_consent_with_an_encrypted_note(client: Client, cast: Cast) -> None:
    campaign = make_campaign(cast)
    assignment = Assignment.objects.get(campaign=campaign, student=cast.hamlet)
    sign_in(client, cast.carol)
    url = reverse("web:paper-consent", args=[campaign.pk, assignment.pk])
    page = client.get(url)
    assert page.status_code == 200 and "韩小明" in page.content.decode()
    assert AuditEvent.objects.filter(action="read", actor_username="carol", student_public_id=cast.hamlet.public_id).exists()

    response = client.post(url, {"decision": "granted", "note": "Signed form in cabinet B-7"})

    assert response.status_code == 302
    assert response["Location"] == reverse("web:campaign-class", args=[campaign.pk, cast.ds_7_1.pk])
    assignment.refresh_from_db()
    assert assignment.guardian == Assignment.Guardian.GRANTED
    record = ConsentRecord.objects.get(assignment=assignment)
    assert (record.party, record.method, record.recorded_by) == ("guardian", "paper", cast.carol)
    assert record.note == "Signed form in cabinet B-7"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT note FROM {ConsentRecord._meta.db_table} WHERE id = %s", [record.pk])
        stored = cursor.fetchone()[0]
    assert "cabinet" not in stored
    history = client.get(url).content.decode()
    assert "Signed form in cabinet B-7" in history and "paper form recorded by staff" in history


def test_paper_consent_needs_a_decision_and_a_note(client: Client, cast: Cast) -> None:
    campaign = make_campaign(cast)
    assignment = Assignment.objects.get(campaign=campaign, student=cast.hamlet)
    sign_in(client, cast.diana)

    response = client.post(reverse("web:paper-consent", args=[campaign.pk, assignment.pk]), {"decision": "granted", "note": "  "})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not ConsentRecord.objects.exists()
    response = client.post(reverse("web:paper-consent", args=[campaign.pk, assignment.pk]), {"decision": "maybe", "note": "x"})
    assert response.status_code == 400 and not ConsentRecord.objects.exists()


def test_paper_consent_after_a_submission_is_a_conflict_shown_on_the_form(client: Client, cast: Cast) -> None:
    campaign = make_campaign(cast)
    assignment = submit(cast, cast.hamlet, campaign, PHQ9_LOW)
    sign_in(client, cast.diana)
    response = client.post(reverse("web:paper-consent", args=[campaign.pk, assignment.pk]), {"decision": "granted", "note": "late form"})
    assert response.status_code == 409
    assert "This student has already submitted." in response.content.decode()


def test_an_assignment_must_belong_to_the_campaign_in_the_address(client: Client, cast: Cast) -> None:
    first = make_campaign(cast)
    second = make_campaign(cast)
    assignment = Assignment.objects.get(campaign=first, student=cast.hamlet)
    sign_in(client, cast.diana)
    assert client.get(reverse("web:paper-consent", args=[second.pk, assignment.pk])).status_code == 404


# --- navigation and the student's page -----------------------------------------------------------------


def test_heads_of_centre_find_campaigns_in_the_navigation(client: Client, cast: Cast) -> None:
    assert reverse("web:campaigns") in sign_in(client, cast.diana).get("/home/").content.decode()
    assert reverse("web:campaigns") not in sign_in(Client(), cast.alice).get("/home/").content.decode()


def test_the_students_page_shows_their_screenings(client: Client, cast: Cast) -> None:
    campaign = make_campaign(cast)
    submit(cast, cast.hamlet, campaign, PHQ9_LOW)
    sign_in(client, cast.alice)
    html = client.get(reverse("web:student", args=[cast.hamlet.public_id])).content.decode()
    assert campaign.name in html and "submitted" in html and "green" in html
