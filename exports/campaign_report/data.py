"""What a campaign report covers: the counts one campaign gives the requester (grouped in the
database, shaped with pandas), in sections for the Summary and each class sheet."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from django.db.models import Count
from django.utils.translation import get_language
from django.utils.translation import gettext as _

import scoring
from scoring.tiers import Tier
from screening.campaigns.models import Assignment, Campaign, Result, Submission
from screening.campaigns.services.answering import STEPS
from screening.cases.services.flags import FLAGGING
from screening.core.access import principal_of
from screening.core.errors import InvalidInput, NotAllowed, NotFound
from screening.directory.models import SchoolClass

CHUNK = 5_000  # rows read, audited and written at a time (answer sets; flagged rows)
TIERS: tuple[str, ...] = tuple(Submission.Tier.values)  # red first: the order of need
FLAGGED: tuple[str, ...] = tuple(t for t in TIERS if Tier(t) in FLAGGING)
TIER_COLOURS = {"red": "#C0392B", "orange": "#E67E22", "yellow": "#F1C40F", "green": "#27AE60"}
REFUSALS = ("refused", "withdrawn")  # the same codes in Assignment.Guardian and StudentConsent
_SHORT_NAME = re.compile(r"[（(]([^（）()]+)[)）]\s*$")


@dataclass
class Section:
    """One block of a summary table: labelled counts, their shares of ``base``, and a chart."""

    title: str
    rows: list[tuple[str, int]]
    base: int
    chart: str = "column"
    colours: list[str] | None = None


@dataclass
class Table:
    """One section's counts for every class at once (grouped once, so 2,000 class sheets cost no
    more pandas than one); a class's counts are a row of ``by_class``, in ``labels`` order."""

    title: str
    labels: list[str]
    by_class: dict[int, list[int]]
    total_label: str | None = None  # a first row with the sum (participation: assigned)
    chart: str = "column"
    colours: list[str] | None = None

    def section(self, class_id: int | None = None) -> Section:
        """The section over every class (None) or one class."""
        if class_id is None:
            counts = [sum(column) for column in zip(*self.by_class.values(), strict=True)]
        else:
            counts = self.by_class.get(class_id, [])
        counts = counts or [0] * len(self.labels)
        rows = list(zip(self.labels, counts, strict=True))
        if self.total_label is not None:
            rows.insert(0, (self.total_label, sum(counts)))
        return Section(self.title, rows, sum(counts), self.chart, self.colours)


def count_table(
    frame: pd.DataFrame, column: str, keys: Sequence[str], labels: Sequence[str], title: str, **extra: Any
) -> Table:
    """Counts of ``frame`` (class_id, ``column``, n) per class and value, in the order of ``keys``."""
    by_class: dict[int, list[int]] = {}
    if not frame.empty:
        grouped = frame.groupby(["class_id", column])["n"].sum().unstack(fill_value=0)
        grouped = grouped.reindex(columns=list(keys), fill_value=0)
        by_class = {int(k): [int(x) for x in row] for k, row in zip(grouped.index, grouped.to_numpy(), strict=True)}
    return Table(title, list(labels), by_class, **extra)


@dataclass
class Report:
    """The campaign, its questionnaires in sitting order, and the counts the requester may see."""

    campaign: Campaign
    lang: str
    instruments: list[str]
    carry: dict[str, str]  # a stepped full form → the short form its items 1–2 come from
    tables: list[Table]
    tiers: dict[str, int]  # submissions per tier
    classes: list[tuple[int, str]] = field(default_factory=list)  # (id, name), grade then name

    @property
    def students(self) -> int:
        """Assignments covered: the participation table's total."""
        return self.tables[0].section().base

    def sections(self, class_id: int | None = None) -> list[Section]:
        """Every section of the Summary (None) or of one class's sheet, in reading order."""
        return [table.section(class_id) for table in self.tables]


def campaign_for_report(*, user: Any, campaign_id: Any) -> Campaign:
    """The campaign, if the user may see it (NotFound otherwise) and covers students at its school
    as staff (a student may see their own campaign, never its report: NotAllowed)."""
    try:
        pk = int(campaign_id)
    except (TypeError, ValueError):
        raise InvalidInput(fields={"campaign": [_("Choose a campaign.")]}) from None
    campaign = Campaign.objects.visible_to(user).select_related("school").filter(pk=pk).first()
    if campaign is None:
        raise NotFound(_("Not found."))
    principal = principal_of(user)
    if not (principal.platform_admin or campaign.school_id in principal.staff_school_ids):
        raise NotAllowed()
    return campaign


def _frame(qs: Any, columns: Sequence[str]) -> pd.DataFrame:
    """A grouped ``values()`` query as a frame; ``order_by()`` first, or the models' default
    ordering would join the GROUP BY and split the counts."""
    rows = list(qs.order_by().values_list(*columns).annotate(n=Count("pk")))
    return pd.DataFrame.from_records(rows, columns=["class_id", *columns[1:], "n"])


