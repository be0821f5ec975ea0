"""What the casework measures count: the one definition of each, as pure functions over plain rows.

Two readers use them and only choose the rows: the workspace's selectors
(``screening.cases.selectors``: rows through ``visible_to(user)``, for the API and the pages) and
the KPI workbook (``exports.kpis``: rows through its ``Scope``, which is ``visible_to`` for a head
of centre and the schools an analyst may see for an analyst). Each reader picks the rows of its
period and scope; everything after that (which rows count, how they are counted, rounding) is
here, so the two can only differ in which rows they read, never in what the numbers mean.

Each function takes the tuples ``values_list(*FIELDS)`` gives, with the fields named by the
constant beside it, in that order. Nothing here touches the database; "local time" is Django's
current time zone.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from screening.cases.models import Contact, FollowUp

FLAG_TIERS = ("red", "orange", "yellow")

# The columns each measure reads, in the order its rows are unpacked.
FIRST_CONTACT_FIELDS = ("tier", "at", "due_at", "contacted_at")  # CaseFlag
FLAGGED_STUDENT_FIELDS = ("case__student", "at")  # CaseFlag
INTERVIEW_CONTACT_FIELDS = ("student", "at", "kind", "method", "outcome")  # Contact
FOLLOW_UP_FIELDS = ("due_on", "status", "done_at")  # FollowUp
ALERT_FIELDS = ("created_at", "acknowledged_at", "acknowledge_due_at")  # CrisisAlert

FirstContactRow = tuple[str, dt.datetime, dt.datetime | None, dt.datetime | None]
FlaggedStudentRow = tuple[int, dt.datetime]
InterviewContactRow = tuple[int, dt.datetime, str, str, str]
FollowUpRow = tuple[dt.date, str, dt.datetime | None]
AlertRow = tuple[dt.datetime, dt.datetime | None, dt.datetime | None]


@dataclass(frozen=True)
class FirstContact:
    """One tier's first-contact measure (see :func:`first_contact_measures`)."""

    tier: str
    flags: int
    contacted: int
    within_limit: int
    median_hours: float | None

    @property
    def share_within(self) -> float | None:
        return self.within_limit / self.flags if self.flags else None


def _median(values: Sequence[float], digits: int) -> float | None:
    return round(statistics.median(values), digits) if values else None


def first_contact_measures(flags: Iterable[FirstContactRow]) -> list[FirstContact]:
    """Per tier, over the flags raised in the period: how many, how many were contacted, how many
    within the first-contact limit, and the median hours from flag to first contact.

    A flag is contacted when it has a first contact (``contacted_at``); it is within the limit when
    that contact came at or before its ``due_at`` (a flag without a limit is within once
    contacted). The median is over the contacted flags, in hours rounded to 2 digits, None when
    none was contacted. Always red, orange, yellow, in that order; other tiers are not counted."""
    rows = list(flags)
    out = []
    for tier in FLAG_TIERS:
        mine = [(at, due, contacted) for t, at, due, contacted in rows if t == tier]
        hours = [(contacted - at).total_seconds() / 3600 for at, _due, contacted in mine if contacted is not None]
        within = sum(1 for _at, due, contacted in mine if contacted is not None and (due is None or contacted <= due))
        out.append(FirstContact(tier, len(mine), len(hours), within, _median(hours, 2)))
    return out


def interview_rate(flags: Iterable[FlaggedStudentRow], contacts: Iterable[InterviewContactRow]) -> dict[str, Any]:
    """面访率: of the students flagged in the period, the share seen face to face after the flag.

    ``flags`` are the period's flags as (student, at); a student's first flag of the period is the
    earliest. ``contacts`` are the contacts of those students (of any period). A student is seen
    when a contact with the student (not guardian communication), face to face, whose outcome is
    not "could not reach", came at or after their first flag of the period minus one day.
    Returns ``{"flagged", "seen_face_to_face", "rate"}``, the rate None when nobody was flagged."""
    first: dict[int, dt.datetime] = {}
    for student, at in flags:
        first[student] = min(at, first.get(student, at))
    seen = {student for student, at, kind, method, outcome in contacts
            if student in first and kind == Contact.Kind.STUDENT and method == Contact.Method.FACE_TO_FACE
            and outcome != Contact.Outcome.COULD_NOT_REACH and at >= first[student] - dt.timedelta(days=1)}
    return {"flagged": len(first), "seen_face_to_face": len(seen), "rate": len(seen) / len(first) if first else None}


def follow_up_adherence(follow_ups: Iterable[FollowUpRow], *, today: dt.date | None = None) -> dict[str, Any]:
    """Of the follow-ups that fell due in the period (not cancelled), the share done by their day.

    ``follow_ups`` are those whose day is in the period; of them, those due up to ``today`` (the
    local date unless given) and not cancelled are due, and a due one is on time when it is done
    and was done on or before its day in local time. Returns ``{"due", "on_time", "rate"}``, the
    rate None when none was due."""
    today = timezone.localdate() if today is None else today
    due = [(day, status, done) for day, status, done in follow_ups
           if day <= today and status != FollowUp.Status.CANCELLED]
    on_time = sum(1 for day, status, done in due
                  if status == FollowUp.Status.DONE and done is not None and timezone.localtime(done).date() <= day)
    return {"due": len(due), "on_time": on_time, "rate": on_time / len(due) if due else None}


def alert_acknowledgement(alerts: Iterable[AlertRow], *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Red alerts raised in the period: how many, how many acknowledged, how many within the limit
    out of those decided (acknowledged, or past their limit: an alert still in time counts for
    neither), and the median minutes to acknowledgement.

    An acknowledged alert is within the limit when acknowledged at or before its
    ``acknowledge_due_at`` (an alert without one is within once acknowledged); an alert is past its
    limit when its due time is at or before ``now`` (the current time unless given). The median is
    over the acknowledged alerts, in minutes rounded to 1 digit, None when none was. Returns
    ``{"alerts", "acknowledged", "within_limit", "decided", "share_within", "median_minutes"}``."""
    now = timezone.now() if now is None else now
    rows = list(alerts)
    minutes = [(acked - created).total_seconds() / 60 for created, acked, _due in rows if acked is not None]
    within = sum(1 for _created, acked, due in rows if acked is not None and (due is None or acked <= due))
    decided = sum(1 for _created, acked, due in rows if acked is not None or (due is not None and due <= now))
    return {"alerts": len(rows), "acknowledged": len(minutes), "within_limit": within, "decided": decided,
            "share_within": within / decided if decided else None, "median_minutes": _median(minutes, 1)}
