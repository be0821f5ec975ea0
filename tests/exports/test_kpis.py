"""Programme KPIs over two terms of known data at Dongshan (and a little at Xishan): exact values for
the head of centre; for the analyst of the region, whole terms only, participation from the bureau
aggregate of the same region and term, casework as rates without counts (the same rates as the
head's and the workspace's measures once nothing is small), withheld by default; refusals for
everyone else; and the workbook read back with openpyxl. What an analyst may not ask for, and why,
is in tests/exports/test_differencing.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import openpyxl
import pytest
import time_machine
from django.utils import timezone, translation

from exports.build import BuildContext
from exports.bureau import bureau_published, bureau_table
from exports.kpis import (
    GROUPS,
    KPI_KEYS,
    KPIS,
    SHARE,
    WITHHELD,
    Kpi,
    build_kpi_workbook,
    kpi_scope,
    programme_kpis,
    terms_between,
)
from exports.kpis import report as kpi_report
from exports.kpis.analyst import totals_of
from exports.kpis.scope import scope_values
from screening.campaigns.models import CrisisAlert
from screening.cases import measures, selectors
from screening.cases.models import CaseFlag, Contact, FollowUp
from screening.cases.services import work
from screening.core.errors import InvalidInput, NotAllowed, NotFound
from screening.core.models import AuditEvent
from screening.directory.services import student_user_ensure
from screening.referrals.services import referrals
from tests.campaigns.campaign_test_helpers import campaign_open
from tests.cases.case_helpers import case_of, flag
from tests.conftest import make_staff, make_student
from tests.referrals.referral_helpers import referral_of

pytestmark = pytest.mark.django_db

AUTUMN_T0 = timezone.make_aware(dt.datetime(2025, 10, 8, 9, 0))
SPRING_T0 = timezone.make_aware(dt.datetime(2026, 3, 10, 9, 0))
REPORTED_AT = timezone.make_aware(dt.datetime(2026, 6, 1, 10, 0))
YEAR = {"since": dt.date(2025, 9, 1), "until": dt.date(2026, 8, 31)}

# (value, numerator, denominator) per KPI, autumn then spring: see `programme` for the story.
EXPECTED: dict[str, tuple[tuple[Any, int, int], tuple[Any, int, int]]] = {
    "coverage": ((1.0, 5, 5), (1.0, 5, 5)),
    "completion": ((0.8, 4, 5), (0.8, 4, 5)),
    "flag_rate_red": ((0.25, 1, 4), (0.25, 1, 4)),
    "flag_rate_orange": ((0.25, 1, 4), (0.25, 1, 4)),
    "flag_rate_yellow": ((0.25, 1, 4), (0.0, 0, 4)),
    "first_contact_hours_red": ((0.5, 1, 1), (2.0, 1, 1)),
    "first_contact_hours_orange": ((30.0, 1, 1), (None, 0, 1)),
    "first_contact_hours_yellow": ((48.0, 1, 1), (None, 0, 0)),
    "first_contact_within_red": ((1.0, 1, 1), (0.0, 0, 1)),
    "first_contact_within_orange": ((0.0, 0, 1), (0.0, 0, 1)),
    "first_contact_within_yellow": ((1.0, 1, 1), (None, 0, 0)),
    "interview_rate": ((2 / 3, 2, 3), (0.0, 0, 2)),
    "follow_up_adherence": ((0.5, 1, 2), (None, 0, 0)),
    "alert_ack_minutes": ((10.0, 1, 1), (None, 0, 1)),
    "alert_ack_within": ((1.0, 1, 1), (0.0, 0, 1)),
    "referral_acceptance": ((1.0, 1, 1), (0.0, 0, 1)),
    "referral_accept_hours": ((6.0, 1, 1), (None, 0, 1)),
    "hospital_feedback": ((1.0, 1, 1), (None, 0, 0)),
}


@pytest.fixture
def clock() -> Any:
    """The clock stands still at the start of the autumn term's screening; tests move it on."""
    with time_machine.travel(AUTUMN_T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def cast(clock: Any, cast: Any) -> Any:
    """The named cast, created on the first day of the story (memberships start that day)."""
    return cast


def contact(cast: Any, case: Any, method: str, outcome: str, **extra: Any) -> Any:
    """Alice (Dongshan's counsellor) records a contact with the student, now."""
    return work.contact_record(actor=cast.alice, case=case, at=timezone.now(), method=method,
                               participants=["student"], outcome=outcome, **extra)


def autumn(cast: Any, clock: Any, more: list[Any]) -> None:
    """Five Dongshan students screened; red, orange, yellow, green and one who never submits. The red
    alert is acknowledged after 10 minutes; first contacts after 0.5 h (face to face), 30 h (phone,
    past orange's 24 h) and 48 h (face to face); of two follow-ups one is done on its day; the red
    student's referral to Kangning is accepted after 6 hours, attended, with feedback."""
    s3, s4, _s5 = more
    campaign = campaign_open(cast, school=cast.dongshan)
    for student, tier in ((cast.hamlet, "red"), (cast.hilda, "orange"), (s3, "yellow"), (s4, "green")):
        flag(cast, student, tier, campaign)
    flag(cast, cast.cordelia, "red", campaign_open(cast, school=cast.xishan))  # never in Dongshan's numbers
    clock.move_to(AUTUMN_T0 + dt.timedelta(minutes=10))
    work.alert_acknowledge(actor=cast.alice, alert=CrisisAlert.objects.get(student=cast.hamlet))
    clock.move_to(AUTUMN_T0 + dt.timedelta(minutes=30))
    contact(cast, case_of(cast.hamlet), "face_to_face", "confirmed_need")
    plan = work.follow_up_plan_create(actor=cast.alice, case=case_of(cast.hamlet),
                                      dates=[dt.date(2025, 10, 10), dt.date(2025, 10, 15)])
    clock.move_to(AUTUMN_T0 + dt.timedelta(hours=24))
    _agreement, _consent, referral = referral_of(cast, cast.hamlet, send=True)
    clock.move_to(AUTUMN_T0 + dt.timedelta(hours=30))
    referrals.referral_accept(actor=cast.lily, referral=referral)
    contact(cast, case_of(cast.hilda), "phone", "no_current_need")
    clock.move_to(AUTUMN_T0 + dt.timedelta(hours=48))
    contact(cast, case_of(s3), "face_to_face", "no_current_need")
    clock.move_to(AUTUMN_T0 + dt.timedelta(hours=49))
    first = plan.follow_ups.order_by("due_on").first()
    contact(cast, case_of(cast.hamlet), "face_to_face", "confirmed_need", follow_up=first.pk)
    referrals.referral_schedule(actor=cast.lily, referral=referral, at=AUTUMN_T0 + dt.timedelta(days=4), place="门诊三楼")
    clock.move_to(AUTUMN_T0 + dt.timedelta(days=4, hours=1))
    referrals.referral_attendance(actor=cast.lily, referral=referral, attended=True, recommendation="outpatient")


def spring(cast: Any, clock: Any, more: list[Any]) -> None:
    """The same five screened again: red (hilda), orange (never contacted), two green, one who never
    submits. The red alert is never acknowledged; the red student is phoned after 2 hours (past the
    1 h limit) and referred to Anding, which declines."""
    s3, _s4, s5 = more
    clock.move_to(SPRING_T0)
    campaign = campaign_open(cast, school=cast.dongshan)
    for student, tier in ((cast.hilda, "red"), (s5, "orange"), (cast.hamlet, "green"), (s3, "green")):
        flag(cast, student, tier, campaign)
    clock.move_to(SPRING_T0 + dt.timedelta(hours=2))
    contact(cast, case_of(cast.hilda), "phone", "confirmed_need")
    clock.move_to(SPRING_T0 + dt.timedelta(hours=3))
    _agreement, _consent, referral = referral_of(cast, cast.hilda, hospital=cast.anding, send=True)
    clock.move_to(SPRING_T0 + dt.timedelta(hours=5))
    referrals.referral_decline(actor=cast.liam, referral=referral, reason="no_capacity")


@pytest.fixture
def programme(cast: Any, clock: Any) -> Any:
    """Both terms' story, then the clock on a day after both, when the report is made."""
    more = [make_student(cast.ds_7_1, "D0003", "孙小三", 15), make_student(cast.ds_7_2, "D0004", "李小四", 15),
            make_student(cast.ds_7_1, "D0005", "周小五", 16)]
    autumn(cast, clock, more)
    spring(cast, clock, more)
    clock.move_to(REPORTED_AT)
    return cast


def cells(frame: Any) -> dict[str, list[tuple[Any, Any, Any]]]:
    return {key: [(k.value, k.numerator, k.denominator) for k in frame[key]] for key in KPI_KEYS}


def expected_cells() -> dict[str, list[tuple[Any, Any, Any]]]:
    return {key: list(rows) for key, rows in EXPECTED.items()}


# --- terms ------------------------------------------------------------------------------------


def test_terms_follow_the_chinese_school_calendar():
    with translation.override("en"):
        terms = terms_between(dt.date(2025, 8, 31), dt.date(2027, 1, 31))
        assert [(t.label, t.since, t.until) for t in terms] == [
            ("2024–2025 spring", dt.date(2025, 8, 31), dt.date(2025, 8, 31)),
            ("2025–2026 autumn", dt.date(2025, 9, 1), dt.date(2026, 1, 31)),
            ("2025–2026 spring", dt.date(2026, 2, 1), dt.date(2026, 8, 31)),
            ("2026–2027 autumn", dt.date(2026, 9, 1), dt.date(2027, 1, 31)),
        ]
    assert [t.key for t in terms_between(dt.date(2026, 1, 31), dt.date(2026, 2, 1))] == ["2025-autumn", "2025-spring"]
    with pytest.raises(InvalidInput):
        terms_between(dt.date(2026, 2, 1), dt.date(2026, 1, 31))


# --- the head of centre -------------------------------------------------------------------------


def test_head_of_centre_gets_exact_kpis_per_term(programme):
    with translation.override("en"):
        frame = programme_kpis(user=programme.diana, school=programme.dongshan.pk, region=None, **YEAR)
    assert list(frame["term"]) == ["2025–2026 autumn", "2025–2026 spring"]
    assert list(frame["since"]) == [dt.date(2025, 9, 1), dt.date(2026, 2, 1)]
    assert list(frame["until"]) == [dt.date(2026, 1, 31), dt.date(2026, 8, 31)]
    got = cells(frame)
    for key, rows in expected_cells().items():
        assert [(pytest.approx(v) if v is not None else None, n, d) for v, n, d in got[key]] == rows, key
    assert frame["coverage"][0].fraction == "5/5"
    assert frame.attrs["aggregate_only"] is False and frame.attrs["school"] == programme.dongshan.pk


@pytest.mark.parametrize("who", ["diana", "olga"])
def test_ids_read_a_few_at_a_time_give_the_same_kpis(programme, monkeypatch, who):
    """Flagged students and sent referrals are read back in IN lists of a few thousand ids (SQLite
    carries at most 32,766 parameters): one id per query counts the same."""
    from exports.kpis import scope as kpi_scope_module

    place = {"school": programme.dongshan.pk, "region": None} if who == "diana" else {"school": None, "region": None}
    whole = cells(programme_kpis(user=getattr(programme, who), **place, **YEAR))
    monkeypatch.setattr(kpi_scope_module, "IDS_PER_QUERY", 1)
    assert cells(programme_kpis(user=getattr(programme, who), **place, **YEAR)) == whole


def test_neither_school_nor_region_means_the_heads_own_school_and_the_period_clips_terms(programme):
    frame = programme_kpis(user=programme.diana, school=None, region=None, since=dt.date(2025, 10, 1),
                           until=dt.date(2026, 3, 31))
    assert list(frame["term_key"]) == ["2025-autumn", "2025-spring"]
    assert list(frame["until"]) == [dt.date(2026, 1, 31), dt.date(2026, 3, 31)]
    assert cells(frame)["completion"] == [(0.8, 4, 5), (0.8, 4, 5)]


def test_a_period_without_activity_has_empty_cells_not_zeros(programme):
    frame = programme_kpis(user=programme.diana, school=None, region=None, since=dt.date(2024, 9, 1),
                           until=dt.date(2025, 1, 31))
    assert len(frame) == 1
    assert frame["completion"][0] == Kpi(None, 0, 0)
    assert frame["coverage"][0] == Kpi(None, 0, 0)  # the roster was added in October 2025


# --- the analyst ---------------------------------------------------------------------------------------

PARTICIPATION = ("coverage", "completion", "flag_rate_red", "flag_rate_orange", "flag_rate_yellow")
CASEWORK = tuple(key for key in KPI_KEYS if key not in PARTICIPATION)
MEDIANS = tuple(spec.key for spec in KPIS if spec.unit != SHARE)


def test_analyst_gets_the_heads_casework_rates_without_their_counts_when_nothing_is_small(programme, monkeypatch):
    monkeypatch.setattr(kpi_report, "SMALL_CELL", 1)
    head = cells(programme_kpis(user=programme.diana, school=programme.dongshan.pk, region=None, **YEAR))
    for asked in ({"school": None, "region": programme.east.pk}, {"school": None, "region": None}):
        frame = programme_kpis(user=programme.olga, **asked, **YEAR)
        assert frame.attrs["aggregate_only"] is True and frame.attrs["region"] == programme.east.pk
        shown = 0
        for key in CASEWORK:
            for kpi, (value, n, d) in zip(frame[key], head[key], strict=True):
                taken_over = (d, n) if key in MEDIANS else (d,)
                small = key not in MEDIANS and any(0 < c < 5 for c in (n, d - n))  # gives a "<5" back
                if min(taken_over) >= 1 and not small:
                    assert kpi == Kpi(value, None, None), (key, asked)
                    shown += 1
                else:
                    assert kpi == Kpi(None, None, None, suppressed=True), (key, asked)
                assert kpi.fraction == WITHHELD  # n and N are never shown to an analyst
        assert shown, asked  # some rate was shown: the test compares values, not only withheld cells


def test_analyst_participation_is_the_bureau_aggregate_of_the_term_withheld_where_it_is(programme, monkeypatch):
    """Each participation KPI's n and N are the totals of the bureau aggregate of the same region and
    term, as shown there (a count or its mark), and its value is withheld wherever one is a mark.
    Dongshan's five students are a table the bureau protects hard: in autumn (one student in each
    part) it shows no count but the "<5"s, so no participation KPI is shown."""
    frame = programme_kpis(user=programme.olga, school=None, region=None, **YEAR)
    made_of = {"coverage": ("assigned", None), "completion": ("screened", "assigned"),
               **{f"flag_rate_{tier}": (tier, "screened") for tier in ("red", "orange", "yellow")}}
    for index, term in enumerate(terms_between(**YEAR)):
        table = bureau_table(user=programme.olga, region=None, school_year=term.school_year, season=term.season)
        totals = totals_of(bureau_published(table))
        for key, (n, d) in made_of.items():
            kpi = frame[key][index]
            assert kpi.numerator == totals[n], (term.key, key)
            assert d is None or kpi.denominator == totals[d], (term.key, key)
            withheld = any(isinstance(c, str) for c in (kpi.numerator, kpi.denominator))
            assert kpi.suppressed == withheld and (kpi.value is None) == withheld, (term.key, key)
    autumn = {key: frame[key][0].fraction for key in made_of}
    assert autumn == {"coverage": "x/x", "completion": "x/x", "flag_rate_red": "<5/x", "flag_rate_orange": "<5/x",
                      "flag_rate_yellow": "<5/x"}
    assert frame["coverage"][1] == Kpi(None, 5, "x", suppressed=True)  # 5 on the roster at one school: under 10
    monkeypatch.setattr(kpi_report, "SMALL_CELL", 1)
    frame = programme_kpis(user=programme.olga, school=None, region=None, **YEAR)
    assert frame["coverage"][1] == Kpi(1.0, 5, 5)  # the roster shown once no school has 1 to SMALL_CELL - 1


def test_an_analysts_terms_are_whole_whatever_the_period_and_only_those_started(programme, monkeypatch):
    monkeypatch.setattr(kpi_report, "SMALL_CELL", 1)
    year = programme_kpis(user=programme.olga, school=None, region=None, **YEAR)
    inside = programme_kpis(user=programme.olga, school=None, region=None, since=dt.date(2025, 12, 1),
                            until=dt.date(2026, 12, 31))  # the autumn 2026 term has not started (June 2026)
    assert list(inside["term_key"]) == ["2025-autumn", "2025-spring"]
    assert list(inside["since"]) == [dt.date(2025, 9, 1), dt.date(2026, 2, 1)]
    assert list(inside["until"]) == [dt.date(2026, 1, 31), dt.date(2026, 8, 31)]
    assert cells(inside) == cells(year)
    head = programme_kpis(user=programme.diana, school=None, region=None, since=dt.date(2025, 12, 1),
                          until=dt.date(2026, 3, 31))
    assert list(head["since"]) == [dt.date(2025, 12, 1), dt.date(2026, 2, 1)]  # a head's terms are clipped
    with pytest.raises(InvalidInput) as refused:
        programme_kpis(user=programme.olga, school=None, region=None, since=dt.date(2026, 9, 1),
                       until=dt.date(2026, 12, 31))
    assert set(refused.value.fields) == {"since"}


# The casework rows each measure reads in a term: (model, fields, filters).
def casework_reads(term: Any) -> list[tuple[Any, tuple[str, ...], dict[str, Any]]]:
    in_term = {"at__gte": term.start, "at__lt": term.end}
    return [(CaseFlag, measures.FIRST_CONTACT_FIELDS, in_term), (CaseFlag, measures.FLAGGED_STUDENT_FIELDS, in_term),
            (Contact, measures.INTERVIEW_CONTACT_FIELDS, {}),
            (FollowUp, measures.FOLLOW_UP_FIELDS, {"due_on__gte": term.since, "due_on__lte": term.until}),
            (CrisisAlert, measures.ALERT_FIELDS, {"created_at__gte": term.start, "created_at__lt": term.end})]


def test_head_of_centre_and_analyst_read_the_same_casework_rows(programme):
    """The casework KPIs share one definition (screening.cases.measures), so the two scopes can only
    differ in the rows they read: through visible_to for the head, through the schools for the analyst."""
    head = kpi_scope(user=programme.diana, school=programme.dongshan.pk, region=None)
    analyst = kpi_scope(user=programme.olga, school=None, region=programme.east.pk)
    assert analyst.school_ids == head.school_ids == (programme.dongshan.pk,)
    assert (head.aggregate_only, analyst.aggregate_only) == (False, True)
    read: dict[Any, int] = {}
    for term in terms_between(**YEAR):
        for model, fields, filters in casework_reads(term):
            rows = sorted(scope_values(head, model, fields, **filters), key=repr)
            assert sorted(scope_values(analyst, model, fields, **filters), key=repr) == rows, (term.key, model, fields)
            read[fields] = read.get(fields, 0) + len(rows)
    assert all(read.values()), read  # the story has rows of each kind (not one read compared nothing)


def workspace_cells(user: Any, school: int, term: Any) -> dict[str, tuple[Any, Any, Any]]:
    """The workspace's measures (the selectors behind /api/v1/kpis/ and the pages) over a term's days,
    as (value, numerator, denominator) like the workbook's cells."""
    window = {"user": user, "school": school, "since": term.start, "until": term.end}
    got: dict[str, tuple[Any, Any, Any]] = {}
    for m in selectors.first_contact_measures(**window):
        got[f"first_contact_hours_{m.tier}"] = (m.median_hours, m.contacted, m.flags)
        got[f"first_contact_within_{m.tier}"] = (m.share_within, m.within_limit, m.flags)
    interviews = selectors.interview_rate(**window)
    adherence = selectors.follow_up_adherence(user=user, school=school, since=term.since,
                                              until=term.until + dt.timedelta(days=1))
    alerts = selectors.alert_acknowledgement(**window)
    got["interview_rate"] = (interviews["rate"], interviews["seen_face_to_face"], interviews["flagged"])
    got["follow_up_adherence"] = (adherence["rate"], adherence["on_time"], adherence["due"])
    got["alert_ack_minutes"] = (alerts["median_minutes"], alerts["acknowledged"], alerts["alerts"])
    got["alert_ack_within"] = (alerts["share_within"], alerts["within_limit"], alerts["decided"])
    return got


def test_the_workspace_measures_and_the_workbook_agree_for_both_scopes(programme, monkeypatch):
    monkeypatch.setattr(kpi_report, "SMALL_CELL", 1)
    head = cells(programme_kpis(user=programme.diana, school=programme.dongshan.pk, region=None, **YEAR))
    analyst = cells(programme_kpis(user=programme.olga, school=None, region=programme.east.pk, **YEAR))
    for index, term in enumerate(terms_between(**YEAR)):
        workspace = workspace_cells(programme.diana, programme.dongshan.pk, term)
        assert set(workspace) < set(KPI_KEYS)
        for key, value in workspace.items():
            assert head[key][index] == value, (term.key, key)
            assert value == EXPECTED[key][index], (term.key, key)
            if analyst[key][index][0] is not None:  # an analyst: the value alone
                assert analyst[key][index] == (value[0], None, None), (term.key, key)


def test_analyst_casework_taken_over_fewer_than_ten_is_withheld(programme):
    frame = programme_kpis(user=programme.olga, school=None, region=programme.east.pk, **YEAR)
    for key in CASEWORK:
        for kpi in frame[key]:  # every casework count here is below 10
            assert kpi == Kpi(None, None, None, suppressed=True), key
            assert kpi.fraction == WITHHELD


def test_analyst_of_another_region_sees_nothing_of_dongshan(programme, monkeypatch, django_user_model):
    monkeypatch.setattr(kpi_report, "SMALL_CELL", 1)
    with pytest.raises(NotFound):
        programme_kpis(user=programme.olga, school=programme.xishan.pk, region=None, **YEAR)
    with pytest.raises(InvalidInput) as refused:  # not one of her regions
        programme_kpis(user=programme.olga, school=None, region=programme.west.pk, **YEAR)
    assert set(refused.value.fields) == {"region"}
    with time_machine.travel(AUTUMN_T0, tick=False):
        wendy = make_staff(django_user_model, "wendy", "bureau_analyst", region=programme.west)
    with pytest.raises(NotFound):
        programme_kpis(user=wendy, school=programme.dongshan.pk, region=None, **YEAR)
    frame = programme_kpis(user=wendy, school=None, region=None, **YEAR)
    assert frame.attrs["school_ids"] == [programme.xishan.pk]
    # cordelia alone, none of Dongshan's five: the bureau withholds her, and so do the KPIs
    assert cells(frame)["coverage"][0] in {(None, "<5", 1), (None, "x", 1)}
    assert cells(frame)["flag_rate_red"][0][0] is None


# --- refusals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "carol", "lily", "nobody", "root"])
def test_roles_that_may_not_ask_are_refused(cast, who):
    """Counsellors (whole school or some classes), liaisons, the roleless and the platform admin
    (who has the Django admin, not programme reports): NotAllowed, even for their own school."""
    with pytest.raises(NotAllowed):
        programme_kpis(user=getattr(cast, who), school=cast.dongshan.pk, region=None, **YEAR)


def test_a_student_is_refused(cast):
    with pytest.raises(NotAllowed):
        programme_kpis(user=student_user_ensure(student=cast.hamlet), school=None, region=None, **YEAR)


def test_a_head_of_another_school_gets_not_found_and_no_region(cast):
    with pytest.raises(NotFound):
        programme_kpis(user=cast.edgar, school=cast.dongshan.pk, region=None, **YEAR)
    refused = AuditEvent.objects.get(action="denied")
    assert (refused.actor_username, refused.object_type, refused.object_id) == ("edgar", "directory.School",
                                                                                 str(cast.dongshan.pk))
    with pytest.raises(NotFound):
        programme_kpis(user=cast.edgar, school=999999, region=None, **YEAR)
    assert AuditEvent.objects.filter(action="denied").count() == 1  # a missing school is nobody's
    with pytest.raises(NotAllowed):
        programme_kpis(user=cast.diana, school=None, region=cast.east.pk, **YEAR)
    with pytest.raises(InvalidInput):
        programme_kpis(user=cast.diana, school=cast.dongshan.pk, region=cast.east.pk, **YEAR)


# --- the workbook -----------------------------------------------------------------------------------


def build(user: Any, tmp_path: Any, **params: Any) -> tuple[Any, list[tuple[int, int]]]:
    steps: list[tuple[int, int]] = []
    ctx = BuildContext(user=user, params={"school": None, "region": None, "since": "2025-09-01",
                                          "until": "2026-08-31", **params},
                       path=tmp_path / "kpis.xlsx", progress=lambda done, total: steps.append((done, total)))
    with translation.override("en"):
        build_kpi_workbook(ctx)
    return openpyxl.load_workbook(ctx.path), steps


def test_workbook_has_kpis_definitions_and_charts(programme, tmp_path):
    book, steps = build(programme.diana, tmp_path, school=programme.dongshan.pk)
    assert book.sheetnames == ["KPIs", "Definitions", "Charts"]
    sheet = book["KPIs"]
    header = [c.value for c in sheet[1]]
    assert header[:5] == ["Term", "From", "To", "Screening coverage", "Screening coverage: n/N"]
    assert len(header) == 3 + 2 * len(KPIS)
    assert sheet.freeze_panes == "B2" and sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}3"
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [r[0] for r in rows] == ["2025–2026 autumn", "2025–2026 spring"]
    assert rows[0][1] == dt.datetime(2025, 9, 1) and rows[1][2] == dt.datetime(2026, 8, 31)
    for index, key in enumerate(KPI_KEYS):
        for row, (value, n, d) in zip(rows, EXPECTED[key], strict=True):
            assert row[3 + 2 * index] == (pytest.approx(value) if value is not None else None), key
            assert row[4 + 2 * index] == f"{n}/{d}", key
    assert sheet.cell(2, 4).number_format == "0.0%"
    assert sheet.cell(2, 3 + 2 * KPI_KEYS.index("first_contact_hours_orange") + 1).number_format == "0.0"
    definitions = [[c.value for c in row] for row in book["Definitions"].iter_rows()]
    labels = [row[0] for row in definitions]
    assert "Time to first contact: red (median hours)" in labels and "Interview rate" in labels
    red_within = next(row for row in definitions if row[0] == "First contact within the limit: red")
    assert red_within[4].startswith("1 h:") and red_within[2] == "Flags contacted by their limit"
    assert len(book["Charts"]._charts) == len(GROUPS)
    assert steps[-1] == (3, 3)


