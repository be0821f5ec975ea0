"""Consent: who must agree before a student is screened, the guardian's signed link, paper forms,
what every consent record keeps, and the reminders to guardians who have not answered."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from campaign_test_helpers import (
    ME,
    STAFF,
    assignment_of,
    campaign_open,
    code_of,
    draft_save,
    fields_of,
    guardian_grants,
    phq9_total,
    ready,
    submit,
)
from django.conf import settings
from django.db import connection
from django.utils import timezone

from screening.campaigns.models import Assignment, ConsentRecord, GuardianInvitation, Submission
from screening.campaigns.services import campaign_close, consent
from screening.core.errors import Conflict, NotFound
from screening.directory.models import Student
from screening.directory.services import student_user_ensure
from tests.conftest import make_student

DRAFT = {"phq9": {"1": 1}}


def blocker_in_list(api, student, assignment):
    rows = api.as_(student).get(ME).json()["results"]
    return next(r["blocker"] for r in rows if r["id"] == assignment.pk)


# --- under 14: a guardian consents first ---------------------------------------------------------


def test_under_14_cannot_start_until_a_guardian_consents(cast, api):
    campaign = campaign_open(cast)
    assignment = assignment_of(campaign, cast.hamlet)  # 12 years old
    assert assignment.guardian == "asked"
    client = api.as_(cast.hamlet)
    assert blocker_in_list(api, cast.hamlet, assignment) == "guardian_consent_pending"
    own = client.post(f"{ME}{assignment.pk}/consent/", {"agree": True}, format="json")
    assert own.status_code == 409 and code_of(own) == "guardian_consent_pending"
    for response in (
        client.get(f"{ME}{assignment.pk}/questionnaire/"),
        draft_save(client, assignment, DRAFT),
        submit(client, assignment, {"phq9": phq9_total(0)}),
    ):
        assert response.status_code == 409 and code_of(response) == "guardian_consent_pending"
    assert not Submission.objects.exists()
    assert assignment_of(campaign, cast.hamlet).draft == {}

    guardian_grants(cast, assignment)
    assert client.post(f"{ME}{assignment.pk}/consent/", {"agree": True}, format="json").status_code == 200
    assert draft_save(client, assignment, DRAFT).status_code == 200


def test_the_student_alone_cannot_consent_for_a_13_year_old(cast, api):
    campaign = campaign_open(cast, consent_mode="guardian_notice")  # notice applies from 14 only
    assignment = assignment_of(campaign, cast.hilda)  # 13
    assert assignment.guardian == "asked"
    response = api.as_(cast.hilda).post(f"{ME}{assignment.pk}/consent/", {"agree": True}, format="json")
    assert response.status_code == 409 and code_of(response) == "guardian_consent_pending"


# --- the guardian's link ------------------------------------------------------------------------


def test_the_guardian_gets_a_link_that_opens_their_invitation(cast, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        campaign = campaign_open(cast, classes=[cast.ds_7_1])
    invitation = GuardianInvitation.objects.get(assignment__campaign=campaign, assignment__student=cast.hamlet)
    assert invitation.purpose == "consent"
    assert [m.to for m in mailoutbox] == [["guardian@example.org"]]
    link = consent.guardian_link(invitation)
    assert link in mailoutbox[0].body
    assert cast.hamlet.name not in mailoutbox[0].body + mailoutbox[0].subject
    token = consent.guardian_token(invitation)
    assert consent.guardian_invitation_for_token(token) == invitation


def test_a_tampered_link_is_not_found(cast):
    campaign = campaign_open(cast)
    invitation = assignment_of(campaign, cast.hamlet).invitations.get()
    token = consent.guardian_token(invitation)
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    with pytest.raises(NotFound):
        consent.guardian_invitation_for_token(tampered)
    with pytest.raises(NotFound):
        consent.guardian_invitation_for_token("not-a-token")


def test_an_expired_link_answers_410(cast):
    campaign = campaign_open(cast)
    invitation = assignment_of(campaign, cast.hamlet).invitations.get()
    token = consent.guardian_token(invitation)
    GuardianInvitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(consent.LinkExpired) as caught:
        consent.guardian_invitation_for_token(token)
    assert caught.value.status == 410 and caught.value.code == "link_expired"


def test_the_link_never_outlives_the_campaign(cast):
    campaign = campaign_open(cast, closes_in=dt.timedelta(days=2))
    invitation = assignment_of(campaign, cast.hamlet).invitations.get()
    assert invitation.expires_at <= campaign.closes_at
    with pytest.raises(consent.LinkExpired):
        consent.guardian_invitation_for_token(consent.guardian_token(invitation),
                                              now=campaign.closes_at + dt.timedelta(minutes=1))


def test_sending_again_revokes_the_earlier_link(cast):
    campaign = campaign_open(cast)
    assignment = assignment_of(campaign, cast.hamlet)
    old_token = consent.guardian_token(assignment.invitations.get())
    fresh = consent.guardian_invite(actor=cast.diana, assignment=assignment)
    assert fresh is not None
    with pytest.raises(NotFound):
        consent.guardian_invitation_for_token(old_token)
    assert consent.guardian_invitation_for_token(consent.guardian_token(fresh)).pk == fresh.pk


def test_a_guardian_who_refuses_blocks_the_student(cast, api):
    campaign = campaign_open(cast)
    assignment = assignment_of(campaign, cast.hamlet)
    invitation = consent.guardian_invitation_for_token(consent.guardian_token(assignment.invitations.get()))
    record = consent.guardian_decide(invitation=invitation, decision="refused", language="zh-hans")
    assert (record.party, record.decision, record.method) == ("guardian", "refused", "link")
    client = api.as_(cast.hamlet)
    assert blocker_in_list(api, cast.hamlet, assignment) == "guardian_refused"
    own = client.post(f"{ME}{assignment.pk}/consent/", {"agree": True}, format="json")
    assert own.status_code == 409 and code_of(own) == "guardian_refused"
    response = draft_save(client, assignment, DRAFT)
    assert response.status_code == 409 and code_of(response) == "guardian_refused"


def test_a_guardian_who_withdraws_stops_further_answering(cast, api):
    campaign = campaign_open(cast)
    assignment = ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    assert draft_save(client, assignment, DRAFT).status_code == 200
    invitation = consent.guardian_invitation_for_token(consent.guardian_token(assignment.invitations.get()))
    consent.guardian_decide(invitation=invitation, decision="withdrawn", language="zh-hans")
    for response in (draft_save(client, assignment, {"phq9": {"2": 1}}),
                     submit(client, assignment, {"phq9": phq9_total(3)})):
        assert response.status_code == 409 and code_of(response) == "guardian_refused"
    assert not Submission.objects.exists()
    assert assignment_of(campaign, cast.hamlet).draft == DRAFT
    assert list(assignment.consents.filter(party="guardian").values_list("decision", flat=True)) == ["granted", "withdrawn"]


def test_a_student_who_withdraws_stops_further_answering(cast, api):
    campaign = campaign_open(cast)
    assignment = ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    assert draft_save(client, assignment, DRAFT).status_code == 200
    consent.student_consent_withdraw(actor=student_user_ensure(student=cast.hamlet), assignment=assignment, language="en")
    response = submit(client, assignment, {"phq9": phq9_total(3)})
    assert response.status_code == 409 and code_of(response) == "student_declined"
    assert not Submission.objects.exists()


def test_withdrawing_over_the_api_is_recorded_as_a_withdrawal(cast, api):
    """A mobile client has the same flow as the pages: a student who agreed and then says no has
    withdrawn (what the pages record), which the counsellor reads in the consent history."""
    campaign = campaign_open(cast)
    assignment = ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    assert draft_save(client, assignment, DRAFT).status_code == 200
    response = client.post(f"{ME}{assignment.pk}/consent/", {"agree": False}, format="json")
    assert response.status_code == 200 and response.json()["blocker"] == "student_declined"
    blocked = draft_save(client, assignment, {"phq9": {"2": 1}})
    assert blocked.status_code == 409 and code_of(blocked) == "student_declined"
    history = api.as_(cast.alice).get(f"{STAFF}{assignment.pk}/consents/").json()
    assert [(r["party"], r["decision"]) for r in history][-1] == ("student", "withdrawn")


# --- paper consent -------------------------------------------------------------------------------


def test_paper_consent_needs_a_note(cast, api):
    assignment = assignment_of(campaign_open(cast), cast.hamlet)
    client = api.as_(cast.alice)
    for body in ({"decision": "granted", "note": ""}, {"decision": "granted", "note": "   "}, {"decision": "granted"}):
        response = client.post(f"{STAFF}{assignment.pk}/paper-consent/", body, format="json")
        assert response.status_code == 400 and "note" in fields_of(response), body
    assert not ConsentRecord.objects.exists()
    assert assignment_of(assignment.campaign, cast.hamlet).guardian == "asked"


def test_paper_consent_is_recorded_by_the_counsellor_with_the_note_encrypted(cast, api):
    assignment = assignment_of(campaign_open(cast), cast.hamlet)
    note = "纸质同意书存放于心理中心档案柜A-3"
    response = api.as_(cast.alice).post(f"{STAFF}{assignment.pk}/paper-consent/",
                                        {"decision": "granted", "note": note}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["recorded_by"] == cast.alice.pk and response.json()["method"] == "paper"
    record = ConsentRecord.objects.get()
    assert (record.party, record.decision, record.recorded_by) == ("guardian", "granted", cast.alice)
    assert record.note == note
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT note FROM {ConsentRecord._meta.db_table} WHERE id = %s", [record.pk])
        raw = cursor.fetchone()[0]
    raw = raw.decode() if isinstance(raw, bytes | memoryview) and not isinstance(raw, str) else str(raw)
    assert raw and note not in raw and "A-3" not in raw
    assert assignment_of(assignment.campaign, cast.hamlet).guardian == "granted"
    assert "note" not in response.json()  # the note is not echoed to every reader of consents
    # the student may now give their own consent
    own = api.as_(cast.hamlet).post(f"{ME}{assignment.pk}/consent/", {"agree": True}, format="json")
    assert own.status_code == 200 and own.json()["blocker"] is None


def test_a_counsellor_of_another_school_cannot_record_paper_consent(cast, api):
    assignment = assignment_of(campaign_open(cast), cast.hamlet)
    response = api.as_(cast.bob).post(f"{STAFF}{assignment.pk}/paper-consent/",
                                      {"decision": "granted", "note": "form"}, format="json")
    assert response.status_code == 404
    for outsider in (cast.edgar, cast.lily, cast.olga, cast.nobody):
        refused = api.as_(outsider).post(f"{STAFF}{assignment.pk}/paper-consent/", {"decision": "granted", "note": "form"},
                                         format="json")
        assert refused.status_code in (403, 404), outsider
    assert api.as_(cast.hamlet).post(f"{STAFF}{assignment.pk}/paper-consent/", {"decision": "granted", "note": "form"},
                                     format="json").status_code == 403
    assert not ConsentRecord.objects.exists()
    assert assignment_of(assignment.campaign, cast.hamlet).guardian == "asked"


def test_a_class_limited_counsellor_cannot_record_consent_outside_their_classes(cast, api):
    campaign = campaign_open(cast)
    hilda = assignment_of(campaign, cast.hilda)  # class 7-2; carol covers 7-1 only
    response = api.as_(cast.carol).post(f"{STAFF}{hilda.pk}/paper-consent/", {"decision": "granted", "note": "form"},
                                        format="json")
    assert response.status_code == 404
    hamlet = assignment_of(campaign, cast.hamlet)
    response = api.as_(cast.carol).post(f"{STAFF}{hamlet.pk}/paper-consent/", {"decision": "granted", "note": "form"},
                                        format="json")
    assert response.status_code == 201


def test_paper_refusal_blocks_the_student(cast, api):
    assignment = assignment_of(campaign_open(cast), cast.hamlet)
    response = api.as_(cast.alice).post(f"{STAFF}{assignment.pk}/paper-consent/",
                                        {"decision": "refused", "note": "家长电话告知拒绝"}, format="json")
    assert response.status_code == 201
    assert blocker_in_list(api, cast.hamlet, assignment) == "guardian_refused"


# --- 14 to 17, and adults --------------------------------------------------------------------


def test_14_to_17_with_guardian_notice_needs_only_the_students_consent(cast, api, django_capture_on_commit_callbacks,
                                                                       mailoutbox):
    teen = make_student(cast.ds_7_1, "D0015", "十五岁同学", 15, guardian_email="teen.parent@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        campaign = campaign_open(cast, classes=[cast.ds_7_1], consent_mode="guardian_notice")
    assignment = assignment_of(campaign, teen)
    assert assignment.guardian == "notified"
    notice = assignment.consents.get(party="guardian")
    assert (notice.decision, notice.method) == ("notified", "email")
    assert assignment.invitations.get().purpose == "notice"
    to_parent = [m for m in mailoutbox if m.to == ["teen.parent@example.org"]]
    assert len(to_parent) == 1 and "十五岁同学" not in to_parent[0].body
    client = api.as_(teen)
    assert client.post(f"{ME}{assignment.pk}/consent/", {"agree": True}, format="json").status_code == 200
    assert draft_save(client, assignment, DRAFT).status_code == 200


def test_a_notified_guardian_may_still_refuse(cast, api):
    teen = make_student(cast.ds_7_1, "D0015", "十五岁同学", 15)
    campaign = campaign_open(cast, classes=[cast.ds_7_1], consent_mode="guardian_notice")
    assignment = assignment_of(campaign, teen)
    invitation = consent.guardian_invitation_for_token(consent.guardian_token(assignment.invitations.get()))
    consent.guardian_decide(invitation=invitation, decision="refused", language="zh-hans")
    response = api.as_(teen).post(f"{ME}{assignment.pk}/consent/", {"agree": True}, format="json")
    assert response.status_code == 409 and code_of(response) == "guardian_refused"


def test_14_to_17_with_guardian_consent_needs_both(cast, api):
    teen = make_student(cast.ds_7_1, "D0015", "十五岁同学", 15)
    campaign = campaign_open(cast, classes=[cast.ds_7_1], consent_mode="guardian_consent")
    assignment = assignment_of(campaign, teen)
    assert assignment.guardian == "asked" and assignment.invitations.get().purpose == "consent"
    client = api.as_(teen)
    response = client.post(f"{ME}{assignment.pk}/consent/", {"agree": True}, format="json")
    assert response.status_code == 409 and code_of(response) == "guardian_consent_pending"
    guardian_grants(cast, assignment)
    assert blocker_in_list(api, teen, assignment) == "student_consent_needed"
    response = draft_save(client, assignment, DRAFT)
    assert response.status_code == 409 and code_of(response) == "student_consent_needed"
    assert client.post(f"{ME}{assignment.pk}/consent/", {"agree": True}, format="json").status_code == 200
    assert draft_save(client, assignment, DRAFT).status_code == 200


def test_an_adult_student_consents_alone(cast, api, django_capture_on_commit_callbacks, mailoutbox):
    adult = make_student(cast.xs_10_1, "X0019", "十九岁同学", 19, guardian_email="adult.parent@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        campaign = campaign_open(cast, school=cast.xishan, classes=[cast.xs_10_1], consent_mode="guardian_consent")
    assignment = assignment_of(campaign, adult)
    assert assignment.guardian == "not_asked" and not assignment.invitations.exists()
    assert [m.to for m in mailoutbox] == [["guardian@example.org"]]  # cordelia's guardian (15) only
    staff_view = api.as_(cast.bob).get(f"{STAFF}{assignment.pk}/").json()
    assert staff_view["guardian_role"] == "none"
    client = api.as_(adult)
    assert blocker_in_list(api, adult, assignment) == "student_consent_needed"
    assert client.post(f"{ME}{assignment.pk}/consent/", {"agree": True}, format="json").status_code == 200
    assert draft_save(client, assignment, DRAFT).status_code == 200
    assert not assignment.consents.filter(party="guardian").exists()


# --- what a consent record keeps -----------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_the_students_consent_records_the_text_shown(cast, api, lang):
    campaign = campaign_open(cast, school=cast.xishan)
    assignment = assignment_of(campaign, cast.cordelia)
    guardian_grants(cast, assignment)
    client = api.as_(cast.cordelia)
    shown = client.get(f"{ME}{assignment.pk}/consent/?lang={lang}").json()
    assert shown["sha256"] == hashlib.sha256(shown["html"].encode()).hexdigest()
    assert shown["language"] == lang and shown["version"] == consent.TEXT_VERSION
    response = client.post(f"{ME}{assignment.pk}/consent/?lang={lang}", {"agree": True, "text_sha256": shown["sha256"]},
                           format="json")
    assert response.status_code == 200, response.json()
    record = assignment.consents.get(party="student")
    assert (record.decision, record.method, record.language) == ("granted", "in_app", lang)
    assert (record.text_version, record.text_sha256) == (shown["version"], shown["sha256"])


def test_the_consent_text_differs_by_language(cast, api):
    campaign = campaign_open(cast, school=cast.xishan)
    assignment = assignment_of(campaign, cast.cordelia)
    client = api.as_(cast.cordelia)
    en = client.get(f"{ME}{assignment.pk}/consent/?lang=en").json()
    zh = client.get(f"{ME}{assignment.pk}/consent/?lang=zh-hans").json()
    assert en["sha256"] != zh["sha256"] and en["html"] != zh["html"]
    assert "What is this?" in en["html"]
    assert "What is this?" not in zh["html"]  # a Chinese reader gets the Chinese text, not the English one


def test_every_consent_record_keeps_version_hash_and_language(cast, api):
    make_student(cast.ds_7_1, "D0015", "十五岁同学", 15)
    campaign = campaign_open(cast, consent_mode="guardian_notice")  # the 15-year-old's guardian is told
    ready(cast, campaign, cast.hamlet)  # link consent by the guardian, in-app by the student
    api.as_(cast.alice).post(f"{STAFF}{assignment_of(campaign, cast.hilda).pk}/paper-consent/",
                             {"decision": "granted", "note": "form filed"}, format="json")
    records = list(ConsentRecord.objects.all())
    assert sorted((r.party, r.method) for r in records) == [
        ("guardian", "email"), ("guardian", "link"), ("guardian", "paper"), ("student", "in_app"),
    ]
    for record in records:
        assert record.text_version == consent.TEXT_VERSION
        assert len(record.text_sha256) == 64 and record.language in ("en", "zh-hans")
        text = consent.consent_text(party=record.party, assignment=record.assignment, language=record.language)
        assert record.text_sha256 == text.sha256


def test_a_stale_consent_text_is_refused(cast, api):
    campaign = campaign_open(cast, school=cast.xishan)
    assignment = assignment_of(campaign, cast.cordelia)
    guardian_grants(cast, assignment)
    response = api.as_(cast.cordelia).post(f"{ME}{assignment.pk}/consent/?lang=en",
                                           {"agree": True, "text_sha256": "0" * 64}, format="json")
    assert response.status_code == 409 and code_of(response) == "consent_text_changed"
    assert not assignment.consents.filter(party="student").exists()
    assert assignment_of(campaign, cast.cordelia).student_consent == "not_asked"


def test_a_guardian_answering_a_stale_page_is_refused(cast):
    campaign = campaign_open(cast)
    invitation = assignment_of(campaign, cast.hamlet).invitations.get()
    with pytest.raises(Conflict) as caught:
        consent.guardian_decide(invitation=invitation, decision="granted", language="zh-hans", text_sha256="f" * 64)
    assert caught.value.code == "consent_text_changed"
    assert assignment_of(campaign, cast.hamlet).guardian == "asked"


def test_a_student_who_declines_is_not_screened(cast, api):
    campaign = campaign_open(cast, school=cast.xishan)
    assignment = assignment_of(campaign, cast.cordelia)
    guardian_grants(cast, assignment)
    client = api.as_(cast.cordelia)
    response = client.post(f"{ME}{assignment.pk}/consent/", {"agree": False}, format="json")
    assert response.status_code == 200 and response.json()["blocker"] == "student_declined"
    assert assignment.consents.get(party="student").decision == "refused"
    for blocked in (client.get(f"{ME}{assignment.pk}/questionnaire/"), draft_save(client, assignment, DRAFT),
                    submit(client, assignment, {"phq9": phq9_total(0)})):
        assert blocked.status_code == 409 and code_of(blocked) == "student_declined"
    assert not Submission.objects.exists()


# --- reminders -----------------------------------------------------------------------------------


@pytest.fixture
def reminder_rules(settings):
    settings.XINQIAO_CONSENT_REMINDER_DAYS = 3
    settings.XINQIAO_CONSENT_REMINDERS_MAX = 2
    settings.XINQIAO_GUARDIAN_LINK_DAYS = 14


def reminders_at(now, capture):
    with capture(execute=True):
        return consent.consent_reminders_send(now=now)


def test_reminders_go_after_n_days_at_most_m_times(cast, reminder_rules, django_capture_on_commit_callbacks, mailoutbox):
    campaign = campaign_open(cast, classes=[cast.ds_7_1], closes_in=dt.timedelta(days=30))
    t0 = timezone.now()
    assert reminders_at(t0 + dt.timedelta(days=2), django_capture_on_commit_callbacks) == 0
    assert reminders_at(t0 + dt.timedelta(days=3, minutes=1), django_capture_on_commit_callbacks) == 1
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["guardian@example.org"]
    invitation = assignment_of(campaign, cast.hamlet).invitations.get()
    assert consent.guardian_link(invitation) in mailoutbox[0].body
    assert reminders_at(t0 + dt.timedelta(days=4), django_capture_on_commit_callbacks) == 0  # not again so soon
    assert reminders_at(t0 + dt.timedelta(days=6, minutes=2), django_capture_on_commit_callbacks) == 1
    assert reminders_at(t0 + dt.timedelta(days=12), django_capture_on_commit_callbacks) == 0  # at most 2
    assert len(mailoutbox) == 2
    assert assignment_of(campaign, cast.hamlet).invitations.get().reminders_sent == 2


def test_no_reminders_after_the_campaign_closes(cast, reminder_rules, django_capture_on_commit_callbacks, mailoutbox):
    campaign = campaign_open(cast, classes=[cast.ds_7_1], closes_in=dt.timedelta(days=30))
    campaign_close(actor=cast.diana, campaign=campaign)
    assert reminders_at(timezone.now() + dt.timedelta(days=4), django_capture_on_commit_callbacks) == 0
    assert mailoutbox == []


def test_no_reminders_once_the_window_has_ended(cast, reminder_rules, django_capture_on_commit_callbacks, mailoutbox):
    campaign_open(cast, classes=[cast.ds_7_1], closes_in=dt.timedelta(days=2))
    assert reminders_at(timezone.now() + dt.timedelta(days=4), django_capture_on_commit_callbacks) == 0
    assert mailoutbox == []


def test_no_reminders_to_guardians_who_answered(cast, api, reminder_rules, django_capture_on_commit_callbacks,
                                                 mailoutbox):
    make_student(cast.ds_7_1, "D0003", "第三位", 12, guardian_email="third@example.org")
    make_student(cast.ds_7_1, "D0004", "第四位", 12, guardian_email="fourth@example.org")
    campaign = campaign_open(cast, classes=[cast.ds_7_1], closes_in=dt.timedelta(days=30))
    guardian_grants(cast, assignment_of(campaign, cast.hamlet))  # consented by link
    third = assignment_of(campaign, Student.objects.get(number="D0003"))
    api.as_(cast.alice).post(f"{STAFF}{third.pk}/paper-consent/", {"decision": "refused", "note": "电话"}, format="json")
    assert reminders_at(timezone.now() + dt.timedelta(days=4), django_capture_on_commit_callbacks) == 1
    assert [m.to for m in mailoutbox] == [["fourth@example.org"]]


def test_no_reminders_for_students_who_are_not_waiting_on_a_guardian(cast, reminder_rules,
                                                                     django_capture_on_commit_callbacks, mailoutbox):
    campaign = campaign_open(cast, classes=[cast.ds_7_1], closes_in=dt.timedelta(days=30))
    Assignment.objects.filter(campaign=campaign).update(status="missed")
    assert reminders_at(timezone.now() + dt.timedelta(days=4), django_capture_on_commit_callbacks) == 0


# --- the link as a guardian opens it -----------------------------------------------------------


def link_path(invitation):
    return consent.guardian_link(invitation).removeprefix(settings.XINQIAO_PUBLIC_URL)


def test_the_guardians_link_opens_and_records_their_consent(cast, client):
    campaign = campaign_open(cast)
    assignment = assignment_of(campaign, cast.hamlet)
    path = link_path(assignment.invitations.get())
    page = client.get(path)
    assert page.status_code == 200
    assert cast.hamlet.name not in page.content.decode()
    text = consent.consent_text(party="guardian", assignment=assignment, language="zh-hans")
    answered = client.post(path, {"decision": "granted", "language": "zh-hans", "sha256": text.sha256})
    assert answered.status_code == 302
    record = assignment.consents.get()
    assert (record.party, record.decision, record.method, record.text_sha256) == ("guardian", "granted", "link", text.sha256)
    assert assignment_of(campaign, cast.hamlet).guardian == "granted"


def test_the_guardians_link_refuses_tampered_expired_and_revoked_links(cast, client):
    campaign = campaign_open(cast)
    assignment = assignment_of(campaign, cast.hamlet)
    invitation = assignment.invitations.get()
    path = link_path(invitation)
    tampered = path[:-2] + ("A" if path[-2] != "A" else "B") + "/"
    assert client.get(tampered).status_code == 404
    consent.guardian_invite(actor=cast.diana, assignment=assignment)  # a new link revokes the old one
    assert client.get(path).status_code == 404
    assert client.post(path, {"decision": "granted"}).status_code == 404
    fresh = link_path(assignment.invitations.get())
    assert client.get(fresh).status_code == 200
    GuardianInvitation.objects.filter(assignment=assignment).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert client.get(fresh).status_code == 410
    assert client.post(fresh, {"decision": "granted", "language": "zh-hans"}).status_code == 410
    assert assignment_of(campaign, cast.hamlet).guardian == "asked"
