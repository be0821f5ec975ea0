"""Benchmark: the campaign report and the research extract of a campaign of 100,000 students,
against a bare xlsxwriter dump of the same rows.

Set-up (``bench/_export_seed.py``, in a child process, not measured): a temporary SQLite database
(WAL, the embedded default's settings) in a temporary directory, or the PostgreSQL database of
``--database-url``; one school of ``--students`` students (grades 7-12, classes of 50: 2,000
classes at full size), a head of the psychological centre, and one campaign of PHQ-9, GAD-7 and
ASQ that asks for research use, every student submitted: synthetic-cohort answers matched by age,
scored by the scoring engine and tiered by the tier policy as the submit does, about 15 % flagged;
screening consent as the rules want it, research consent covering 80 % of the students.

Measured, each in a fresh process of its own so that its peak memory is its own (VmHWM, the
resident set's high-water mark; reset between the two builders so each has its own figure too):

- the exports: ``build_campaign_report`` and ``build_research_extract`` (xlsx), called as the
  export job calls them: a BuildContext with the requester (the head of centre), the job's
  parameters, a path in a temporary directory and the job's own progress writer (``ProgressWriter``
  on a running ExportJob row, which renews the lease), with ``zh-hans`` active. Their time is the
  wall time of the two builder calls (process start and Django set-up left out);
- the bare dump: the rows the two exports write per student, the research extract's item-level
  rows (public id, grade, gender, birth year, day, every item's answer, totals and bands) and the
  report's flagged-student rows (number, name, class, tier, totals, bands, time, case status), each
  read with one ``values_list`` query (the same research-consent rule, ``rules.research_use_covered``,
  and the same order) and written with plain xlsxwriter, ``Workbook(constant_memory=True)``,
  ``write_row``, no formats.

The two take turns, ``--rounds`` times (default 2), and the fastest run of each is compared: the
machine may be shared, and the slower runs measure whatever else ran (every run is printed, with
the load average, and the CPU times, which depend less on other work). Also, for reference only:
the research extract as CSV (its own process; not in the ratio).

Every run's row counts must be the seeded ones (flagged students; research consent). ``--profile``
adds one more run of the exports under cProfile and prints where each builder's time goes.

Targets: the exports at most 1.5× the bare dump's time, and the exports' process under 400 MB
peak (MB = 2^20 bytes; the process's whole resident set, Django and all). The last line is
``export_campaign: <ratio>x of bare xlsxwriter, <MB> MB peak (targets ≤ 1.5x, 400 MB) PASS|FAIL``;
exit status 1 on FAIL.

Run from the repository root after ``./dev test`` made .venv (a few minutes at full size)::

    .venv/bin/python bench/export_campaign.py [--students 100000] [--flagged 0.15] [--rounds 2] [--profile] [--no-csv]
        [--database-url postgres://xinqiao:xinqiao@127.0.0.1:5432/xinqiao_bench] [--keep]

The --database-url database is dropped and created again (its name must contain "bench").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
TARGET_RATIO = 1.5
TARGET_MB = 400.0
MB = 1024 * 1024
CORES = getattr(os, "process_cpu_count", os.cpu_count)() or 2


# --- memory and time in a child -------------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    """A ``/proc/self/status`` figure in kB (Linux), or None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_mb() -> float:
    """The process's peak resident set since it started or since ``reset_peak``."""
    hwm = _status_kb("VmHWM")
    if hwm is None:  # not Linux: ru_maxrss (kB on Linux, bytes on macOS), never reset
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return maxrss / MB if sys.platform == "darwin" else maxrss / 1024
    return hwm / 1024


def rss_mb() -> float:
    rss = _status_kb("VmRSS")
    return rss / 1024 if rss is not None else peak_mb()


