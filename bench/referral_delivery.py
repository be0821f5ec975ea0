"""Benchmark: pushing referrals to a hospital system through the outbox (screening.referrals.delivery).

Sets up a temporary SQLite database (WAL, the embedded default's settings) in a temporary
directory, migrates it and queues N referral pushes (default 10,000): one school, one hospital with
an agreement naming a local endpoint, N students each with a case and a sent referral, and for each
an OutboxMessage whose body is the referral's real FHIR Bundle (``referral_bundle``; the packet
without questionnaire answers, as the students have no submissions). Rows are bulk-inserted: this
is set-up, not what is measured.

The hospital is the receiver example (``screening/referrals/receiver_example.py``) in a separate
process on 127.0.0.1: it checks every signature, parses every body as a FHIR R4B Bundle and keeps
each idempotency key once; it counts requests, keys kept and duplicates.

Delivery runs with the production worker count: 2 worker processes (Celery workers with
concurrency 1 each), each sending with ``delivery.THREADS`` (8) HTTP threads, each running
``deliver_due`` sweeps back to back (as beat and the on-commit triggers keep them busy while
there is a backlog) until nothing is pending. Measured: wall time from the workers' start until
the outbox is empty; throughput = N / that time.

Checks: every queued key arrived and was kept exactly once (lost 0), none was kept twice and none
arrived twice (duplicated 0), every row is marked delivered. Target: ≥ 200 messages/s. The last
line is ``referral_delivery: <n>/s, lost 0, duplicated 0 PASS|FAIL``; exit status 1 on FAIL.

Run from the repository root after ``./dev test`` made .venv::

    .venv/bin/python bench/referral_delivery.py [--messages 10000] [--workers 2] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
TARGET = 200.0
SECRET = "bench-hospital-shared-secret-0123456789abcdef"


def _django(database: Path) -> None:
    os.environ.setdefault("XINQIAO_ENV", "test")
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings"
    os.environ.setdefault("XINQIAO_LOG_LEVEL", "ERROR")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- the hospital ---------------------------------------------------------------------------------


def serve(port: int) -> None:
    """The receiver example, with a GET that reports what it kept (for the bench only)."""
    sys.path.insert(0, str(ROOT))
    from screening.referrals.receiver_example import Handler, Inbox, make_server

    inbox = Inbox()
    tally = {"requests": 0, "duplicates": 0, "refused": 0}

    class Counting(Handler):
        def do_POST(self) -> None:
            before = len(inbox.messages)
            super().do_POST()
            tally["requests"] += 1
            if len(inbox.messages) == before:
                tally["duplicates" if self.headers.get("Idempotency-Key") in inbox.keys else "refused"] += 1

        def do_GET(self) -> None:
            keys = [key for key, _bundle in inbox.messages]
            self._answer(200, {"kept": len(keys), "distinct": len(set(keys)), **tally, "keys": keys})  # type: ignore[dict-item]

    server = make_server("127.0.0.1", port, SECRET, inbox, Counting)
    print("ready", flush=True)
    server.serve_forever()


# --- set-up ---------------------------------------------------------------------------------------


def seed(n: int, endpoint: str) -> list[str]:
    import datetime as dt

    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from screening.cases.models import Case
    from screening.core.models import User
    from screening.directory.models import Hospital, School, SchoolClass, Student, new_public_id
    from screening.directory.services import current_school_year, region_create
    from screening.referrals.fhir import referral_bundle
    from screening.referrals.models import Agreement, OutboxMessage, Referral

    call_command("migrate", verbosity=0)
    now = timezone.now()
    today = timezone.localdate()
    with transaction.atomic():
        region = region_create(name="基准区", name_en="Bench District", code="990001", level="district")
        school = School.objects.create(name="基准中学", name_en="Bench School", code="BENCH", kind="senior_high",
                                       region=region, crisis_line="0755-0000000")
        hospital = Hospital.objects.create(name="基准医院", name_en="Bench Hospital", code="BH", region=region,
                                           crisis_line="0755-9999999")
        school_class = SchoolClass.objects.create(school=school, school_year=current_school_year(), grade=10, name="高一")
        counsellor = User.objects.create_user(username="bench-counsellor", password=None)
        agreement = Agreement.objects.create(
            school=school, hospital=hospital, valid_from=today - dt.timedelta(days=1),
            valid_until=today + dt.timedelta(days=365), tiers=["red", "orange", "yellow"],
            limits={t: {"acknowledge_hours": 24, "decide_hours": 72} for t in ("red", "orange", "yellow")},
            packet=["public_id", "birth_year", "gender", "tier", "reasons", "school_contact"],
            crisis_contact_name="值班医生", crisis_line="0755-9999999", endpoint_url=endpoint,
            endpoint_secret=SECRET, created_by=counsellor,
        )
        students = Student.objects.bulk_create(
            Student(school=school, school_class=school_class, number=f"B{i:06d}", name=f"学生{i}",
                    birth_date=dt.date(2009, 1, 1) + dt.timedelta(days=i % 700), gender=("female", "male")[i % 2],
                    public_id=new_public_id())
            for i in range(n))
        cases = Case.objects.bulk_create(Case(student=s, school=school, tier="orange", opened_at=now) for s in students)
        referrals = Referral.objects.bulk_create(
            Referral(case=c, student=s, school=school, hospital=hospital, agreement=agreement, tier="orange",
                     state="sent", basis="emergency", emergency_justification="bench", reason="持续情绪低落，需专科评估",
                     created_by=counsellor, created_at=now, sent_at=now)
            for c, s in zip(cases, students, strict=True))
    messages = []
    for referral in Referral.objects.select_related("student", "school", "hospital", "agreement", "created_by"):
        key = f"xinqiao-ref-{referral.pk}-1"
        messages.append(OutboxMessage(referral=referral, seq=1, idempotency_key=key, created_at=now,
                                      next_attempt_at=now, body=json.dumps(referral_bundle(referral),
                                                                           ensure_ascii=False, separators=(",", ":"))))
    OutboxMessage.objects.bulk_create(messages, batch_size=1000)
    assert len(referrals) == n
    return [m.idempotency_key for m in messages]


# --- the workers ----------------------------------------------------------------------------------


def work() -> None:
    """One worker process: sweeps back to back until nothing is pending."""
    from screening.referrals import delivery
    from screening.referrals.models import OutboxMessage

    delivered = failed = 0
    began = time.time()
    while OutboxMessage.objects.filter(delivered_at__isnull=True, gave_up_at__isnull=True).exists():
        counts = delivery.deliver_due()
        delivered += counts["delivered"]
        failed += counts["failed"]
        if not counts["delivered"] and not counts["failed"]:
            time.sleep(0.05)  # the rest is leased by the other worker
    print(json.dumps({"delivered": delivered, "failed": failed, "began": began, "ended": time.time()}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return 0
    if args.work is not None:
        _django(args.work)
        work()
        return 0

    directory = Path(tempfile.mkdtemp(prefix="xinqiao-bench-delivery-"))
    database = directory / "bench.sqlite3"
    receiver: Any = None
    try:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        receiver = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE, text=True)
        assert receiver.stdout is not None and receiver.stdout.readline().strip() == "ready"
        _django(database)
        started = time.monotonic()
        keys = seed(args.messages, f"http://127.0.0.1:{port}/fhir")
        print(f"set-up: {args.messages} referrals and outbox messages in {time.monotonic() - started:.1f} s")

        started = time.monotonic()
        workers = [subprocess.Popen([sys.executable, __file__, "--work", str(database)], stdout=subprocess.PIPE,
                                    text=True) for _ in range(args.workers)]
        reports = [json.loads((w.communicate()[0] or "{}").strip().splitlines()[-1]) for w in workers]
        # From the first worker's first sweep to the last one's end (process start-up left out).
        elapsed = max(r["ended"] for r in reports) - min(r["began"] for r in reports)
        print(f"workers' wall time with process start-up: {time.monotonic() - started:.2f} s")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=30) as answer:
            stats = json.loads(answer.read())
        from screening.referrals.models import OutboxMessage

        unmarked = OutboxMessage.objects.filter(delivered_at__isnull=True).count()
    finally:
        if receiver is not None:
            receiver.terminate()
            receiver.wait()
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)

    rate = args.messages / elapsed
    kept = set(stats["keys"])
    lost = len(set(keys) - kept)
    duplicated = (stats["kept"] - stats["distinct"]) + stats["duplicates"]
    print(f"workers: {args.workers} processes × {_threads()} HTTP threads; per worker {[{k: r[k] for k in ("delivered", "failed")} for r in reports]}")
    print(f"receiver: {stats['requests']} requests, {stats['kept']} kept, {stats['duplicates']} repeated keys, "
          f"{stats['refused']} refused")
    print(f"delivered {args.messages} in {elapsed:.2f} s; rows not marked delivered: {unmarked}")
    ok = rate >= TARGET and lost == 0 and duplicated == 0 and stats["refused"] == 0 and unmarked == 0
    print(f"referral_delivery: {rate:.0f}/s, lost {lost}, duplicated {duplicated} {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def _threads() -> int:
    from screening.referrals import delivery

    return delivery.THREADS


if __name__ == "__main__":
    if VENV_PYTHON.exists() and Path(sys.executable).resolve() != VENV_PYTHON.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
    sys.exit(main())
