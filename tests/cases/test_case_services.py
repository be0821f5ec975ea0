"""Cases from flags, and what counsellors do on them: one open case per student, tiers that only
rise, contacts that meet first-contact limits, plans from the tier's rhythm, closing with a reason."""

from __future__ import annotations

import datetime as dt

import pytest
from case_helpers import campaign_for, case_of, flag
from django.utils import timezone

from screening.campaigns.models import CrisisAlert
from screening.cases.models import Case, CaseEvent, CaseFlag, Contact, FollowUp
from screening.cases.services import flags, work
from screening.core.errors import Conflict, InvalidInput, NotFound
from screening.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def kinds(case: Case) -> list[str]:
    return list(case.events.order_by("at", "id").values_list("kind", flat=True))


def test_yellow_and_above_open_a_case_and_green_does_not(cast):
    flag(cast, cast.hilda, "green")
    assert not Case.objects.exists()
    submission = flag(cast, cast.hamlet, "orange")
    case = case_of(cast.hamlet)
    assert (case.tier, case.status, case.school) == ("orange", "open", cast.dongshan)
    assert case.first_contact_due_at == submission.first_contact_due_at
    assert case.first_contact_due_at - submission.submitted_at == dt.timedelta(hours=24)
    assert kinds(case) == ["opened"]
    assert CaseFlag.objects.get().effect == "opened"


def test_a_new_flag_updates_the_open_case_and_only_raises_its_tier(cast):
    flag(cast, cast.hamlet, "yellow")
    flag(cast, cast.hamlet, "red")
    case = case_of(cast.hamlet)
    assert case.tier == "red" and Case.objects.count() == 1
    assert case.first_contact_due_at - case.flags.get(tier="red").at == dt.timedelta(hours=1)
    flag(cast, cast.hamlet, "orange")
    case.refresh_from_db()
    assert case.tier == "red"
    assert [f.effect for f in case.flags.order_by("at")] == ["opened", "raised", "updated"]
    assert kinds(case) == ["opened", "tier_raised", "flagged", "alert_raised", "flagged"]


def test_a_red_alert_must_be_acknowledged_once_by_someone_who_covers_the_student(cast):
    flag(cast, cast.hamlet, "red")
    alert = CrisisAlert.objects.get()
    assert alert.acknowledge_due_at - alert.created_at == dt.timedelta(minutes=15)
    assert alert.hospital_due_at - alert.created_at == dt.timedelta(minutes=30)
    with pytest.raises(NotFound):
        work.alert_acknowledge(actor=cast.bob, alert=alert.pk)  # another school
    with pytest.raises(NotFound):
        work.alert_acknowledge(actor=cast.lily, alert=alert.pk)  # a liaison
    first = work.alert_acknowledge(actor=cast.carol, alert=alert.pk)
    again = work.alert_acknowledge(actor=cast.alice, alert=alert.pk)
    assert first.acknowledged_by == again.acknowledged_by == cast.carol
    assert again.acknowledged_at == first.acknowledged_at
    assert kinds(case_of(cast.hamlet)).count("alert_acknowledged") == 1


def test_a_contact_meets_the_first_contact_limit_and_is_encrypted(cast):
    flag(cast, cast.hamlet, "orange")
    case = case_of(cast.hamlet)
    at = timezone.now()
    contact = work.contact_record(actor=cast.alice, case=case.pk, at=at, method="face_to_face",
                                  participants=["student"], outcome="confirmed_need", note="谈话记录：睡眠差")
    case.refresh_from_db()
    assert (case.status, case.first_contact_at, case.first_contact_due_at) == ("in_contact", at, None)
    assert case.flags.get().contacted_at == at
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT note FROM cases_contact WHERE id = %s", [contact.pk])
        stored = cursor.fetchone()[0]
    assert "睡眠" not in stored and Contact.objects.get().note == "谈话记录：睡眠差"
    assert AuditEvent.objects.filter(object_type="cases.Contact", object_id=str(contact.pk), action="create").exists()


def test_could_not_reach_is_recorded_but_is_not_a_first_contact(cast):
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    work.contact_record(actor=cast.alice, case=case, at=timezone.now(), method="phone", participants=["student"],
                        outcome="could_not_reach")
    case.refresh_from_db()
    assert case.status == "open" and case.first_contact_at is None and case.first_contact_due_at is not None


def test_contact_input_is_checked_field_by_field(cast):
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    with pytest.raises(InvalidInput) as refused:
        work.contact_record(actor=cast.alice, case=case, at=timezone.now() + dt.timedelta(days=1), method="fax",
                            participants=["neighbour"], outcome="")
    assert set(refused.value.fields) == {"at", "method", "participants", "outcome"}
    with pytest.raises(InvalidInput) as refused:
        work.contact_record(actor=cast.alice, case=case, at=timezone.now(), method="phone", kind="guardian",
                            participants=["student"])
    assert set(refused.value.fields) == {"participants"}
    assert not Contact.objects.exists()


def test_a_repeated_contact_with_the_same_key_is_recorded_once(cast):
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    args = dict(actor=cast.alice, case=case.pk, at=timezone.now(), method="online", participants=["student"],
                outcome="no_current_need", request_key="form-123")
    assert work.contact_record(**args).pk == work.contact_record(**args).pk
    assert Contact.objects.count() == 1


def test_a_class_limited_counsellor_cannot_touch_a_case_outside_their_classes(cast):
    flag(cast, cast.hilda, "yellow")  # class 7-2; carol covers 7-1 only
    case = case_of(cast.hilda)
    with pytest.raises(NotFound):
        work.contact_record(actor=cast.carol, case=case, at=timezone.now(), method="phone", participants=["student"],
                            outcome="no_current_need")
    with pytest.raises(NotFound):
        work.case_close(actor=cast.carol, case=case, reason="no_current_need")


