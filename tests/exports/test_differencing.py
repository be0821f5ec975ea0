"""A bureau analyst cannot undo the small-cell protection by subtracting one export from another.

Each bureau aggregate is protected on its own (tests/exports/test_suppression.py), which says
nothing about two of them: a city's red total of 23 and a district's of 20 give the other
district's "<5" back as 3, and a school's KPI "red 15/155" next to the bureau's "<5" and 12 for its
grades gives 3 again. The rule (exports/analyst.py): an analyst gets only the fixed family of
tables, one per (own region, term), and every count they are shown comes from the one protected
table of that region and term. Here:

1. every request that would make two tables overlap partially is refused with 400 and the field
   named (a region inside theirs, a school, "all my regions", a period of days, a term not
   started), through the API and the forms;
2. what is accepted, the KPI workbook and the bureau aggregate of the same region and term, adds
   nothing to the aggregate: the KPI's counts are the aggregate's totals as shown there, a KPI is
   withheld where one of them is, and the linear-programming attacker of test_suppression, given
   both, pins no withheld count; given what the KPIs used to show, it does (so the check can fail).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from test_suppression import Equation, known_bounds, recovered

from exports.bureau import PARTS, bureau_published, bureau_table
from exports.kpis import Kpi, programme_kpis
from exports.kpis.analyst import participation_from, totals_of
from exports.kpis.definitions import share
from exports.kpis.terms import current_term
from exports.models import ExportJob
from screening.directory.models import Membership, SchoolClass
from screening.directory.services import current_school_year
from tests.campaigns.campaign_test_helpers import campaign_open
from tests.cases.case_helpers import flag
from tests.conftest import make_staff, make_student
from tests.exports.export_job_helpers import keep_files_in, use_builder

URL = "/api/v1/exports/"
Cell = tuple[int, int]


# --- 1. what an analyst may not ask for ---------------------------------------------------------


@pytest.fixture
def analysts(cast: Any, django_user_model: Any) -> Any:
    """olga: the east district. cathy: the whole city. mona: east and west, two regions. nina: the
    city and the east inside it (only the city is hers to ask for: the east would overlap it)."""
    city = cast.east.parent
    cast.cathy = make_staff(django_user_model, "cathy", "bureau_analyst", region=city)
    cast.mona = make_staff(django_user_model, "mona", "bureau_analyst", region=cast.east)
    Membership.objects.create(user=cast.mona, role="bureau_analyst", region=cast.west)
    cast.nina = make_staff(django_user_model, "nina", "bureau_analyst", region=city)
    Membership.objects.create(user=cast.nina, role="bureau_analyst", region=cast.east)
    cast.city = city
    return cast


@pytest.fixture
def tiny_builders(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Any) -> None:
    keep_files_in(settings, tmp_path / "media")
    use_builder(monkeypatch, "tiny_build")


def term(which: str = "now") -> dict[str, Any]:
    now = current_term()
    if which == "next":
        return ({"school_year": now.school_year, "term": "spring"} if now.season == "autumn"
                else {"school_year": now.school_year + 1, "term": "autumn"})
    return {"school_year": now.school_year, "term": now.season}


def period() -> dict[str, str]:
    now = current_term()
    return {"since": now.since.isoformat(), "until": now.until.isoformat()}


def post(api: Any, who: Any, kind: str, params: dict[str, Any]) -> Any:
    return api.as_(who).post(URL, {"kind": kind, "params": params}, format="json", HTTP_ACCEPT_LANGUAGE="en")


REFUSED = [
    # (who, kind, params, the field named)
    ("cathy", "bureau_aggregate", lambda c: {"region": c.east.pk, **term()}, "region"),       # a region inside hers
    ("cathy", "kpis", lambda c: {"region": c.east.pk, **period()}, "region"),
    ("nina", "bureau_aggregate", lambda c: {"region": c.east.pk, **term()}, "region"),        # inside her other one
    ("olga", "bureau_aggregate", lambda c: {"region": c.west.pk, **term()}, "region"),        # not hers
    ("olga", "kpis", lambda c: {"school": c.dongshan.pk, **period()}, "school"),              # one school
    ("cathy", "kpis", lambda c: {"school": c.dongshan.pk, **period()}, "school"),
    ("mona", "bureau_aggregate", lambda c: {"region": None, **term()}, "region"),             # all her regions
    ("mona", "kpis", lambda c: {"region": None, **period()}, "region"),
    ("mona", "kpis", lambda c: {**period()}, "region"),
    ("olga", "bureau_aggregate", lambda c: {**term(), **period()}, "since"),                 # days, not a term
    ("olga", "bureau_aggregate", lambda c: {**period()}, "school_year"),
    ("olga", "bureau_aggregate", lambda c: term("next"), "term"),                             # not started
    ("olga", "bureau_aggregate", lambda c: {**term(), "term": "winter"}, "term"),
]


@pytest.mark.parametrize(("who", "kind", "params", "field"), REFUSED,
                         ids=[f"{w}-{k}-{f}-{n}" for n, (w, k, _p, f) in enumerate(REFUSED)])
def test_a_request_that_would_overlap_another_partially_is_refused_on_its_field(
        analysts: Any, api: Any, who: str, kind: str, params: Any, field: str) -> None:
    response = post(api, getattr(analysts, who), kind, params(analysts))
    assert response.status_code == 400, response.json()
    assert f"params.{field}" in response.json()["error"]["fields"], response.json()
    assert not ExportJob.objects.exists()


def test_what_is_accepted_is_one_of_the_analysts_own_regions_whole_and_one_whole_term(
        analysts: Any, api: Any, tiny_builders: Any) -> None:
    accepted = [
        ("olga", "bureau_aggregate", {"region": None, **term()}, analysts.east),
        ("olga", "kpis", period(), analysts.east),
        ("mona", "bureau_aggregate", {"region": analysts.west.pk, **term()}, analysts.west),
        ("nina", "bureau_aggregate", {**term()}, analysts.city),  # her only outer region
        ("cathy", "kpis", {"region": analysts.city.pk, **period()}, analysts.city),
    ]
    for who, kind, params, region in accepted:
        response = post(api, getattr(analysts, who), kind, params)
        assert response.status_code == 202, (who, kind, response.json())
        job = ExportJob.objects.get(public_id=response.json()["id"])
        assert job.params["region"] == region.pk and job.params.get("school") is None, (who, kind)
        if kind == "bureau_aggregate":
            assert set(job.params) == {"region", "school_year", "term"}


def test_the_forms_offer_only_own_regions_and_refuse_any_other(analysts: Any, client: Client,
                                                              tiny_builders: Any) -> None:
    client.cookies["django_language"] = "en"
    client.force_login(analysts.cathy)
    html = client.get("/exports/").content.decode()
    assert f'value="{analysts.city.pk}"' in html and f'value="{analysts.east.pk}"' not in html
    assert 'name="school"' not in html and "All my regions" not in html
    url = reverse("web:export-request", args=["bureau_aggregate"])
    now = current_term()
    assert client.post(url, {"region": analysts.east.pk, "term": now.key}).status_code == 400
    response = client.post(reverse("web:export-request", args=["kpis"]),
                           {"region": analysts.east.pk, **period()})
    assert response.status_code == 400
    assert not ExportJob.objects.exists()
    client.force_login(analysts.mona)  # two regions: one must be chosen
    response = client.post(url, {"region": "", "term": now.key})
    assert response.status_code == 400 and "Choose one of your regions." in response.content.decode()
    assert client.post(url, {"region": analysts.west.pk, "term": now.key}).status_code == 302
    assert ExportJob.objects.get().params == {"region": analysts.west.pk, **term()}


# --- 2. the accepted pair adds nothing to the aggregate ----------------------------------------------


@pytest.fixture
def screened(cast: Any) -> Any:
    """Dongshan (east): grade 7 with two red, five yellow and six green; grade 8 with five green and
    five who never answer. The region's red total is 2, withheld as "<5" by the bureau."""
    grade_8 = SchoolClass.objects.create(school=cast.dongshan, school_year=current_school_year(), grade=8,
                                         name="初二(1)班")
    sevens = [cast.hamlet, cast.hilda] + [make_student(cast.ds_7_1, f"D7{k:03d}", f"七年级学生{k:02d}", 12)
                                          for k in range(11)]
    eights = [make_student(grade_8, f"D8{k:03d}", f"八年级学生{k:02d}", 13) for k in range(10)]
    campaign = campaign_open(cast, school=cast.dongshan, classes=[cast.ds_7_1, cast.ds_7_2, grade_8])
    for student, tier in zip(sevens, ["red"] * 2 + ["yellow"] * 5 + ["green"] * 6, strict=True):
        flag(cast, student, tier, campaign)
    for student in eights[:5]:
        flag(cast, student, "green", campaign)
    return cast