def sitting_order(campaign: Campaign) -> tuple[list[str], dict[str, str]]:
    """The questionnaires in the order they are answered (a stepped full form after its short
    form), and which full forms take items from a short form."""
    carry = {
        full: short
        for short, full in STEPS
        if campaign.stepped and short in campaign.instruments and full not in campaign.instruments
    }
    instruments: list[str] = []
    for code in campaign.instruments:
        instruments += [code, *(full for full, short in carry.items() if short == code)]
    return instruments, carry


def report_for(*, user: Any, campaign: Campaign) -> Report:
    """The counts of one campaign over the students ``user`` covers (three grouped queries)."""
    assignments = _frame(
        Assignment.objects.visible_to(user).filter(campaign=campaign),
        ["student__school_class_id", "status", "guardian", "student_consent"],
    )
    results = _frame(
        Result.objects.visible_to(user).filter(submission__assignment__campaign=campaign),
        ["submission__student__school_class_id", "instrument", "band"],
    )
    tiers = _frame(
        Submission.objects.visible_to(user).filter(assignment__campaign=campaign), ["student__school_class_id", "tier"]
    )
    instruments, carry = sitting_order(campaign)
    lang = "en" if (get_language() or "").startswith("en") else "zh-hans"
    tables = [
        participation_table(assignments),
        *consent_tables(assignments),
        *(band_table(results, campaign, code, lang) for code in instruments),
        tier_table(tiers),
    ]
    classes = (
        SchoolClass.objects.visible_to(user)
        .filter(pk__in=set(assignments["class_id"].tolist()))
        .order_by("grade", "name", "pk")
        .values_list("pk", "name")
    )
    return Report(
        campaign,
        lang,
        instruments,
        carry,
        tables,
        {str(k): int(v) for k, v in tiers.groupby("tier")["n"].sum().items()},
        list(classes),
    )


# --- the sections of the Summary and class sheets --------------------------------------------


def participation_table(assignments: pd.DataFrame) -> Table:
    """Every assignment in exactly one row: completed, pending, declined or no consent, missed."""
    a = assignments
    done = a["status"] == Assignment.Status.SUBMITTED
    refused = a["student_consent"].isin(REFUSALS) | a["guardian"].isin(REFUSALS)
    missed = a["status"] == Assignment.Status.MISSED
    keys = ["completed", "pending", "declined", "missed"]
    a = a.assign(part=np.select([done, refused, missed], ["completed", "declined", "missed"], "pending"))
    labels = [_("completed"), _("pending"), _("declined or no consent"), _("missed (closed unanswered)")]
    return count_table(a, "part", keys, labels, _("Participation"), total_label=_("assigned"))


def consent_tables(assignments: pd.DataFrame) -> list[Table]:
    """The latest decision of the student and of the guardian, with the models' own labels."""
    return [
        count_table(assignments, column, choices.values, [str(label) for label in choices.labels], title)
        for title, column, choices in (
            (_("Student's consent"), "student_consent", Assignment.StudentConsent),
            (_("Guardian's consent"), "guardian", Assignment.Guardian),
        )
    ]


def band_label(code: str, profile: str | None, band: str, lang: str) -> str:
    """A band's label in the reader's language (the code when the definition has none)."""
    if not band:
        return _("Not scored (too many answers missing)")
    try:
        return str(scoring.instrument(code).profile(profile).bands.get(band).label.get(lang, band))
    except (scoring.ScoringError, KeyError):
        return band


def band_table(results: pd.DataFrame, campaign: Campaign, code: str, lang: str) -> Table:
    """One questionnaire's bands in the definition's order, then any other band seen (not scored)."""
    profile = campaign.profiles.get(code)
    mine = results[results["instrument"] == code]
    keys = [b.code for b in scoring.instrument(code).profile(profile).bands.levels]
    keys += sorted(set(mine["band"].tolist()) - set(keys))
    labels = [band_label(code, profile, b, lang) for b in keys]
    return count_table(mine, "band", keys, labels, instrument_name(code, lang), chart="bar")


def tier_table(tiers: pd.DataFrame) -> Table:
    """Completed screenings by tier (the tier policy's colours: a need for follow-up, not a diagnosis)."""
    labels = [str(Submission.Tier(t).label) for t in TIERS]
    colours = [TIER_COLOURS[t] for t in TIERS]
    return count_table(tiers, "tier", TIERS, labels, _("Tier (need for follow-up)"), colours=colours)


def instrument_name(code: str, lang: str) -> str:
    """The questionnaire's name in the reader's language."""
    return str(scoring.instrument(code).name.get(lang, code))


def short_name(code: str, lang: str) -> str:
    """The abbreviation a name ends with ("PHQ-9"), for column headers."""
    found = _SHORT_NAME.search(instrument_name(code, lang))
    return found.group(1) if found else code.upper()
