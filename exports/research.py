"""The research extract (issue #8): pseudonymous item-level data of one campaign, as CSV or xlsx.

One row per completed submission of a student whose consent covers research use; who that is
comes from one rule, :func:`screening.campaigns.rules.research_use_covered`. Columns:

- the student's public id (random, what leaves the school), grade, gender (its code), year of
  birth and the day the answers were submitted;
- per questionnaire, in the campaign's sitting order (a stepped full form after its short form):
  every item's answer as printed (``PHQ9_1`` … ``PHQ9_10``; yes/no as 1/0, ASQ's ``declined`` as
  text; a stepped PHQ-9 or GAD-7 takes items 1–2 from the PHQ-2 or GAD-2 they were answered on,
  as it was scored), then the total, the band's code, the other named scores and the subscales.

Never a name, student number, class, guardian, tier, case or risk estimate. Only the school's
heads of centre may export it, naming who receives it and why: both go into the audit entry with
the number of rows. Rows are streamed from the database a chunk at a time (``values_list`` and
``iterator``; the results are merged in by submission id, never fetched per row), so 100,000
students take a few dozen megabytes whatever the format.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import xlsxwriter
from django.utils import timezone
from django.utils.translation import gettext as _

import scoring
from exports.build import BuildContext, chunked
from exports.kinds import MAX_PURPOSE, MAX_RECIPIENT
from exports.workbook import CELLS_AS_WRITTEN
from screening.campaigns import rules
from screening.campaigns.models import Assignment, Campaign, Result, Submission
from screening.campaigns.services.answering import STEPS
from screening.core.access import principal_of
from screening.core.audit import Action, audit_record, audit_students_by_id
from screening.core.errors import Conflict, InvalidInput, NotAllowed, NotFound

CHUNK = 2_000  # rows read and written at a time
FORMATS = ("csv", "xlsx")
XLSX_MAX_ROWS = 1_048_576  # Excel's limit, header included
OBJECT_TYPE = "exports.research_extract"

Row = list[Any]


class ResultRow(NamedTuple):
    """What the extract takes of one Result (``scores`` / ``subscales`` only when a column needs them)."""

    total: int | None
    band: str
    scores: dict[str, Any] | None = None
    subscales: dict[str, Any] | None = None


# --- the request ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    campaign: Campaign
    file_format: str
    recipient: str
    purpose: str


def _text(params: dict[str, Any], name: str, limit: int, fields: dict[str, list[Any]], missing: str) -> str:
    value = params.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        fields[name] = [missing]
    elif len(text) > limit:
        fields[name] = [_("At most %(limit)d characters.") % {"limit": limit}]
    return text


def research_request(*, user: Any, params: dict[str, Any]) -> Request:
    """Check the parameters, then the campaign: NotFound when the user may not see it, NotAllowed
    unless they head its school's psychological centre, Conflict when it never asked."""
    fields: dict[str, list[Any]] = {}
    recipient = _text(params, "recipient", MAX_RECIPIENT, fields, _("Say who receives the extract."))
    purpose = _text(params, "purpose", MAX_PURPOSE, fields, _("Say what the extract will be used for."))
    file_format = params.get("format") or "xlsx"
    if file_format not in FORMATS:
        fields["format"] = [_("Choose CSV or xlsx.")]
    try:
        pk = int(params.get("campaign"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        fields["campaign"] = [_("Choose a campaign.")]
    if fields:
        raise InvalidInput(fields=fields)
    campaign = Campaign.objects.visible_to(user).select_related("school").filter(pk=pk).first()
    if campaign is None:
        raise NotFound(_("Not found."))
    if not principal_of(user).heads_school_of(campaign):
        raise NotAllowed(_("Only the head of the school's psychological centre may export research extracts."))
    if not campaign.asks_research_use:
        raise Conflict(_("This campaign did not ask for consent to research use."), code="research_not_asked")
    return Request(campaign=campaign, file_format=file_format, recipient=recipient, purpose=purpose)


# --- the columns ---------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    """An answer or score as a cell: yes/no as 1/0 (the engine's codes), the rest as stored."""
    return int(value) if value.__class__ is bool else value


@dataclass(frozen=True)
class InstrumentColumns:
    """One questionnaire's columns: its items, then total, band, other scores and subscales
    (each only where the definition has it). ``cells`` runs once per row and questionnaire: it is
    kept to plain lookups (100,000 rows × three questionnaires in the benchmark)."""

    code: str
    carried_from: str | None  # a stepped full form: items 1–2 were answered on this short form
    items: tuple[str, ...]
    total: bool
    band: bool
    scores: tuple[str, ...]
    subscales: tuple[str, ...]
    yes_no: bool  # some item answers yes/no (written 1/0)

    @classmethod
    def of(cls, code: str, carried_from: str | None = None) -> InstrumentColumns:
        inst = scoring.instrument(code)
        return cls(
            code=code, carried_from=carried_from, items=tuple(it.id for it in inst.items),
            total="total" in inst.scores, band=bool(inst.bands.levels),
            scores=tuple(name for name in inst.scores if name != "total"), subscales=tuple(inst.subscales),
            yes_no=any(it.options.kind == "boolean" for it in inst.items),
        )

    def headers(self) -> list[str]:
        prefix = self.code.upper()
        names = [*self.items, *(["total"] if self.total else []), *(["band"] if self.band else []),
                 *self.scores, *self.subscales]
        return [f"{prefix}_{name}" for name in names]

    @cached_property
    def _blank_scores(self) -> list[None]:
        return [None] * (len(self.headers()) - len(self.items))

    def cells(self, answers: dict[str, Any], result: ResultRow | None) -> Row:
        own = answers.get(self.code)
        if own.__class__ is not dict:
            own = {}
        elif self.carried_from:
            short = answers.get(self.carried_from)
            if short.__class__ is dict:
                own = {**{k: v for k, v in short.items() if k in ("1", "2") and v is not None}, **own}
        row = list(map(own.get, self.items))
        if self.yes_no:
            row = [_cell(v) for v in row]
        if result is None:
            row += self._blank_scores
            return row
        if self.total:
            row.append(result.total)
        if self.band:
            row.append(result.band or None)
        if self.scores:
            scores = result.scores or {}
            row += [_cell(scores.get(name)) for name in self.scores]
        if self.subscales:
            subscales = result.subscales or {}
            row += [_cell(subscales.get(name)) for name in self.subscales]
        return row


def instrument_columns(campaign: Campaign) -> list[InstrumentColumns]:
    """Every questionnaire a sitting of this campaign may hold, in sitting order."""
    out = []
    for code in campaign.instruments:
        out.append(InstrumentColumns.of(code))
        for short, full in STEPS:
            if campaign.stepped and code == short and full not in campaign.instruments:
                out.append(InstrumentColumns.of(full, carried_from=short))
    return out


def headers(columns: Sequence[InstrumentColumns]) -> list[str]:
    fixed = [_("public id"), _("grade"), _("gender"), _("birth year"), _("submitted on")]
    return fixed + [h for c in columns for h in c.headers()]


# --- the rows ------------------------------------------------------------------------------------

SUBMISSION_COLUMNS = ("pk", "student__public_id", "student__school_class__grade", "student__gender",
                      "student__birth_date", "submitted_at", "answers", "student_id")



def research_submissions(*, user: Any, campaign: Campaign) -> Any:
    """The submissions of ``campaign`` this user may see whose consent covers research use."""
    covered = rules.research_use_covered(campaign, Assignment.objects.visible_to(user))
    return Submission.objects.visible_to(user).filter(assignment__in=covered.values("pk"))


def _with_results(submissions: Iterator[tuple[Any, ...]],
                  results: Iterator[tuple[Any, ...]]) -> Iterator[tuple[tuple[Any, ...], dict[str, ResultRow]]]:
    """Each submission with its results by instrument: both streams ordered by submission id, so
    one pass merges them (a result of a submission not in the first stream is skipped)."""
    pending = next(results, None)
    for sub in submissions:
        mine: dict[str, ResultRow] = {}
        while pending is not None and pending[0] <= sub[0]:
            if pending[0] == sub[0]:
                mine[pending[1]] = ResultRow(*pending[2:])
            pending = next(results, None)
        yield sub, mine


def _result_rows(user: Any, submissions: Any, columns: Sequence[InstrumentColumns]) -> Iterator[tuple[Any, ...]]:
    """The results of these submissions, ordered as they are. The JSON of named scores and
    subscales is read only when some questionnaire has columns for them (PHQ-9, GAD-7 and ASQ
    have none: decoding it for every row would be most of the work)."""
    names = ["submission_id", "instrument", "total", "band"]
    if any(c.scores or c.subscales for c in columns):
        names += ["scores", "subscales"]
    results = (Result.objects.visible_to(user).filter(submission__in=submissions.values("pk"))
               .order_by("submission_id", "position").values_list(*names))
    return results.iterator(chunk_size=CHUNK)


def research_rows(*, user: Any, campaign: Campaign,
                  columns: Sequence[InstrumentColumns]) -> Iterator[tuple[Row, int]]:
    """The extract's rows, each with the id of the student it is about (for the audit log, never
    written to the file), streamed (two queries in all, read a chunk at a time)."""
    submissions = research_submissions(user=user, campaign=campaign).order_by("pk")
    rows = submissions.values_list(*SUBMISSION_COLUMNS)
    tz = timezone.get_current_timezone()
    for sub, found in _with_results(rows.iterator(chunk_size=CHUNK), _result_rows(user, submissions, columns)):
        _pk, public_id, grade, gender, birth_date, submitted_at, answers, student = sub
        answers = answers if isinstance(answers, dict) else {}
        row: Row = [public_id, grade, gender, birth_date.year, submitted_at.astimezone(tz).date().isoformat()]
        for c in columns:
            row += c.cells(answers, found.get(c.code))
        yield row, student


def audited(ctx: BuildContext, rows: Iterable[tuple[Row, int]]) -> Iterator[Row]:
    """The rows, each chunk's students entered in the audit log (an export of each of them) as the
    chunk is handed to the writer: the log can say whether a student was in an extract, and to whom
    it went (the extract's own entry, with recipient and purpose, follows)."""
    for chunk in chunked(rows, CHUNK):
        audit_students_by_id(actor=ctx.user, action=Action.EXPORT, student_ids=[student for _row, student in chunk])
        yield from (row for row, _student in chunk)


# --- the files -----------------------------------------------------------------------------------


def write_csv(ctx: BuildContext, head: list[str], rows: Iterable[Row], total: int) -> int:
    """UTF-8 with a byte-order mark, so that Excel opens the Chinese headers correctly."""
    done = 0
    with ctx.path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(head)
        for chunk in chunked(rows, CHUNK):
            writer.writerows(chunk)
            done += len(chunk)
            ctx.progress(done, total)
    return done


def write_xlsx(ctx: BuildContext, head: list[str], rows: Iterable[Row], total: int) -> int:
    """One sheet, constant memory, a frozen and filtered header. Cells hold what they say (no
    formulas, links or numbers made from text; see exports/workbook.py)."""
    # Constant memory keeps the rows in a temporary file until close(): in the job's own folder
    # (removed with it), and closed whatever happens, so no item-level rows outlive a failed build.
    book = xlsxwriter.Workbook(str(ctx.path), {
        "constant_memory": True, "tmpdir": str(ctx.path.parent),
        **CELLS_AS_WRITTEN,
    })
    try:
        return _write_sheet(book, ctx, head, rows, total)
    finally:
        book.close()


def _write_sheet(book: xlsxwriter.Workbook, ctx: BuildContext, head: list[str], rows: Iterable[Row],
                 total: int) -> int:
    sheet = book.add_worksheet(_("Research extract")[:31])
    bold = book.add_format({"bold": True, "bg_color": "#E8EEF4", "border": 1})
    for col, name in enumerate(head):
        sheet.write_string(0, col, name, bold)
    sheet.set_column(0, 0, 18)
    sheet.set_column(1, len(head) - 1, 11)
    sheet.freeze_panes(1, 0)
    # xlsxwriter's own writers, without the public methods' "A1"-argument wrapper (row and column are
    # numbers here): the same cells, about half a million calls cheaper at 100,000 rows.
    write_string, write_number = sheet._write_string, sheet._write_number
    done = 0
    for chunk in chunked(rows, CHUNK):
        r = done
        for row in chunk:
            r += 1
            col = -1
            for value in row:
                col += 1
                if value is None:
                    continue
                if isinstance(value, str):
                    write_string(r, col, value)
                else:
                    write_number(r, col, value)
        done += len(chunk)
        ctx.progress(done, total)
    sheet.autofilter(0, 0, max(done, 1), len(head) - 1)
    return done


def build_research_extract(ctx: BuildContext) -> None:
    """Write the research extract of ``ctx.params["campaign"]`` to ``ctx.path`` as CSV or xlsx,
    and record in the audit log who exported it, for whom (recipient), why (purpose) and how many
    rows. Raises Conflict ``nothing_to_export`` when no student's consent covers research use."""
    request = research_request(user=ctx.user, params=ctx.params)
    campaign = request.campaign
    columns = instrument_columns(campaign)
    total = research_submissions(user=ctx.user, campaign=campaign).count()
    if total == 0:
        raise Conflict(_("No student's consent covers research use in this campaign."), code="nothing_to_export")
    if request.file_format == "xlsx" and total >= XLSX_MAX_ROWS:
        too_many = _("Too many rows for Excel; choose CSV.")
        raise InvalidInput(too_many, fields={"format": [too_many]})
    ctx.progress(0, total)
    rows = audited(ctx, research_rows(user=ctx.user, campaign=campaign, columns=columns))
    write = write_xlsx if request.file_format == "xlsx" else write_csv
    written = write(ctx, headers(columns), rows, total)
    audit_record(actor=ctx.user, action=Action.EXPORT, object_type=OBJECT_TYPE, object_id=campaign.pk,
                 school_id=campaign.school_id,
                 detail={"recipient": request.recipient, "purpose": request.purpose, "rows": written,
                         "campaign": campaign.pk, "format": request.file_format})
    ctx.detail["rows"] = written