def test_the_kpis_of_a_region_and_term_are_its_aggregates_totals_withheld_where_they_are(screened: Any) -> None:
    now = current_term()
    table = bureau_table(user=screened.olga, region=None, school_year=now.school_year, season=now.season)
    totals = totals_of(bureau_published(table))
    assert totals["red"] == "<5" and totals["assigned"] == 23 and totals["screened"] == 18
    with translation.override("en"):
        frame = programme_kpis(user=screened.olga, school=None, region=None, since=now.since,
                               until=now.until)
    row = {key: frame[key][0] for key in ("coverage", "completion", "flag_rate_red", "flag_rate_orange",
                                          "flag_rate_yellow")}
    assert row["flag_rate_red"] == Kpi(None, "<5", 18, suppressed=True)  # the bureau withholds red: so does the KPI
    assert row["flag_rate_yellow"] == Kpi(None, totals["yellow"], 18, suppressed=True)
    assert row["flag_rate_orange"] == Kpi(0.0, 0, 18)
    assert row["completion"] == Kpi(18 / 23, 18, 23)
    assert row["coverage"] == Kpi(1.0, 23, 23)
    shown = {value for value in totals.values() if not isinstance(value, str)}
    for kpi in row.values():
        assert {c for c in (kpi.numerator, kpi.denominator) if isinstance(c, int)} <= shown | {23}  # 23 on the roster


