"""The workspace's timers, with the clock moved: an unacknowledged red alert goes to the heads of
centre after the school's limit and to the partner hospital after the second; an overdue first
contact escalates; a missed follow-up is marked; nothing happens twice and nothing is lost when the
sweep did not run for a while."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from case_helpers import case_of, flag
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from screening.campaigns.models import CrisisAlert
from screening.cases.models import CaseEvent, FollowUp
from screening.cases.services import work
from screening.cases.services.escalation import escalations_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def emails(cast):
    for user in (cast.alice, cast.carol, cast.diana, cast.edgar, cast.lily, cast.liam):
        user.email = f"{user.username}@example.org"
        user.save(update_fields=["email"])
    cast.dongshan.crisis_line = "010-12345678"
    cast.dongshan.partner_hospital = cast.kangning  # lily is its liaison; liam (Anding) is not
    cast.dongshan.save(update_fields=["crisis_line", "partner_hospital"])


def escalations(case) -> list[str]:
    kinds = {CaseEvent.Kind.ALERT_ESCALATED_SCHOOL, CaseEvent.Kind.ALERT_ESCALATED_HOSPITAL, CaseEvent.Kind.ESCALATED}
    return list(case.events.filter(kind__in=kinds).order_by("at", "id").values_list("kind", flat=True))


def test_an_unacknowledged_red_alert_escalates_on_schedule(cast, emails, django_capture_on_commit_callbacks):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        flag(cast, cast.hamlet, "red")
    case, alert = case_of(cast.hamlet), CrisisAlert.objects.get()
    mail.outbox.clear()
    with time_machine.travel(start + dt.timedelta(minutes=14, seconds=59), tick=False):
        assert escalations_run()["alerts_to_school"] == 0
    with time_machine.travel(start + dt.timedelta(minutes=15), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        assert escalations_run() == {"alerts_to_school": 1, "alerts_to_hospital": 0, "first_contact_overdue": 0,
                                     "follow_ups_missed": 0}
    event = case.events.get(kind="alert_escalated_school")
    assert event.at == start + dt.timedelta(minutes=15) and event.actor is None
    assert event.detail["to"] == [cast.diana.pk] and event.notified_at is not None
    assert [m.to for m in mail.outbox] == [[cast.diana.email]]
    assert cast.hamlet.name not in mail.outbox[0].body and f"/cases/{case.pk}/" in mail.outbox[0].body
    with time_machine.travel(start + dt.timedelta(minutes=29), tick=False):
        assert escalations_run()["alerts_to_school"] == 0  # never twice
    with time_machine.travel(start + dt.timedelta(minutes=30), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        assert escalations_run()["alerts_to_hospital"] == 1
    hospital = case.events.get(kind="alert_escalated_hospital")
    assert hospital.detail["to"] == [cast.lily.pk] and "agreement" not in hospital.detail  # no agreement yet
    assert "010-12345678" in mail.outbox[-1].body and cast.hamlet.name not in mail.outbox[-1].body
    alert.refresh_from_db()
    assert alert.escalated_school_at == start + dt.timedelta(minutes=15)
    assert alert.escalated_hospital_at == start + dt.timedelta(minutes=30)
    # the first-contact limit (1 hour for red) passes too
    with time_machine.travel(start + dt.timedelta(hours=1), tick=False):
        assert escalations_run()["first_contact_overdue"] == 1
    assert escalations(case) == ["alert_escalated_school", "alert_escalated_hospital", "escalated"]


def test_an_acknowledged_alert_does_not_escalate(cast, emails):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        flag(cast, cast.hamlet, "red")
    with time_machine.travel(start + dt.timedelta(minutes=10), tick=False):
        work.alert_acknowledge(actor=cast.alice, alert=CrisisAlert.objects.get())
    with time_machine.travel(start + dt.timedelta(minutes=45), tick=False):
        counts = escalations_run()
    assert counts["alerts_to_school"] == counts["alerts_to_hospital"] == 0
    assert escalations(case_of(cast.hamlet)) == []  # and the hour for first contact has not passed


def test_a_sweep_after_a_pause_catches_up_on_everything_due(cast, emails):
    """The deadlines are in the rows: timers restarted after two hours act on what fell due."""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        flag(cast, cast.hamlet, "red")
    with time_machine.travel(start + dt.timedelta(hours=2), tick=False):
        call_command("run_timers", "--once")
    assert escalations(case_of(cast.hamlet)) == ["alert_escalated_school", "alert_escalated_hospital", "escalated"]


def test_orange_and_yellow_escalate_when_the_first_contact_limit_passes(cast, emails):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        flag(cast, cast.hamlet, "orange")
        flag(cast, cast.hilda, "yellow")
    with time_machine.travel(start + dt.timedelta(hours=23), tick=False):
        assert escalations_run()["first_contact_overdue"] == 0
    with time_machine.travel(start + dt.timedelta(hours=24, seconds=1), tick=False):
        assert escalations_run()["first_contact_overdue"] == 1
    with time_machine.travel(start + dt.timedelta(days=7, seconds=1), tick=False):
        assert escalations_run()["first_contact_overdue"] == 1
    assert escalations(case_of(cast.hamlet)) == escalations(case_of(cast.hilda)) == ["escalated"]


def test_a_contact_in_time_prevents_the_escalation(cast, emails):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        flag(cast, cast.hamlet, "orange")
    with time_machine.travel(start + dt.timedelta(hours=3), tick=False):
        work.contact_record(actor=cast.alice, case=case_of(cast.hamlet), at=timezone.now(), method="face_to_face",
                            participants=["student"], outcome="confirmed_need")
    with time_machine.travel(start + dt.timedelta(days=2), tick=False):
        assert escalations_run()["first_contact_overdue"] == 0


def test_a_follow_up_day_passing_without_contact_is_marked_missed(cast, emails):
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    plan = work.follow_up_plan_create(actor=cast.alice, case=case, dates=[timezone.localdate() + dt.timedelta(days=2)])
    with time_machine.travel(timezone.now() + dt.timedelta(days=2), tick=False):
        assert escalations_run()["follow_ups_missed"] == 0  # still its day
    with time_machine.travel(timezone.now() + dt.timedelta(days=3, hours=1), tick=False):
        assert escalations_run()["follow_ups_missed"] == 1
        assert escalations_run()["follow_ups_missed"] == 0
    assert plan.follow_ups.get().status == FollowUp.Status.MISSED
    assert case.events.filter(kind="follow_up_missed").count() == 1


def test_the_hospital_step_also_reaches_the_agreements_crisis_contact(cast, emails, django_capture_on_commit_callbacks):
    from tests.referrals.test_referral_rules import agreement

    agreement(cast)  # Dongshan–Kangning, covers red, crisis contact crisis@kangning.example.org
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        flag(cast, cast.hamlet, "red")
    mail.outbox.clear()
    with time_machine.travel(start + dt.timedelta(minutes=31), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        escalations_run()
    # the school step (15 minutes) went to diana; the hospital step to lily and the named contact
    assert sorted(m.to[0] for m in mail.outbox) == sorted([cast.diana.email, cast.lily.email, "crisis@kangning.example.org"])
