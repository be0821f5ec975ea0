"""Agreements and referrals: who may record an agreement, the consent and emergency rules, one live
referral per student, the state machine and who may make each move, and what a liaison sees."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from screening.cases.models import CaseEvent
from screening.cases.services import work
from screening.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from screening.referrals import states
from screening.referrals.models import Referral, ReferralEvent
from screening.referrals.services import agreements, referrals
from tests.cases.case_helpers import case_of, flag

pytestmark = pytest.mark.django_db

LIMITS = {"red": {"acknowledge_hours": 2, "decide_hours": 12}, "orange": {"acknowledge_hours": 24, "decide_hours": 72}}


def agreement(cast: Any, **extra: Any) -> Any:
    today = timezone.localdate()
    args = dict(actor=cast.diana, school=cast.dongshan, hospital=cast.kangning, valid_from=today - dt.timedelta(days=30),
                valid_until=today + dt.timedelta(days=335), tiers=["red", "orange"], limits=LIMITS,
                crisis_contact_name="值班医生", crisis_contact_email="crisis@kangning.example.org",
                crisis_line="0755-3333333")
    return agreements.agreement_save(**(args | extra))


def guardian_consent(cast: Any, student: Any, hospital: Any = None) -> Any:
    return agreements.sharing_consent_record(actor=cast.alice, student=student, hospital=hospital or cast.kangning,
                                             party="guardian", method="paper", given_at=timezone.now())


@pytest.fixture
def orange_case(cast: Any) -> Any:
    agreement(cast)
    flag(cast, cast.hamlet, "orange")
    return case_of(cast.hamlet)


def draft(cast: Any, case: Any, **extra: Any) -> Referral:
    args = dict(actor=cast.alice, case=case, hospital=cast.kangning, reason="持续情绪低落，需专科评估",
                basis="consent", consent=guardian_consent(cast, case.student))
    return referrals.referral_create(**(args | extra))


# --- agreements -----------------------------------------------------------------------------------


def test_only_the_schools_head_or_a_platform_admin_records_an_agreement(cast):
    with pytest.raises(NotAllowed):
        agreement(cast, actor=cast.alice)
    with pytest.raises(NotAllowed):
        agreement(cast, actor=cast.edgar)  # Xishan's head
    assert agreement(cast).school == cast.dongshan and agreement(cast, actor=cast.root).pk


def test_an_agreement_is_checked_field_by_field(cast):
    today = timezone.localdate()
    with pytest.raises(InvalidInput) as refused:
        agreement(cast, valid_until=today - dt.timedelta(days=60), tiers=["purple"], crisis_line=" ",
                  endpoint_url="http://hospital.example.org/fhir", endpoint_secret="short")
    assert set(refused.value.fields) == {"valid_until", "tiers", "crisis_line", "endpoint_url", "endpoint_secret"}
    with pytest.raises(InvalidInput) as refused:
        agreement(cast, limits={"red": {"acknowledge_hours": 5, "decide_hours": 2}})
    assert set(refused.value.fields) == {"limits"}


def test_an_expired_agreement_or_an_uncovered_tier_takes_no_referral(cast):
    today = timezone.localdate()
    agreement(cast, valid_from=today - dt.timedelta(days=400), valid_until=today - dt.timedelta(days=1))
    flag(cast, cast.hamlet, "orange")
    with pytest.raises(InvalidInput) as refused:
        draft(cast, case_of(cast.hamlet))
    assert "hospital" in refused.value.fields
    agreement(cast, tiers=["red"], limits=LIMITS)
    with pytest.raises(InvalidInput) as refused:
        draft(cast, case_of(cast.hamlet))  # orange is not covered
    assert "hospital" in refused.value.fields


# --- consent and the emergency basis ----------------------------------------------------------------


def test_under_14_the_guardian_consents_to_sharing(cast, orange_case):
    with pytest.raises(InvalidInput) as refused:
        agreements.sharing_consent_record(actor=cast.alice, student=cast.hamlet, hospital=cast.kangning,
                                          party="student", method="in_person", given_at=timezone.now())
    assert set(refused.value.fields) == {"party"}
    assert draft(cast, orange_case).basis == "consent"


def test_consent_to_another_hospital_or_none_is_no_basis(cast, orange_case):
    with pytest.raises(InvalidInput) as refused:
        draft(cast, orange_case, consent=guardian_consent(cast, cast.hamlet, cast.anding))
    assert set(refused.value.fields) == {"consent"}
    with pytest.raises(InvalidInput) as refused:
        draft(cast, orange_case, consent=None)
    assert set(refused.value.fields) == {"consent"}


def test_the_emergency_basis_needs_a_justification_and_tells_the_head(cast, orange_case,
                                                                       django_capture_on_commit_callbacks):
    cast.diana.email = "diana@example.org"
    cast.diana.save(update_fields=["email"])
    with pytest.raises(InvalidInput) as refused:
        draft(cast, orange_case, basis="emergency", consent=None, emergency_justification=" ")
    assert set(refused.value.fields) == {"emergency_justification"}
    referral = draft(cast, orange_case, basis="emergency", consent=None,
                     emergency_justification="学生表示今晚有自伤计划，监护人暂时联系不上")
    with django_capture_on_commit_callbacks(execute=True):
        sent = referrals.referral_send(actor=cast.alice, referral=referral)
    assert sent.guardian_notice_due is True
    assert [m.to for m in mail.outbox] == [["diana@example.org"]] and cast.hamlet.name not in mail.outbox[0].body
    work.contact_record(actor=cast.alice, case=orange_case, at=timezone.now(), method="phone", kind="guardian",
                        participants=["guardian"], note="已电话告知监护人紧急转介情况")
    sent.refresh_from_db()
    assert sent.guardian_notice_due is False  # the guardian has been told


def test_a_guardian_still_not_told_a_day_after_an_emergency_referral_is_a_reminder(
        cast, orange_case, django_capture_on_commit_callbacks):
    import time_machine

    from screening.referrals.timers import referral_timers_run

    for user in (cast.diana, cast.alice):
        user.email = f"{user.username}@example.org"
        user.save(update_fields=["email"])
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        referral = referrals.referral_send(actor=cast.alice, referral=draft(
            cast, orange_case, basis="emergency", consent=None, emergency_justification="今晚有自伤计划，监护人联系不上"))
    mail.outbox.clear()
    with time_machine.travel(start + dt.timedelta(hours=23, minutes=59), tick=False):
        assert referral_timers_run()["guardian_notice"] == 0
    with time_machine.travel(start + dt.timedelta(hours=24), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        assert referral_timers_run()["guardian_notice"] == 1
        assert referral_timers_run()["guardian_notice"] == 0  # once
    from django.conf import settings
    from django.utils.translation import gettext, override

    with override(settings.LANGUAGE_CODE):
        subject = gettext("A guardian has not been told of an emergency referral")
    reminders = [m for m in mail.outbox if m.subject == subject]
    assert sorted(m.to[0] for m in reminders) == ["alice@example.org", "diana@example.org"]
    assert cast.hamlet.name not in reminders[0].body
    assert ReferralEvent.objects.filter(referral=referral, detail__escalated="guardian_notice").count() == 1


def test_a_guardian_told_in_time_means_no_reminder(cast, orange_case):
    import time_machine

    from screening.referrals.timers import referral_timers_run

    start = timezone.now()
    with time_machine.travel(start, tick=False):
        referrals.referral_send(actor=cast.alice, referral=draft(
            cast, orange_case, basis="emergency", consent=None, emergency_justification="今晚有自伤计划，监护人联系不上"))
    with time_machine.travel(start + dt.timedelta(hours=3), tick=False):
        work.contact_record(actor=cast.alice, case=orange_case, at=timezone.now(), method="phone", kind="guardian",
                            participants=["guardian"], note="已电话告知监护人")
    with time_machine.travel(start + dt.timedelta(hours=25), tick=False):
        assert referral_timers_run()["guardian_notice"] == 0


# --- one live referral --------------------------------------------------------------------------------


def test_a_second_referral_points_to_the_live_one(cast, orange_case):
    first = draft(cast, orange_case)
    with pytest.raises(Conflict) as refused:
        draft(cast, orange_case)
    assert refused.value.code == "live_referral" and refused.value.fields == {"referral": [first.pk]}
    referrals.referral_cancel(actor=cast.alice, referral=first, note="家长要求改去其他医院")
    assert draft(cast, orange_case).pk != first.pk  # a cancelled one is not live


# --- the state machine ------------------------------------------------------------------------------


def test_every_move_in_the_table_belongs_to_a_side_and_ends_are_final():
    for (frm, to), sides in states.MOVES.items():
        assert sides <= {states.SCHOOL, states.HOSPITAL} and sides, (frm, to)
        assert frm not in states.ENDED
    assert states.moves_from("draft", "school") == ["sent", "cancelled"]
    assert states.moves_from("draft", "hospital") == []
    assert not states.allowed("attended", "cancelled", "school")  # not after attendance


def test_the_whole_loop_from_draft_to_feedback_and_back_to_the_case(cast, orange_case):
    referral = draft(cast, orange_case)
    with pytest.raises(NotFound):  # a liaison never sees a draft
        referrals.referral_acknowledge(actor=cast.lily, referral=referral)
    sent = referrals.referral_send(actor=cast.alice, referral=referral)
    assert sent.acknowledge_due_at - sent.sent_at == dt.timedelta(hours=24)
    assert sent.decide_due_at - sent.sent_at == dt.timedelta(hours=72)
    with pytest.raises(NotFound):
        referrals.referral_accept(actor=cast.liam, referral=referral)  # another hospital
    with pytest.raises(NotAllowed):
        referrals.referral_acknowledge(actor=cast.alice, referral=referral)  # the hospital's step
    accepted = referrals.referral_accept(actor=cast.lily, referral=referral)  # acknowledges first
    assert accepted.state == "accepted" and accepted.acknowledged_at is not None
    with pytest.raises(Conflict):
        referrals.referral_attendance(actor=cast.lily, referral=referral, attended=True, recommendation="outpatient")
    referrals.referral_schedule(actor=cast.lily, referral=referral, at=timezone.now() + dt.timedelta(days=2),
                                place="康宁医院门诊三楼儿少心理科", bring="学生证、既往就诊记录")
    with pytest.raises(Conflict) as refused:
        work.case_close(actor=cast.alice, case=orange_case, reason="support_completed")
    assert refused.value.code == "live_referral"
    done = referrals.referral_attendance(actor=cast.lily, referral=referral, attended=True,
                                         recommendation="return_with_follow_up", advice="建议学校每周随访")
    assert (done.state, done.seen, done.recommendation) == ("attended", True, "return_with_follow_up")
    referrals.referral_close(actor=cast.alice, referral=referral)
    moves = list(ReferralEvent.objects.filter(referral=referral).values_list("from_state", "to_state", "side"))
    assert moves == [("", "draft", "school"), ("draft", "sent", "school"), ("sent", "acknowledged", "hospital"),
                     ("acknowledged", "accepted", "hospital"), ("accepted", "scheduled", "hospital"),
                     ("scheduled", "attended", "hospital"), ("attended", "closed", "school")]
    on_case = CaseEvent.objects.filter(case=orange_case, kind="referral").count()
    assert on_case == len(moves)
    assert work.case_close(actor=cast.alice, case=orange_case, reason="support_completed").status == "closed"


def test_declining_needs_a_reason_and_frees_the_student_for_another_referral(cast, orange_case):
    referral = referrals.referral_send(actor=cast.alice, referral=draft(cast, orange_case))
    with pytest.raises(InvalidInput) as refused:
        referrals.referral_decline(actor=cast.lily, referral=referral, reason="other", text="")
    assert set(refused.value.fields) == {"text"}
    declined = referrals.referral_decline(actor=cast.lily, referral=referral, reason="no_capacity", text="本周床位已满")
    assert declined.state == "declined" and referrals.live_referral(cast.hamlet.pk) is None
    with pytest.raises(Conflict):
        referrals.referral_cancel(actor=cast.alice, referral=referral, note="已被拒绝")


def test_the_school_cancels_before_attendance_only(cast, orange_case):
    referral = referrals.referral_send(actor=cast.alice, referral=draft(cast, orange_case))
    with pytest.raises(NotAllowed):
        referrals.referral_cancel(actor=cast.lily, referral=referral, note="医院不能撤回")
    with pytest.raises(InvalidInput):
        referrals.referral_cancel(actor=cast.alice, referral=referral, note="")
    assert referrals.referral_cancel(actor=cast.alice, referral=referral, note="学生已转学").state == "cancelled"


def test_a_class_limited_counsellor_cannot_refer_outside_their_classes(cast):
    agreement(cast)
    flag(cast, cast.hilda, "orange")  # class 7-2; carol covers 7-1
    with pytest.raises(NotFound):
        draft(cast, case_of(cast.hilda), actor=cast.carol)


def test_what_a_liaison_sees(cast, orange_case):
    referral = draft(cast, orange_case)
    assert not Referral.objects.visible_to(cast.lily).exists()
    referrals.referral_send(actor=cast.alice, referral=referral)
    assert list(Referral.objects.visible_to(cast.lily)) == [referral]
    assert not Referral.objects.visible_to(cast.liam).exists()
    assert not Referral.objects.visible_to(cast.olga).exists() and not Referral.objects.visible_to(cast.bob).exists()
    assert ReferralEvent.objects.visible_to(cast.lily).count() == 2  # the same timeline as the school


# --- the hospital's time limits ---------------------------------------------------------------------


def test_a_referral_the_hospital_leaves_escalates_on_both_sides(cast, orange_case, django_capture_on_commit_callbacks):
    import time_machine

    from screening.referrals.timers import referral_timers_run

    for user in (cast.diana, cast.lily):
        user.email = f"{user.username}@example.org"
        user.save(update_fields=["email"])
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        referral = referrals.referral_send(actor=cast.alice, referral=draft(cast, orange_case))
    mail.outbox.clear()
    with time_machine.travel(start + dt.timedelta(hours=23, minutes=59), tick=False):
        assert referral_timers_run() == {"acknowledge": 0, "decide": 0, "guardian_notice": 0}
    with time_machine.travel(start + dt.timedelta(hours=24), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        assert referral_timers_run() == {"acknowledge": 1, "decide": 0, "guardian_notice": 0}
        assert referral_timers_run() == {"acknowledge": 0, "decide": 0, "guardian_notice": 0}  # once
    assert sorted(m.to[0] for m in mail.outbox) == ["crisis@kangning.example.org", "diana@example.org", "lily@example.org"]
    assert cast.hamlet.name not in mail.outbox[0].body
    with time_machine.travel(start + dt.timedelta(hours=30), tick=False):
        referrals.referral_acknowledge(actor=cast.lily, referral=referral)
    with time_machine.travel(start + dt.timedelta(hours=72), tick=False):
        assert referral_timers_run() == {"acknowledge": 0, "decide": 1, "guardian_notice": 0}
    with time_machine.travel(start + dt.timedelta(hours=80), tick=False):
        referrals.referral_accept(actor=cast.lily, referral=referral)
        assert referral_timers_run() == {"acknowledge": 0, "decide": 0, "guardian_notice": 0}
    escalated = ReferralEvent.objects.filter(referral=referral, side="system").values_list("detail", flat=True)
    assert [d["escalated"] for d in escalated] == ["acknowledge", "decide"]


def test_a_platform_admin_reads_but_takes_no_step(cast, orange_case):
    referral = draft(cast, orange_case)
    with pytest.raises(NotAllowed):
        referrals.referral_send(actor=cast.root, referral=referral)


def test_only_staff_who_cover_the_student_record_a_consent_to_share(cast):
    for outsider in (cast.carol, cast.bob, cast.lily):  # carol covers 7-1 only; hilda is in 7-2
        with pytest.raises(NotFound):
            agreements.sharing_consent_record(actor=outsider, student=cast.hilda, hospital=cast.kangning,
                                              party="guardian", method="paper", given_at=timezone.now())


def test_an_agreements_school_and_hospital_do_not_change(cast):
    existing = agreement(cast)
    with pytest.raises(InvalidInput) as refused:
        agreement(cast, hospital=cast.anding, agreement=existing)
    assert set(refused.value.fields) == {"hospital"}


def test_deciding_on_a_sent_referral_acknowledges_it_in_the_same_step(cast, orange_case):
    referral = referrals.referral_send(actor=cast.alice, referral=draft(cast, orange_case))
    with pytest.raises(InvalidInput):
        referrals.referral_decline(actor=cast.lily, referral=referral, reason="nonsense")
    referral.refresh_from_db()
    assert referral.state == "sent" and referral.acknowledged_at is None  # a refused decision changes nothing


def test_the_same_request_key_returns_the_referral_it_made_and_another_request_under_it_conflicts(cast, orange_case):
    consent = guardian_consent(cast, cast.hamlet)
    args = dict(actor=cast.alice, case=orange_case, hospital=cast.kangning, reason="需专科评估", basis="consent",
                consent=consent, request_key="form-1")
    first = referrals.referral_create(**args)
    assert referrals.referral_create(**args).pk == first.pk
    with pytest.raises(Conflict) as refused:
        referrals.referral_create(**(args | {"reason": "另一个理由"}))
    assert refused.value.code == "idempotency_key_reused"


@pytest.mark.parametrize(("recommendation", "days"), [
    ("return_with_follow_up", [7, 14, 21, 28]),  # the case's tier (orange)
    ("outpatient", [7, 14, 21, 28]),
    ("no_treatment", [14, 28, 42]),  # the lighter yellow rhythm
    ("inpatient", []),  # planned again on the student's return
])
def test_the_follow_up_plan_is_suggested_again_from_the_hospitals_recommendation(cast, orange_case, recommendation, days):
    referral = referrals.referral_send(actor=cast.alice, referral=draft(cast, orange_case))
    referrals.referral_accept(actor=cast.lily, referral=referral)
    referrals.referral_schedule(actor=cast.lily, referral=referral, at=timezone.now() + dt.timedelta(days=1), place="门诊")
    referrals.referral_attendance(actor=cast.lily, referral=referral, attended=True, recommendation=recommendation)
    start = timezone.localdate()
    assert [(d - start).days for d in work.follow_up_suggest(case=orange_case)] == days