def table_of(rows: list[list[int]]) -> pd.DataFrame:
    """A bureau_table-shaped frame from rows of (red, orange, yellow, green, not screened)."""
    labels = pd.DataFrame({"school_id": range(len(rows)), "region": "东区",
                           "school": [f"school {k}" for k in range(len(rows))], "grade": 7})
    return pd.concat([labels, pd.DataFrame(rows, columns=list(PARTS))], axis=1)


def pinned(values: np.ndarray, hidden: np.ndarray, lower: np.ndarray, upper: np.ndarray,
           extra: list[Equation]) -> list[Cell]:
    """The withheld cells an attacker pins to one value, knowing the shown cells, the table's line
    equations, the marks' bounds and the ``extra`` equations (what other files tell)."""
    return recovered(values, hidden, lower, upper, extra)


def kpi_equations(cells: dict[str, Kpi], totals_row: int) -> list[Equation]:
    """What the participation KPIs tell about the region's totals: each count they show (or a
    shown value times a shown count), as an equation on the bureau table's totals row."""
    part = {name: k for k, name in enumerate(PARTS)}
    assigned = {(totals_row, len(PARTS)): 1.0}
    screened = {(totals_row, len(PARTS)): 1.0, (totals_row, part["not_screened"]): -1.0}
    made_of = {"coverage": (assigned, None), "completion": (screened, assigned),
               **{f"flag_rate_{t}": ({(totals_row, part[t]): 1.0}, screened) for t in ("red", "orange", "yellow")}}
    out: list[Equation] = []
    for key, (numerator, denominator) in made_of.items():
        kpi = cells[key]
        if isinstance(kpi.numerator, int):
            out.append((numerator, float(kpi.numerator)))
        if denominator is not None and isinstance(kpi.denominator, int):
            out.append((denominator, float(kpi.denominator)))
            if kpi.value is not None:
                out.append((numerator, kpi.value * kpi.denominator))
    return out


def attacker_bounds(publication: Any) -> tuple[np.ndarray, np.ndarray]:
    values, suppression = publication.suppression.values, publication.suppression
    if suppression.whole:  # every count "x": known only not to be negative
        return np.zeros(values.shape), np.full(values.shape, np.inf)
    return known_bounds(values, suppression.primary)


