"""The red alert: raised in the submit's own transaction, addressed to the counsellors who cover
the student (heads of centre when none does), e-mailed after commit without a name or an answer,
and listed only to staff who cover the student."""

from __future__ import annotations

import datetime as dt

import pytest
from campaign_test_helpers import (
    ALERTS,
    ASQ_ACUTE,
    ASQ_NEGATIVE,
    assignment_of,
    campaign_open,
    phq9_total,
    ready,
    submit,
)
from django.utils import timezone

from screening.campaigns.models import Assignment, CrisisAlert, Result, Submission
from screening.campaigns.services import alerts, answering
from screening.directory.models import Membership

RED = {"phq9": phq9_total(4, item9=3), "asq": ASQ_ACUTE}


@pytest.fixture
def campaign(cast):
    for user in (cast.alice, cast.carol, cast.bob, cast.diana, cast.edgar):
        user.email = f"{user.username}@school.example.org"
        user.save(update_fields=["email"])
    return campaign_open(cast, instruments=["phq9", "asq"])


def red_submit(cast, api, campaign, student):
    response = submit(api.as_(student), ready(cast, campaign, student), RED)
    assert response.status_code == 201, response.json()
    return CrisisAlert.objects.get(student=student)


# --- who is alerted -------------------------------------------------------------------------------


def test_the_alert_goes_to_the_counsellors_who_cover_the_student(cast, api, campaign):
    hamlet_alert = red_submit(cast, api, campaign, cast.hamlet)  # class 7-1: alice and carol
    assert set(hamlet_alert.recipients.all()) == {cast.alice, cast.carol}
    hilda_alert = red_submit(cast, api, campaign, cast.hilda)  # class 7-2: carol does not cover it
    assert set(hilda_alert.recipients.all()) == {cast.alice}
    assert hamlet_alert.school == cast.dongshan
    assert hamlet_alert.due_at - hamlet_alert.created_at == dt.timedelta(hours=1)
    assert {r["id"] for r in hamlet_alert.rules} == {"asq_acute_positive", "phq_item9_high"}


def test_heads_of_centre_are_alerted_when_no_counsellor_covers_the_student(cast, api, campaign):
    Membership.objects.filter(user=cast.alice).update(ends_on=timezone.localdate() - dt.timedelta(days=1))
    alert = red_submit(cast, api, campaign, cast.hilda)  # carol covers 7-1 only; alice has left
    assert set(alert.recipients.all()) == {cast.diana}


def test_counsellors_of_another_school_are_never_alerted(cast, api, campaign):
    alert = red_submit(cast, api, campaign, cast.hamlet)
    assert not alert.recipients.filter(pk__in=[cast.bob.pk, cast.edgar.pk]).exists()
    xishan = campaign_open(cast, school=cast.xishan, instruments=["phq9", "asq"])
    assert set(red_submit(cast, api, xishan, cast.cordelia).recipients.all()) == {cast.bob}


def test_orange_and_below_raise_no_alert(cast, api, campaign):
    response = submit(api.as_(cast.hamlet), ready(cast, campaign, cast.hamlet),
                      {"phq9": phq9_total(21, item9=1), "asq": ASQ_NEGATIVE})
    assert response.status_code == 201 and response.json()["crisis"] is not None
    assert Submission.objects.get().tier == "orange"
    assert not CrisisAlert.objects.exists()


# --- the e-mail -----------------------------------------------------------------------------------


def test_each_recipient_is_emailed_after_commit_without_a_name_or_an_answer(
    cast, api, campaign, django_capture_on_commit_callbacks, mailoutbox,
):
    assignment = ready(cast, campaign, cast.hamlet)
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(api.as_(cast.hamlet), assignment, RED)
        assert response.status_code == 201
        assert mailoutbox == []  # nothing leaves before the submit has committed
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@school.example.org", "carol@school.example.org"]
    alert = CrisisAlert.objects.get()
    assert alert.notified_at is not None
    for message in mailoutbox:
        text = message.subject + "\n" + message.body
        assert f"/alerts/{alert.pk}/" in message.body
        for secret in (cast.hamlet.name, cast.hamlet.number, cast.hamlet.public_id, cast.ds_7_1.name, "phq9", "asq"):
            assert secret not in text, secret