def test_workbook_export_is_audited_once(programme, tmp_path):
    build(programme.diana, tmp_path, school=programme.dongshan.pk)
    entry = AuditEvent.objects.get(action="export", object_type="exports.kpis")
    assert entry.actor_username == "diana" and entry.school_id == programme.dongshan.pk
    assert entry.detail["since"] == "2025-09-01" and entry.detail["until"] == "2026-08-31"
    assert entry.detail["terms"] == 2 and entry.detail["aggregate_only"] is False


def test_analyst_workbook_shows_withheld_cells_and_no_counts(programme, tmp_path, monkeypatch):
    monkeypatch.setattr(kpi_report, "SMALL_CELL", 1)  # some casework rates shown, to see them next to "x"
    book, steps = build(programme.olga, tmp_path, region=programme.east.pk)
    sheet = book["KPIs"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [r[1:3] for r in rows] == [[dt.datetime(2025, 9, 1), dt.datetime(2026, 1, 31)],
                                      [dt.datetime(2026, 2, 1), dt.datetime(2026, 8, 31)]]
    assert rows[0][3:5] == [None, "x/5"]  # autumn: the bureau withheld the students assigned
    assert rows[1][3:5] == [pytest.approx(1.0), "5/5"]  # spring: it showed them (and 5 on the roster)
    for row in rows:
        for index, key in enumerate(KPI_KEYS):
            if key in CASEWORK:
                assert row[4 + 2 * index] == WITHHELD, key
    red_minutes = 3 + 2 * KPI_KEYS.index("alert_ack_minutes")
    assert rows[0][red_minutes] == pytest.approx(10.0)  # a rate or median, alone
    assert "1/1" not in rows[0] and "4/5" not in rows[0] and "1/4" not in rows[0]
    about = {r[0]: str(r[1]) for r in book["Definitions"].iter_rows(values_only=True) if r[0]}
    assert "counted whole" in about["Terms"] and "as in the bureau aggregate" in about["Participation"]
    assert "only their rate or median" in about["Casework"]
    coverage = next(r for r in book["Definitions"].iter_rows(values_only=True) if r[0] == "Screening coverage")
    assert coverage[2] == "Students assigned (bureau aggregate)"
    assert len(book["Charts"]._charts) == len(GROUPS)  # blanks are gaps, the charts are all there
    entry = AuditEvent.objects.get(action="export", object_type="exports.kpis")
    assert entry.school_id is None and entry.detail["region"] == programme.east.pk
    assert entry.detail["term_keys"] == ["2025-autumn", "2025-spring"] and steps[-1] == (3, 3)


def test_builder_refuses_a_counsellor_before_writing_anything(cast, tmp_path):
    with pytest.raises(NotAllowed):
        build(cast.alice, tmp_path, school=cast.dongshan.pk)
    assert not (tmp_path / "kpis.xlsx").exists()
    assert not AuditEvent.objects.filter(action="export").exists()


def test_builder_rejects_bad_dates(cast, tmp_path):
    with pytest.raises(InvalidInput):
        build(cast.diana, tmp_path, since="2025-13-01")
    with pytest.raises(InvalidInput):
        build(cast.diana, tmp_path, since="2026-02-01", until="2026-01-31")
    assert not (tmp_path / "kpis.xlsx").exists()