def reset_peak() -> bool:
    """Start the high-water mark again from the current resident set (Linux ``clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Phase:
    """Wall and CPU seconds and the peak resident set of one measured step."""

    def __enter__(self) -> Phase:
        self.reset = reset_peak()
        self.t0, self.c0 = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.cpu = cpu_seconds() - self.c0
        self.peak = peak_mb()

    def figures(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "cpu": self.cpu, "peak_mb": self.peak, "peak_reset": self.reset}


def _django(work: Path) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- the children -----------------------------------------------------------------------------------


def child_exports(work: Path, seed: dict[str, Any], formats: tuple[str, ...], out: Path, profile: bool) -> None:
    """Run the builders as the export job runs them; write the figures to ``out``."""
    _django(work)
    import uuid

    from django.utils import timezone, translation

    from exports.build import BuildContext
    from exports.campaign_report import build_campaign_report
    from exports.models import ExportJob
    from exports.research import build_research_extract
    from exports.services import LEASE, ProgressWriter

    builders = {"campaign_report": build_campaign_report, "research_extract": build_research_extract}
    runs: list[tuple[str, str, dict[str, Any]]] = []
    if "report" in formats:
        runs.append(("campaign_report", "xlsx", {"campaign": seed["campaign"]}))
    for fmt in ("xlsx", "csv"):
        if fmt in formats:
            runs.append(("research_extract", fmt, {"campaign": seed["campaign"], "format": fmt,
                                                   "recipient": "基准大学心理学系课题组",
                                                   "purpose": "青少年抑郁与焦虑症状流行病学研究（基准测试）"}))
    figures: dict[str, Any] = {"baseline_mb": rss_mb()}
    for kind, fmt, params in runs:
        token, now = uuid.uuid4().hex, timezone.now()
        job = ExportJob.objects.create(kind=kind, params=params, requested_by_id=seed["head"], school_id=seed["school"],
                                       language="zh-hans", status=ExportJob.Status.RUNNING, lock_token=token,
                                       locked_until=now + LEASE, started_at=now, runs=1,
                                       filename=f"bench-{kind}.{fmt}")
        job = ExportJob.objects.select_related("requested_by").get(pk=job.pk)  # as export_job_run reads it
        writer = ProgressWriter(job.pk, token)
        calls = 0

        def progress(done: int, total: int, writer: Any = writer) -> None:
            nonlocal calls
            calls += 1
            writer(done, total)

        path = work / job.filename
        ctx = BuildContext(user=job.requested_by, params=dict(job.params), path=path, progress=progress)
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
        with translation.override(job.language), Phase() as phase:
            if profiler is not None:
                profiler.runcall(builders[kind], ctx)
            else:
                builders[kind](ctx)
        name = f"{kind}_{fmt}"
        figures[name] = {**phase.figures(), "detail": ctx.detail, "bytes": path.stat().st_size,
                         "progress_calls": calls, "path": str(path)}
        if profiler is not None:
            _print_profile(name, profiler, phase.seconds)
    out.write_text(json.dumps(figures, default=str))


# Steps of each builder whose cumulative time the profile sums up: (module file, function, label);
# the campaign report is the package exports/campaign_report/.
PHASES = {
    "campaign_report_xlsx": [
        ("data.py", "report_for", "counts: three grouped queries and pandas (report_for)"),
        ("__init__.py", "write_summary", "Summary sheet with charts"),
        ("__init__.py", "write_class_sheet", "class sheets: their cells (write_class_sheet)"),
        ("xlsx.py", "add_small_worksheet", "class sheets: add_small_worksheet (name check; in memory)"),
        ("items.py", "stream_answers", "item statistics: reading and tallying every answer set"),
        ("items.py", "write_item_sheet", "item statistics: the sheet"),
        ("flagged.py", "write_flagged_sheet", "flagged sheet, all of it (query, frames, audit, cells)"),
        ("audit.py", "audit_students", "  of which the audit of each flagged student"),
        ("flagged.py", "write_flag_row", "  of which writing the cells"),
        ("workbook.py", "_store_workbook", "Workbook.close: assembling the sheets, zipping, temp files"),
    ],
    "research_extract_xlsx": [
        ("query.py", "count", "count() of the covered submissions"),
        ("research.py", "research_rows", "rows: both queries, JSON, merging results, cells()"),
        ("worksheet.py", "write_string|write_number", "xlsxwriter write_string + write_number (with the row flushes "
         "of constant memory)"),
        ("workbook.py", "_store_workbook", "Workbook.close"),
    ],
}


def _print_profile(name: str, profiler: Any, seconds: float) -> None:
    import io
    import pstats

    stats = pstats.Stats(profiler)
    total = max((v[3] for k, v in stats.stats.items() if k[2].startswith("build_")), default=seconds)  # type: ignore[attr-defined]
    print(f"\n--- {name}: where the time goes (cumulative, under cProfile, {total:.1f} s in all) ---")
    for module, function, label in PHASES.get(name, []):
        cum = sum(v[3] for k, v in stats.stats.items()  # type: ignore[attr-defined]
                  if k[2] in function.split("|") and os.path.basename(k[0]) == module)
        print(f"  {cum:7.1f} s {cum / total:6.1%}  {label}")
    for order, limit in (("cumulative", 45), ("tottime", 30)):
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.strip_dirs().sort_stats(order).print_stats(limit)
        lines = [ln for ln in text.getvalue().splitlines() if ln.strip()]
        start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
        print(f"\n--- profile of {name} ({seconds:.1f} s under cProfile), by {order} ---")
        print("\n".join(lines[start:]))
    sys.stdout.flush()


def child_bare(work: Path, seed: dict[str, Any], out: Path, tag: str) -> None:
    """The same rows with one values_list query each and plain xlsxwriter; figures to ``out``."""
    _django(work)
    import xlsxwriter
    from django.db.models import Case, IntegerField, OuterRef, Subquery, Value, When
    from django.utils import timezone

    import scoring
    from screening.campaigns import rules
    from screening.campaigns.models import Campaign, Result, Submission
    from screening.cases.models import CaseFlag

    figures: dict[str, Any] = {"baseline_mb": rss_mb()}
    campaign = Campaign.objects.get(pk=seed["campaign"])
    codes = list(campaign.instruments)
    instruments = {code: scoring.instrument(code) for code in codes}
    results = Result.objects.filter(submission=OuterRef("pk")).order_by()

    def score_columns(code: str) -> dict[str, Any]:
        inst, mine = instruments[code], results.filter(instrument=code)
        columns = {}
        if "total" in inst.scores:
            columns[f"total_{code}"] = Subquery(mine.values("total")[:1])
        if inst.bands.levels:
            columns[f"band_{code}"] = Subquery(mine.values("band")[:1])
        return columns

    scores = {name: expr for code in codes for name, expr in score_columns(code).items()}
    tz = timezone.get_current_timezone()

    # The research extract's rows: the same consent rule, one query.
    items = [(code, tuple(it.id for it in instruments[code].items)) for code in codes]
    per_code = {code: [n for n in scores if n.endswith(f"_{code}")] for code in codes}
    covered = rules.research_use_covered(campaign)
    qs = (Submission.objects.filter(assignment__in=covered.values("pk")).order_by("pk").annotate(**scores)
          .values_list("student__public_id", "student__school_class__grade", "student__gender", "student__birth_date",
                       "submitted_at", "answers", *scores))
    position = {name: 6 + i for i, name in enumerate(scores)}
    with Phase() as research:
        book = xlsxwriter.Workbook(str(work / f"bare-research-{tag}.xlsx"), {"constant_memory": True})
        sheet = book.add_worksheet()
        head = ["public_id", "grade", "gender", "birth_year", "submitted_on"]
        head += [f"{code.upper()}_{x}" for code, ids in items for x in (*ids, *(n.split("_")[0] for n in per_code[code]))]
        sheet.write_row(0, 0, head)
        n = 0
        for n, r in enumerate(qs.iterator(chunk_size=2000), start=1):
            answers = r[5] if isinstance(r[5], dict) else {}
            row = [r[0], r[1], r[2], r[3].year, r[4].astimezone(tz).date().isoformat()]
            for code, ids in items:
                own = answers.get(code) or {}
                row += [int(v) if v.__class__ is bool else v for v in map(own.get, ids)]
                row += [r[position[name]] for name in per_code[code]]
            sheet.write_row(n, 0, row)
        book.close()
    figures["research"] = {**research.figures(), "rows": n}

    # The report's flagged-student rows: the same filter and order, one query.
    flagged = ["red", "orange", "yellow"]
    rank = Case(*(When(tier=t, then=Value(i)) for i, t in enumerate(["red", "orange", "yellow", "green"])),
                output_field=IntegerField())
    case = CaseFlag.objects.filter(submission=OuterRef("pk")).order_by().values("case__status")[:1]
    qs = (Submission.objects.filter(assignment__campaign=campaign, tier__in=flagged)
          .annotate(rank=rank, case=Subquery(case), **scores)
          .order_by("rank", "student__school_class__grade", "student__school_class__name", "student__number", "pk")
          .values_list("student__number", "student__name", "student__school_class__name", "tier", *scores,
                       "submitted_at", "case"))
    with Phase() as flags:
        book = xlsxwriter.Workbook(str(work / f"bare-flagged-{tag}.xlsx"), {"constant_memory": True})
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, ["number", "name", "class", "tier", *scores, "flagged_at", "case"])
        n = 0
        for n, r in enumerate(qs.iterator(chunk_size=2000), start=1):
            row = list(r)
            row[-2] = r[-2].astimezone(tz).replace(tzinfo=None)
            sheet.write_row(n, 0, row)
        book.close()
    figures["flagged"] = {**flags.figures(), "rows": n}
    figures["peak_mb"] = max(research.peak, flags.peak)
    out.write_text(json.dumps(figures))


# --- the run ------------------------------------------------------------------------------------------


def _admin_url(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path="/postgres").geturl()


def _postgres(url: str, create: bool) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def _child(env: dict[str, str], what: str, *args: str) -> dict[str, Any]:
    """Run this script as a child (fresh process); its stdout passes through; returns its figures."""
    out = Path(env["XINQIAO_DATA_DIR"]) / f"{what}-{time.monotonic_ns()}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", what, "--out", str(out), *args]
    done = subprocess.run(cmd, cwd=ROOT, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed (exit {done.returncode})")
    figures: dict[str, Any] = json.loads(out.read_text())
    return figures


def _sheets(path: str) -> int:
    with zipfile.ZipFile(path) as book:
        return sum(1 for n in book.namelist() if n.startswith("xl/worksheets/sheet"))


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--flagged", type=float, default=0.15,
                        help="share of students flagged (yellow and above); negative: the synthetic cohort's own")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--database-url", default="", help="PostgreSQL instead of SQLite (dropped and created again)")
    parser.add_argument("--profile", action="store_true", help="also run the exports under cProfile and print where "
                        "each builder's time goes (not part of the figures)")
    parser.add_argument("--rounds", type=int, default=2, help="turns of bare dump and exports (the fastest of each "
                        "is compared)")
    parser.add_argument("--no-csv", action="store_true", help="skip the CSV research extract (reference only)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (database, files)")
    parser.add_argument("--child", choices=("exports", "bare", "csv", "profile"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="1", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        work = Path(os.environ["XINQIAO_DATA_DIR"])
        seed = json.loads((work / "seed.json").read_text())
        if args.child == "bare":
            child_bare(work, seed, args.out, args.tag)
        elif args.child == "csv":
            child_exports(work, seed, ("csv",), args.out, profile=False)
        else:
            child_exports(work, seed, ("report", "xlsx"), args.out, profile=args.child == "profile")
        return 0

    if args.students < 100 or args.rounds < 1:
        parser.error("--students must be 100 or more, --rounds 1 or more")
    if args.database_url and "bench" not in urlsplit(args.database_url).path:
        parser.error("the --database-url database is dropped and created again: its name must contain 'bench'")
    work = Path(tempfile.mkdtemp(prefix="xinqiao-bench-export-"))
    env = {
        **os.environ,
        "XINQIAO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "XINQIAO_DATA_DIR": str(work),
        "DATABASE_URL": args.database_url or f"sqlite:///{work / 'bench.sqlite3'}",
        "XINQIAO_LOG_LEVEL": "ERROR",
        "PYTHONUNBUFFERED": "1",
    }
    database = "PostgreSQL " + urlsplit(args.database_url).path.lstrip("/") if args.database_url else "SQLite (WAL)"
    print(f"export_campaign: {args.students:,} students, {database} in {work}; {CORES} cores, "
          f"load average {_load()} (1, 5, 15 min)")
    try:
        if args.database_url:
            _postgres(args.database_url, create=True)
        t0 = time.perf_counter()
        seed_cmd = [sys.executable, str(ROOT / "bench" / "_export_seed.py"), "--students", str(args.students),
                    "--flagged", str(args.flagged), "--seed", str(args.seed), "--out", str(work / "seed.json")]
        if subprocess.run(seed_cmd, cwd=ROOT, env=env, check=False).returncode != 0:
            raise SystemExit("seed failed")
        seed = json.loads((work / "seed.json").read_text())
        tiers, n = seed["tiers"], seed["submissions"]
        print(f"set-up ({time.perf_counter() - t0:.0f} s, not measured): migrated in {seed['seconds']['migrate']:.1f} s, "
              f"seeded in {seed['seconds']['seed']:.1f} s: {n:,} submissions in {-(-args.students // 50):,} classes, "
              f"tiers " + ", ".join(f"{t} {tiers.get(t, 0):,}" for t in ("red", "orange", "yellow", "green"))
              + f"; flagged {seed['flagged']:,} ({seed['flagged'] / n:.1%}); research consent covers "
              f"{seed['research_covered']:,} ({seed['research_covered'] / n:.1%})")
        c = seed["cohort"]
        if args.flagged >= 0:
            print(f"  synthetic cohort: {c['natural_flagged_share']:.0%} of its 12-18-year-olds flagged; flagged "
                  f"sittings kept with p = {c['kept']:.2f}; {c['scored']:,} sittings scored")

        # Bare dump and exports take turns, so that each sees the same machine; the fastest run of
        # each is compared (the machine may be shared: the slower runs are what else ran).
        bare: list[dict[str, Any]] = []
        runs: list[dict[str, Any]] = []
        for r in range(1, args.rounds + 1):
            bare.append(_child(env, "bare", "--tag", str(r)))
            runs.append(_child(env, "exports"))
            print(f"  round {r} of {args.rounds} done; load average {_load()}")
        csv = None if args.no_csv else _child(env, "csv")

        print("bare xlsxwriter (Workbook(constant_memory=True), write_row, no formats; one values_list query each):")
        for i, b in enumerate(bare, start=1):
            r, f = b["research"], b["flagged"]
            print(f"  round {i}: research rows {r['rows']:,} in {r['seconds']:.1f} s (CPU {r['cpu']:.1f} s), flagged rows "
                  f"{f['rows']:,} in {f['seconds']:.1f} s (CPU {f['cpu']:.1f} s); total {r['seconds'] + f['seconds']:.1f} s "
                  f"(CPU {r['cpu'] + f['cpu']:.1f} s); peak {b['peak_mb']:.0f} MB (after set-up {b['baseline_mb']:.0f} MB)")
        bare_s = min(b["research"]["seconds"] + b["flagged"]["seconds"] for b in bare)
        bare_cpu = min(b["research"]["cpu"] + b["flagged"]["cpu"] for b in bare)

        print("exports (as the job runs them: head of centre, zh-hans, ProgressWriter on a running ExportJob):")
        for i, exports in enumerate(runs, start=1):
            rep, res = exports["campaign_report_xlsx"], exports["research_extract_xlsx"]
            print(f"  round {i}: campaign report {rep['seconds']:.1f} s (CPU {rep['cpu']:.1f} s), peak "
                  f"{rep['peak_mb']:.0f} MB; research extract (xlsx) {res['seconds']:.1f} s (CPU {res['cpu']:.1f} s), "
                  f"peak {res['peak_mb']:.0f} MB; both {rep['seconds'] + res['seconds']:.1f} s "
                  f"(CPU {rep['cpu'] + res['cpu']:.1f} s); process after Django set-up {exports['baseline_mb']:.0f} MB")
        rep, res = runs[-1]["campaign_report_xlsx"], runs[-1]["research_extract_xlsx"]
        print(f"  campaign report: {_sheets(rep['path']):,} sheets, {rep['detail'].get('students', 0):,} students, "
              f"{rep['detail'].get('flagged', 0):,} flagged rows, {rep['bytes'] / MB:.1f} MB file; research extract: "
              f"{res['detail'].get('rows', 0):,} rows, {res['bytes'] / MB:.1f} MB file")
        both = [(x["campaign_report_xlsx"], x["research_extract_xlsx"]) for x in runs]
        export_s = min(a["seconds"] + b["seconds"] for a, b in both)
        export_cpu = min(a["cpu"] + b["cpu"] for a, b in both)
        peak = max(max(a["peak_mb"], b["peak_mb"]) for a, b in both)
        if csv is not None:
            x = csv["research_extract_csv"]
            print(f"  for reference, research extract (csv, own process, not in the ratio): {x['seconds']:.1f} s "
                  f"(CPU {x['cpu']:.1f} s), {x['detail'].get('rows', 0):,} rows, {x['bytes'] / MB:.1f} MB; "
                  f"peak {x['peak_mb']:.0f} MB")

        problems = []
        counts = {("research", seed["research_covered"])} | {("flagged", seed["flagged"])}
        wrote = ({("research", b["research"]["rows"]) for b in bare} | {("flagged", b["flagged"]["rows"]) for b in bare}
                 | {("research", b["detail"].get("rows")) for _a, b in both} | {("flagged", a["detail"].get("flagged"))
                                                                              for a, _b in both})
        if csv is not None:
            wrote.add(("research", csv["research_extract_csv"]["detail"].get("rows")))
        if wrote != counts:
            problems.append(f"rows written {sorted(wrote, key=str)} for seeded {sorted(counts)}")
        for problem in problems:
            print(f"  PROBLEM: {problem}")

        if args.profile:
            print("profile (a further run of the exports under cProfile; not part of the figures):")
            _child(env, "profile")

        ratio = export_s / bare_s
        print(f"ratio: exports {export_s:.1f} s / bare {bare_s:.1f} s (fastest of {args.rounds} each) = {ratio:.2f}x; "
              f"CPU time {export_cpu:.1f} s / {bare_cpu:.1f} s = {export_cpu / bare_cpu:.2f}x; peak of the exports' "
              f"processes {peak:.0f} MB; load average {_load()}")
        passed = ratio <= TARGET_RATIO and peak < TARGET_MB and not problems
        print(f"export_campaign: {ratio:.2f}x of bare xlsxwriter, {peak:.0f} MB peak (targets ≤ {TARGET_RATIO}x, "
              f"{TARGET_MB:.0f} MB) {'PASS' if passed else 'FAIL'}")
        return 0 if passed else 1
    finally:
        if args.keep:
            print(f"(kept: work directory {work})", file=sys.stderr)
        else:
            if args.database_url:
                try:
                    _postgres(args.database_url, create=False)
                except Exception as exc:  # report it and go on cleaning up
                    print(f"could not drop the bench database: {exc}", file=sys.stderr)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if VENV_PYTHON.exists() and Path(sys.executable).resolve() != VENV_PYTHON.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
    sys.exit(main())