def test_an_alert_is_emailed_once(cast, api, campaign, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        red_submit(cast, api, campaign, cast.hamlet)
    assert len(mailoutbox) == 2
    assert alerts.crisis_alert_notify(alert_id=CrisisAlert.objects.get().pk) == 0
    assert len(mailoutbox) == 2


def test_recipients_without_an_address_are_skipped(cast, api, campaign, django_capture_on_commit_callbacks, mailoutbox):
    cast.carol.email = ""
    cast.carol.save(update_fields=["email"])
    with django_capture_on_commit_callbacks(execute=True):
        red_submit(cast, api, campaign, cast.hamlet)
    assert [m.to for m in mailoutbox] == [["alice@school.example.org"]]


# --- who sees alerts ------------------------------------------------------------------------------


def test_alerts_are_listed_only_to_staff_who_cover_the_student(cast, api, campaign):
    hamlet_alert = red_submit(cast, api, campaign, cast.hamlet)
    hilda_alert = red_submit(cast, api, campaign, cast.hilda)

    def listed(user):
        response = api.as_(user).get(ALERTS)
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    assert listed(cast.alice) == listed(cast.diana) == {hamlet_alert.pk, hilda_alert.pk}
    assert listed(cast.carol) == {hamlet_alert.pk}
    assert listed(cast.bob) == listed(cast.edgar) == set()
    assert api.as_(cast.carol).get(f"{ALERTS}{hilda_alert.pk}/").status_code == 404
    for outsider in (cast.bob, cast.edgar, cast.lily, cast.nobody):
        assert api.as_(outsider).get(f"{ALERTS}{hamlet_alert.pk}/").status_code in (403, 404)
    assert api.as_(cast.bob).get(f"{ALERTS}{hamlet_alert.pk}/").status_code == 404
    row = api.as_(cast.alice).get(f"{ALERTS}{hamlet_alert.pk}/").json()
    assert row["student"] == cast.hamlet.public_id
    assert cast.hamlet.name not in str(row)


def test_students_cannot_read_alerts(cast, api, campaign):
    alert = red_submit(cast, api, campaign, cast.hamlet)
    assert api.as_(cast.hamlet).get(ALERTS).status_code == 403
    assert api.as_(cast.hamlet).get(f"{ALERTS}{alert.pk}/").status_code in (403, 404)


# --- one transaction ------------------------------------------------------------------------------


def test_no_submission_remains_when_the_alert_cannot_be_raised(cast, api, campaign, monkeypatch):
    assignment = ready(cast, campaign, cast.hamlet)
    client = api.as_(cast.hamlet)
    client.patch(f"/api/v1/me/assignments/{assignment.pk}/draft/", {"answers": {"phq9": {"1": 1}}}, format="json")

    def broken(**kwargs):
        raise RuntimeError("alert insert failed")

    monkeypatch.setattr(answering.alerts, "crisis_alert_raise", broken)
    with pytest.raises(RuntimeError):
        submit(client, assignment, RED)
    assert not Submission.objects.exists() and not Result.objects.exists() and not CrisisAlert.objects.exists()
    after = Assignment.objects.get(pk=assignment.pk)
    assert after.status == "in_progress" and after.submitted_at is None and after.draft == {"phq9": {"1": 1}}

    monkeypatch.undo()  # the retry with the same key goes through once the fault is gone
    assert submit(client, assignment, RED).status_code == 201
    assert CrisisAlert.objects.count() == 1 and Submission.objects.count() == 1


def test_the_alert_rolls_back_with_a_failed_submission(cast, api, campaign, monkeypatch):
    """The reverse: a failure after the alert is written takes the alert away with it."""
    assignment = ready(cast, campaign, cast.hamlet)

    def broken_audit(*args, **kwargs):
        if kwargs.get("object_type") == "campaigns.CrisisAlert":
            raise RuntimeError("audit down")
        return original(*args, **kwargs)

    original = alerts.audit_record
    monkeypatch.setattr(alerts, "audit_record", broken_audit)
    with pytest.raises(RuntimeError):
        submit(api.as_(cast.hamlet), assignment, RED)
    assert not CrisisAlert.objects.exists() and not Submission.objects.exists()
    assert assignment_of(campaign, cast.hamlet).status == "pending"