def test_one_click_plan_follows_the_tiers_rhythm_and_can_be_edited(cast):
    flag(cast, cast.hamlet, "red")
    case = case_of(cast.hamlet)
    start = timezone.localdate()
    suggested = work.follow_up_suggest(case=case)
    assert [(d - start).days for d in suggested] == [1, 2, 3, 10, 17, 24, 31]
    work.contact_record(actor=cast.alice, case=case, at=timezone.now(), method="face_to_face",
                        participants=["student", "class_teacher"], outcome="confirmed_need")
    plan = work.follow_up_plan_create(actor=cast.alice, case=case, dates=[*suggested[:-1], start + dt.timedelta(days=40)])
    case.refresh_from_db()
    assert case.status == "monitoring"
    assert [(f.due_on - start).days for f in plan.follow_ups.all()] == [1, 2, 3, 10, 17, 24, 40]
    replan = work.follow_up_plan_create(actor=cast.alice, case=case, dates=[start + dt.timedelta(days=7)])
    assert FollowUp.objects.filter(plan=plan, status="cancelled").count() == 7
    assert replan.follow_ups.get().status == "planned"
    with pytest.raises(InvalidInput) as refused:
        work.follow_up_plan_create(actor=cast.alice, case=case, dates=[start - dt.timedelta(days=1)])
    assert "dates" in refused.value.fields


def test_a_contact_counts_as_the_follow_up_it_names_and_only_that(cast):
    flag(cast, cast.hamlet, "orange")
    case = case_of(cast.hamlet)
    work.contact_record(actor=cast.alice, case=case, at=timezone.now(), method="phone", participants=["student"],
                        outcome="confirmed_need")
    plan = work.follow_up_plan_create(actor=cast.alice, case=case, dates=[timezone.localdate() + dt.timedelta(days=1)])
    follow_up = plan.follow_ups.get()
    assert work.next_follow_up(case) == follow_up  # what the contact form offers
    work.contact_record(actor=cast.alice, case=case, at=timezone.now(), method="phone", participants=["student"],
                        outcome="confirmed_need")
    follow_up.refresh_from_db()
    assert follow_up.status == "planned"  # not named: not taken for the follow-up
    contact = work.contact_record(actor=cast.alice, case=case, at=timezone.now(), method="face_to_face",
                                  participants=["student"], outcome="confirmed_need", follow_up=follow_up.pk)
    follow_up.refresh_from_db()
    assert follow_up.status == "done" and contact.follow_up == follow_up
    with pytest.raises(InvalidInput) as refused:
        work.contact_record(actor=cast.alice, case=case, at=timezone.now(), method="phone", kind="guardian",
                            participants=["guardian"], follow_up=follow_up.pk)
    assert set(refused.value.fields) == {"follow_up"}


def test_a_reused_request_key_with_another_contact_is_a_conflict(cast):
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    at = timezone.now()
    work.contact_record(actor=cast.alice, case=case, at=at, method="phone", participants=["student"],
                        outcome="no_current_need", request_key="k1")
    with pytest.raises(Conflict):
        work.contact_record(actor=cast.alice, case=case, at=at, method="phone", participants=["student"],
                            outcome="confirmed_need", request_key="k1")


def test_closing_needs_a_reason_an_acknowledged_alert_and_cancels_planned_follow_ups(cast):
    flag(cast, cast.hamlet, "red")
    case = case_of(cast.hamlet)
    with pytest.raises(InvalidInput) as refused:
        work.case_close(actor=cast.alice, case=case, reason="other", note=" ")
    assert set(refused.value.fields) == {"note"}
    with pytest.raises(Conflict):
        work.case_close(actor=cast.alice, case=case, reason="no_current_need")
    work.alert_acknowledge(actor=cast.alice, alert=CrisisAlert.objects.get())
    work.follow_up_plan_create(actor=cast.alice, case=case, dates=[timezone.localdate() + dt.timedelta(days=3)])
    closed = work.case_close(actor=cast.alice, case=case, reason="support_completed", note="家长已知情")
    assert (closed.status, closed.close_reason, closed.closed_by) == ("closed", "support_completed", cast.alice)
    assert FollowUp.objects.get().status == "cancelled"
    with pytest.raises(Conflict):
        work.contact_record(actor=cast.alice, case=case, at=timezone.now(), method="phone", participants=["student"],
                            outcome="no_current_need")
    assert kinds(closed)[-1] == "closed"


def test_a_flag_soon_after_closing_reopens_and_a_later_one_opens_a_new_case(cast):
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    work.case_close(actor=cast.alice, case=case, reason="no_current_need")
    flag(cast, cast.hamlet, "orange")
    reopened = case_of(cast.hamlet)
    assert reopened.pk == case.pk and reopened.tier == "orange" and reopened.first_contact_due_at is not None
    assert "reopened" in kinds(reopened)
    work.case_close(actor=cast.alice, case=reopened, reason="no_current_need")
    Case.objects.filter(pk=case.pk).update(closed_at=timezone.now() - flags.REOPEN_WITHIN - dt.timedelta(days=1))
    flag(cast, cast.hamlet, "yellow", campaign=campaign_for(cast, cast.hamlet))
    new = case_of(cast.hamlet)
    assert new.pk != case.pk and new.previous_id == case.pk
    assert CaseEvent.objects.get(case=new, kind="opened").detail["previous"] == case.pk
