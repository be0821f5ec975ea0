"""What each KPI is (``KPIS``: the workbook's columns, charts and definitions sheet) and the cell
that holds its value (:class:`Kpi`), with the analyst's casework cell (:func:`rate_only`; their
participation cells are in ``exports.kpis.analyst``)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from exports.suppression import COMPLEMENT_MARK, THRESHOLD
from screening.cases.measures import FLAG_TIERS

SHARE, HOURS, MINUTES = "share", "hours", "minutes"
WITHHELD = COMPLEMENT_MARK  # the mark of counts not shown to an analyst, as in the bureau aggregate


# --- cells -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    """One KPI cell: the value, and the counts it was computed from so a reader can see "n/N".

    For a share, ``value = numerator / denominator`` (None when the denominator is 0). For a
    median, ``numerator`` is how many observations it was taken over and ``denominator`` how many
    rows could have given one (e.g. contacted flags of all flags). For an analyst, a count may be
    the bureau aggregate's mark of a withheld count (``"<5"``, ``"x"``), and both counts are None
    where they are not shown at all (casework); ``suppressed`` says the value is withheld (None)."""

    value: float | None
    numerator: int | str | None
    denominator: int | str | None
    suppressed: bool = False

    @property
    def fraction(self) -> str:
        """The counts as "n/N", a withheld one as its mark; counts not shown at all as ``WITHHELD``."""
        if self.numerator is None and self.denominator is None:
            return WITHHELD
        return f"{self.numerator}/{self.denominator}"


def share(numerator: int, denominator: int) -> Kpi:
    return Kpi(numerator / denominator if denominator else None, numerator, denominator)


def median(values: Sequence[float], rows: int, digits: int) -> Kpi:
    return Kpi(round(statistics.median(values), digits) if values else None, len(values), rows)


def rate_only(kpi: Kpi, small_cell: int, *, of_median: bool = False) -> Kpi:
    """An analyst's casework cell: the rate or median alone, its counts not shown; withheld when
    taken over fewer than ``small_cell`` rows (N; for a median, also n, the observations it is the
    median of: a median of a few is a few children's own times). A share is also withheld when
    its n, or N − n, is from 1 to 4 (under the bureau's threshold): N is often close to a count
    the bureau aggregate shows (the red flags of the term, the students flagged), and the share
    times that count would give the small one back."""
    taken_over = (kpi.denominator, kpi.numerator) if of_median else (kpi.denominator,)
    if any(not isinstance(count, int) or count < small_cell for count in taken_over):
        return Kpi(None, None, None, suppressed=True)
    if not of_median:
        n, total = kpi.numerator, kpi.denominator
        if not isinstance(n, int) or not isinstance(total, int) or any(0 < c < THRESHOLD for c in (n, total - n)):
            return Kpi(None, None, None, suppressed=True)
    return Kpi(kpi.value, None, None)


# --- what each KPI is ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiSpec:
    """One KPI column: its key, chart group, unit, and the words of the definitions sheet.

    ``tier`` fills ``%(tier)s`` in the texts; ``limit`` names the limit it is measured against
    (``"first_contact"``, ``"alert"``, ``"follow_up"``) or None."""

    key: str
    group: str
    unit: str
    label: Promise
    counts: Promise
    numerator: Promise
    denominator: Promise
    tier: str | None = None
    limit: str | None = None

    def text(self, field: str) -> str:
        """One of the texts in the active language, with the tier's name filled in."""
        value = str(getattr(self, field))
        return value % {"tier": TIER_NAMES[self.tier]()} if self.tier else value


TIER_NAMES: dict[str, Callable[[], str]] = {
    "red": lambda: _("red"), "orange": lambda: _("orange"), "yellow": lambda: _("yellow"),
}

# Chart groups, in order: (key, title, unit). One chart per group.
GROUPS: tuple[tuple[str, Promise, str], ...] = (
    ("participation", gettext_lazy("Participation"), SHARE),
    ("flags", gettext_lazy("Flag rate by tier"), SHARE),
    ("contact_time", gettext_lazy("Time to first contact (median hours)"), HOURS),
    ("within_limit", gettext_lazy("Share within the limit"), SHARE),
    ("casework", gettext_lazy("Interviews and follow-ups"), SHARE),
    ("alert_time", gettext_lazy("Red alert acknowledgement (median minutes)"), MINUTES),
    ("referrals", gettext_lazy("Referrals"), SHARE),
    ("referral_time", gettext_lazy("Time to accept a referral (median hours)"), HOURS),
)

_FLAGS_IN_TERM = gettext_lazy("Flags of the %(tier)s tier raised in the term")


def _tier_specs() -> list[KpiSpec]:
    specs: list[KpiSpec] = []
    for tier in FLAG_TIERS:
        specs.append(KpiSpec(
            f"flag_rate_{tier}", "flags", SHARE, gettext_lazy("Flag rate: %(tier)s"),
            gettext_lazy("Submitted screenings placed in the %(tier)s tier (the tier given at submission), of all "
                         "submitted in the term's campaigns"),
            gettext_lazy("Submissions in the %(tier)s tier"), gettext_lazy("Submitted assignments"), tier=tier))
    for tier in FLAG_TIERS:
        specs.append(KpiSpec(
            f"first_contact_hours_{tier}", "contact_time", HOURS,
            gettext_lazy("Time to first contact: %(tier)s (median hours)"),
            gettext_lazy("Hours from a flag of the %(tier)s tier raised in the term to the first contact that "
                         "reached the student; the median over the flags contacted so far"),
            gettext_lazy("Flags followed by a contact"), _FLAGS_IN_TERM, tier=tier, limit="first_contact"))
    for tier in FLAG_TIERS:
        specs.append(KpiSpec(
            f"first_contact_within_{tier}", "within_limit", SHARE,
            gettext_lazy("First contact within the limit: %(tier)s"),
            gettext_lazy("Of the %(tier)s flags raised in the term, the share whose first contact came by the "
                         "tier's limit (a flag not yet contacted counts as not within)"),
            gettext_lazy("Flags contacted by their limit"), _FLAGS_IN_TERM, tier=tier, limit="first_contact"))
    return specs


KPIS: tuple[KpiSpec, ...] = (
    KpiSpec("coverage", "participation", SHARE, gettext_lazy("Screening coverage"),
            gettext_lazy("Students on the roster given a screening in a campaign that opened in the term"),
            gettext_lazy("Students on the roster with an assignment in the term's campaigns"),
            gettext_lazy("Students on the roster today who were added before the term ended")),
    KpiSpec("completion", "participation", SHARE, gettext_lazy("Completion"),
            gettext_lazy("Assignments of the campaigns that opened in the term that were submitted"),
            gettext_lazy("Submitted assignments"), gettext_lazy("Assignments in the term's campaigns")),
    *_tier_specs(),
    KpiSpec("interview_rate", "casework", SHARE, gettext_lazy("Interview rate"),
            gettext_lazy("Students flagged in the term who were seen face to face (a contact with the student "
                         "themselves that reached them) at any time from one day before their first flag of the "
                         "term (面访率)"),
            gettext_lazy("Students seen face to face"), gettext_lazy("Students flagged in the term")),
    KpiSpec("follow_up_adherence", "casework", SHARE, gettext_lazy("Follow-up adherence"),
            gettext_lazy("Follow-ups due in the term (up to today, not cancelled) that were done by their day"),
            gettext_lazy("Follow-ups done by their day"), gettext_lazy("Follow-ups due in the term"),
            limit="follow_up"),
    KpiSpec("alert_ack_minutes", "alert_time", MINUTES, gettext_lazy("Red alert acknowledgement (median minutes)"),
            gettext_lazy("Minutes from a red alert raised in the term to its acknowledgement; the median over the "
                         "acknowledged alerts"),
            gettext_lazy("Alerts acknowledged"), gettext_lazy("Red alerts raised in the term"), limit="alert"),
    KpiSpec("alert_ack_within", "within_limit", SHARE, gettext_lazy("Red alerts acknowledged within the limit"),
            gettext_lazy("Of the red alerts raised in the term that are decided (acknowledged, or past their limit), "
                         "the share acknowledged by the limit; an alert still within its limit counts for neither"),
            gettext_lazy("Alerts acknowledged by their limit"), gettext_lazy("Alerts acknowledged or past their limit"),
            limit="alert"),
    KpiSpec("referral_acceptance", "referrals", SHARE, gettext_lazy("Referral acceptance rate"),
            gettext_lazy("Of the referrals sent in the term that the hospital decided, the share it accepted"),
            gettext_lazy("Referrals accepted"), gettext_lazy("Referrals accepted or declined")),
    KpiSpec("referral_accept_hours", "referral_time", HOURS, gettext_lazy("Time to accept a referral (median hours)"),
            gettext_lazy("Hours from sending a referral in the term to the hospital's acceptance; the median over "
                         "the accepted referrals"),
            gettext_lazy("Referrals accepted"), gettext_lazy("Referrals sent in the term")),
    KpiSpec("hospital_feedback", "referrals", SHARE, gettext_lazy("Hospital feedback received"),
            gettext_lazy("Of the referrals sent in the term that the student attended, the share with the "
                         "hospital's feedback recorded"),
            gettext_lazy("Attended referrals with feedback"), gettext_lazy("Referrals sent in the term and attended")),
)
KPI_KEYS = tuple(spec.key for spec in KPIS)
COLUMNS = ("term", "term_key", "since", "until", *KPI_KEYS)