def raw_participation(table: pd.DataFrame, roster: int) -> dict[str, Kpi]:
    """What the KPI workbook showed an analyst before: the region's exact counts, only those from 1
    to 9 suppressed cell by cell."""
    assigned, screened = int(table["assigned"].sum()), int(table["screened"].sum())
    cells = {"coverage": share(assigned, roster), "completion": share(screened, assigned),
             **{f"flag_rate_{t}": share(int(table[t].sum()), screened) for t in ("red", "orange", "yellow")}}
    return {key: kpi if all(not 0 < c < 10 for c in (kpi.numerator, kpi.denominator) if isinstance(c, int))
            else Kpi(None, None, None, suppressed=True) for key, kpi in cells.items()}


def with_parts(rows: list[list[int]]) -> pd.DataFrame:
    table = table_of(rows)
    table["assigned"] = table[list(PARTS)].sum(axis=1)
    table["screened"] = table["assigned"] - table["not_screened"]
    return table


def test_the_attacker_pins_a_withheld_count_with_what_the_kpis_used_to_show() -> None:
    """The check can fail: a school's grades 7 and 8 (red 3 and 12) and the school's KPI red count
    of 15 give the 3 back; so does the region's raw red total where the bureau withholds it."""
    rows = [[3, 10, 6, 30, 1], [12, 8, 5, 40, 3], [2, 9, 20, 200, 8]]  # school S's grades 7 and 8, then T
    publication = bureau_published(table_of(rows))
    values, hidden = publication.suppression.values, publication.suppression.suppressed
    assert publication.frame.loc[0, "red"] == "<5" and publication.frame.loc[1, "red"] == 12
    lower, upper = attacker_bounds(publication)
    assert pinned(values, hidden, lower, upper, []) == []
    school_red = ({(0, 0): 1.0, (1, 0): 1.0}, 15.0)  # the KPI of the first two rows' school: red 15/…
    assert (0, 0) in pinned(values, hidden, lower, upper, [school_red])
    rows = [[2, 0, 6, 30, 0], [0, 3, 5, 40, 3], [9, 0, 20, 200, 8]]  # the region's red total, 11, withheld
    publication = bureau_published(table_of(rows))
    values, hidden = publication.suppression.values, publication.suppression.suppressed
    assert hidden[-1, 0]
    raw = kpi_equations(raw_participation(with_parts(rows), roster=400), totals_row=len(rows))
    assert pinned(values, hidden, *attacker_bounds(publication), raw) != []


def test_the_attacker_given_the_aggregate_and_the_kpis_pins_nothing() -> None:
    rng = np.random.default_rng(11)
    for _ in range(40):
        size = int(rng.integers(1, 9))
        rows = np.column_stack([rng.poisson(lam, size) for lam in (1, 1.5, 4, 25, 3)]).tolist()
        publication = bureau_published(table_of(rows))
        totals = totals_of(publication)
        cells = participation_from(totals, on_roster=1000)
        shown = {v for v in totals.values() if not isinstance(v, str)} | {1000}
        for kpi in cells.values():  # every count a KPI shows is one the aggregate shows
            assert {c for c in (kpi.numerator, kpi.denominator) if isinstance(c, int)} <= shown, rows
            assert kpi.suppressed == any(isinstance(c, str) for c in (kpi.numerator, kpi.denominator)), rows
        values, hidden = publication.suppression.values, publication.suppression.suppressed
        told = kpi_equations(cells, totals_row=len(rows))
        assert pinned(values, hidden, *attacker_bounds(publication), told) == [], rows


@pytest.mark.parametrize(("kpi", "median", "shown"), [
    (Kpi(0.06, 3, 50), False, False),    # n of 1-4: times a bureau count close to N, it gives the 3 back
    (Kpi(0.96, 48, 50), False, False),   # N - n of 1-4, the same from the other side
    (Kpi(0.0, 0, 50), False, True),      # zero points at no one
    (Kpi(0.2, 10, 50), False, True),
    (Kpi(0.5, 4, 8), False, False),      # N under 10
    (Kpi(12.5, 6, 40), True, False),     # a median of six children's times
    (Kpi(12.5, 12, 40), True, True),
])
def test_an_analysts_casework_cell_is_a_rate_alone_and_never_one_that_gives_a_small_count(
        kpi: Kpi, median: bool, shown: bool) -> None:
    from exports.kpis.definitions import rate_only

    cell = rate_only(kpi, 10, of_median=median)
    assert (cell.numerator, cell.denominator) == (None, None)  # never its counts
    assert (cell.value == kpi.value and not cell.suppressed) if shown else (cell.value is None and cell.suppressed)
