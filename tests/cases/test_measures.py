"""The casework measures' one definition (screening.cases.measures), over hand-made rows: which rows
count, the boundaries, rounding, and empty inputs. No database: the readers that choose the rows are
tested in test_cases_api.py (the workspace) and tests/exports/test_kpis.py (the KPI workbook)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from screening.cases.measures import (
    FirstContact,
    alert_acknowledgement,
    first_contact_measures,
    follow_up_adherence,
    interview_rate,
)

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def at(**delta: float) -> dt.datetime:
    return T0 + dt.timedelta(**delta)


# --- first contact ---------------------------------------------------------------------------------


def test_first_contact_with_no_flags_is_three_empty_tiers():
    assert first_contact_measures([]) == [FirstContact(tier, 0, 0, 0, None) for tier in ("red", "orange", "yellow")]
    assert first_contact_measures([])[0].share_within is None


def test_first_contact_counts_per_tier_within_the_limit_and_the_median_hours():
    rows = [
        ("red", T0, at(hours=1), at(minutes=30)),  # 0.5 h, within
        ("red", T0, at(hours=1), at(hours=1)),  # exactly at the limit: within
        ("red", T0, at(hours=1), at(hours=2)),  # 2 h, late
        ("red", T0, at(hours=1), None),  # not contacted: a flag, not within
        ("orange", T0, None, at(hours=30)),  # no limit: within once contacted
        ("yellow", T0, at(days=3), at(minutes=20)),  # 1/3 h
        ("green", T0, None, at(hours=1)),  # not a flagged tier
    ]
    red, orange, yellow = first_contact_measures(rows)
    assert red == FirstContact("red", flags=4, contacted=3, within_limit=2, median_hours=1.0)
    assert red.share_within == 0.5
    assert orange == FirstContact("orange", 1, 1, 1, 30.0)
    assert yellow.median_hours == 0.33  # rounded to 2 digits


# --- interview rate ----------------------------------------------------------------------------------------

HAMLET, HILDA, CORDELIA = 1, 2, 3


def f2f(student: int, when: dt.datetime, outcome: str = "confirmed_need", *, kind: str = "student",
        method: str = "face_to_face") -> tuple[int, dt.datetime, str, str, str]:
    return (student, when, kind, method, outcome)


def test_interview_rate_with_no_flags_is_none():
    assert interview_rate([], []) == {"flagged": 0, "seen_face_to_face": 0, "rate": None}
    assert interview_rate([], [f2f(HAMLET, T0)]) == {"flagged": 0, "seen_face_to_face": 0, "rate": None}


def test_a_face_to_face_contact_from_one_day_before_the_first_flag_counts():
    flags = [(HAMLET, at(days=2)), (HAMLET, T0)]  # the first flag of the period is the earlier
    assert interview_rate(flags, [f2f(HAMLET, at(days=-1))])["seen_face_to_face"] == 1
    assert interview_rate(flags, [f2f(HAMLET, at(days=-1, seconds=-1))])["seen_face_to_face"] == 0


def test_only_face_to_face_contacts_with_the_student_that_reached_them_count():
    flags = [(HAMLET, T0), (HILDA, T0)]
    missed = [f2f(HAMLET, at(hours=1), "could_not_reach"), f2f(HAMLET, at(hours=2), method="phone"),
              f2f(HAMLET, at(hours=3), method="online"), f2f(HAMLET, at(hours=4), kind="guardian"),
              f2f(CORDELIA, at(hours=1))]  # cordelia was not flagged
    assert interview_rate(flags, missed) == {"flagged": 2, "seen_face_to_face": 0, "rate": 0.0}
    seen = [*missed, f2f(HILDA, at(hours=5), "no_current_need"), f2f(HILDA, at(hours=6))]
    assert interview_rate(flags, seen) == {"flagged": 2, "seen_face_to_face": 1, "rate": 0.5}


# --- follow-up adherence -------------------------------------------------------------------------------

DAY = dt.date(2026, 3, 10)


def test_follow_up_adherence_with_nothing_due_is_none():
    assert follow_up_adherence([], today=DAY) == {"due": 0, "on_time": 0, "rate": None}
    future = [(DAY + dt.timedelta(days=1), "planned", None)]
    assert follow_up_adherence(future, today=DAY) == {"due": 0, "on_time": 0, "rate": None}


def test_follow_ups_are_done_on_time_by_their_day_in_local_time():
    late_evening = dt.datetime(2026, 3, 10, 15, 30, tzinfo=UTC)  # 23:30 on the 10th in Shanghai
    after_midnight = dt.datetime(2026, 3, 10, 16, 30, tzinfo=UTC)  # 00:30 on the 11th in Shanghai
    rows = [
        (DAY, "done", late_evening),  # on time
        (DAY, "done", after_midnight),  # a day late, though the 10th in UTC
        (DAY - dt.timedelta(days=3), "missed", None),  # due, not on time
        (DAY, "planned", None),  # due today, not done yet: due, not on time
        (DAY, "cancelled", None),  # never due
        (DAY + dt.timedelta(days=1), "done", late_evening),  # after today: not yet due
    ]
    with timezone.override("Asia/Shanghai"):
        assert follow_up_adherence(rows, today=DAY) == {"due": 4, "on_time": 1, "rate": 0.25}


# --- alert acknowledgement -----------------------------------------------------------------------------------


def test_alert_acknowledgement_with_no_alerts_is_none():
    assert alert_acknowledgement([], now=T0) == {"alerts": 0, "acknowledged": 0, "within_limit": 0, "decided": 0,
                                                 "share_within": None, "median_minutes": None}


def test_an_alert_still_in_time_is_not_decided_and_one_without_a_due_time_is_within_once_acknowledged():
    now = at(hours=2)
    rows = [
        (T0, at(minutes=10), at(minutes=30)),  # within
        (T0, at(minutes=20, seconds=15), None),  # no due time: within once acknowledged
        (T0, at(minutes=45), at(minutes=30)),  # late
        (T0, None, at(hours=2)),  # past its limit (due exactly now): decided, not within
        (T0, None, at(hours=3)),  # still in time: neither
        (T0, None, None),  # no due time, not acknowledged: never decided
    ]
    got = alert_acknowledgement(rows, now=now)
    assert got == {"alerts": 6, "acknowledged": 3, "within_limit": 2, "decided": 4, "share_within": 0.5,
                   "median_minutes": 20.2}  # 20.25 rounded to 1 digit
    assert alert_acknowledgement([(T0, None, at(hours=3))], now=now)["share_within"] is None


@pytest.mark.parametrize(("seconds", "minutes"), [(2, 0.0), (4, 0.1), (100, 1.7)])
def test_alert_median_minutes_are_rounded_to_one_digit(seconds, minutes):
    got = alert_acknowledgement([(T0, at(seconds=seconds), None)], now=T0)
    assert got["median_minutes"] == minutes
