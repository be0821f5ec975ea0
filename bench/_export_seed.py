"""Seed the bench database for ``bench/export_campaign.py`` (run by it, in a child process).

One school (a complete secondary school, grades 7-12) with N students in classes of 50, a head of
the psychological centre (Membership ``school_admin``: the exports' requester), and one campaign
of PHQ-9, GAD-7 and ASQ under guardian consent that asks for research use, every student
submitted. Bulk inserts throughout (``bulk_create`` in chunks, one transaction a chunk): this is
set-up, not what is measured, and the submit service would take far too long for 100,000.

The answers are the synthetic cohort's (``scoring.risk.cohort``), matched to each student by age
(12-18, from the grade) and gender, scored by the scoring engine and tiered by the school's tier
policy exactly as the submit does (``answering.sitting_answers``, ``scoring.score``, ``decide``,
``answering._result_row``, ``answering.submit_response``). The cohort spans ages 10-25 and flags
about a third of its 12-18-year-olds; flagged sittings are thinned (each kept with one fixed
probability, so the cohort's gradients by age and gender and its mix of tiers stay) to about
``--flagged`` of the students (default 15 %). No risk model is active, so none raises a tier.
No cases or crisis alerts are made: the report only reads a case's status, and finds none.

Consent as the rules want it: the guardian of every minor consented (signed link) and every
student agreed, with ConsentRecords and the assignment's mirror. Research use (purpose
``research``): 80 % of the students and, for minors, their guardians said yes; 8 % of the
guardians (an adult student: the student) said no, 7 % of the students said no, 5 % never
answered. Who that leaves is decided by ``rules.research_use_covered``, as the extract does.

Prints nothing; writes one JSON object to ``--out``: ``{"campaign", "school", "head", "students",
"submissions", "flagged", "tiers", "research_covered", "seconds": {...}}``. Needs
DJANGO_SETTINGS_MODULE=backend.settings and the bench DATABASE_URL in the environment.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
import uuid
from collections import Counter, deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone, translation  # noqa: E402

from scoring.risk import SyntheticSitting, cohort  # noqa: E402
from scoring.tiers import Tier, decide  # noqa: E402
from screening.campaigns import rules  # noqa: E402
from screening.campaigns.models import Assignment, Campaign, ConsentRecord, Submission  # noqa: E402
from screening.campaigns.services import answering, campaign_create, consent  # noqa: E402
from screening.cases.services.flags import FLAGGING  # noqa: E402
from screening.core import rows  # noqa: E402
from screening.core.models import User  # noqa: E402
from screening.directory.models import Hospital, Membership, School, SchoolClass, Student, new_public_id  # noqa: E402
from screening.directory.services import current_school_year, region_create  # noqa: E402

CLASS_SIZE = 50
GRADES = (7, 8, 9, 10, 11, 12)
GRADE_NAMES = {7: "初一", 8: "初二", 9: "初三", 10: "高一", 11: "高二", 12: "高三"}
AGES = range(12, 19)  # grade g is g+5 or g+6 years old on the opening day
CHUNK = 5_000  # students seeded per transaction
BATCH = 500  # rows per INSERT
COHORT_BATCH = 10_000
POOL_CAP = 3 * CHUNK  # sittings kept waiting per age; the rest of a batch is dropped
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建文俊宇轩涵梓欣浩然子怡思睿博雨佳嘉琪晨"
SHARE_RESEARCH = (0.80, 0.88, 0.95)  # yes / guardian (or adult student) no / student no / never answered


class Sittings:
    """Synthetic sittings by age, scored and tiered when taken; flagged ones kept with ``keep``."""

    def __init__(self, campaign: Campaign, school: School, seed: int, flagged: float | None):
        self.campaign, self.policy, self.seed = campaign, answering.school_policy(school), seed
        self.pools: dict[int, deque[SyntheticSitting]] = {age: deque() for age in AGES}
        self.rng = random.Random(seed)
        self.batches = 0
        self.keep = 1.0
        if flagged is not None:  # the cohort's own flagged share among 12-18-year-olds, then the thinning
            sample = [s for s in cohort(COHORT_BATCH, seed - 1) if s.age in AGES]
            share = sum(self._tiered(s)[2].tier in FLAGGING for s in sample) / len(sample)
            self.natural = share
            self.keep = min(1.0, flagged * (1 - share) / (share * (1 - flagged))) if 0 < share < 1 else 1.0
        self.scored = 0

    def _tiered(self, s: SyntheticSitting) -> tuple[list[Any], dict[str, Any], Any]:
        results, sitting = answering._score(self.campaign, s.answers)  # the submit's own scoring
        decision = decide({r.instrument: (r, sitting[r.instrument]) for r in results}, self.policy)
        return results, sitting, decision

    def _refill(self) -> None:
        self.batches += 1
        for s in cohort(COHORT_BATCH, self.seed + self.batches):
            if s.age in AGES and len(self.pools[s.age]) < POOL_CAP:
                self.pools[s.age].append(s)

    def take(self, age: int) -> tuple[SyntheticSitting, list[Any], dict[str, Any], Any]:
        while True:
            pool = self.pools[age]
            if not pool:
                self._refill()
                continue
            s = pool.popleft()
            results, sitting, decision = self._tiered(s)
            self.scored += 1
            if decision.tier in FLAGGING and self.rng.random() >= self.keep:
                continue
            return s, results, sitting, decision


def insert(objs: list[Any]) -> None:
    """New rows of one model, ``BATCH`` to a statement: ``rows.insert`` (the same rows as
    ``bulk_create``, its statement compiled once per model and size; ``bulk_create`` compiled it
    for every batch and took most of the set-up's time)."""
    for at in range(0, len(objs), BATCH):
        rows.insert(objs[at:at + BATCH])


def seed(students: int, flagged: float | None, seed_value: int) -> dict[str, Any]:
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter()
    now = timezone.now()
    year = current_school_year(timezone.localdate())
    region = region_create(name="基准市", code="BENCH-1", level="city", name_en="Bench City")
    hospital = Hospital.objects.create(name="基准市精神卫生中心", code="BENCH-H", region=region, crisis_line="0000-1234567")
    school = School.objects.create(name="基准市第一中学", name_en="Bench No. 1 Secondary School", code="BENCH-MS",
                                   kind=School.Kind.SENIOR_HIGH, region=region, crisis_line="0000-7654321",
                                   partner_hospital=hospital)
    head = User.objects.create(username="bench_head", email="head@bench.invalid", password=make_password(None))
    Membership.objects.create(user=head, role=Membership.Role.SCHOOL_ADMIN, school=school,
                              starts_on=timezone.localdate() - dt.timedelta(days=400))
    opens_at = now - dt.timedelta(days=3)
    campaign = campaign_create(
        actor=head, school=school, name=f"{year}年秋季学期心理健康筛查（全校）", instruments=["phq9", "gad7", "asq"],
        opens_at=opens_at, closes_at=now + dt.timedelta(days=11), target_grades=list(GRADES),
        consent_mode=Campaign.ConsentMode.GUARDIAN_CONSENT, asks_research_use=True,
    )
    # Launched as campaign_launch would leave it; its assignments come in bulk below (launching
    # would also send 100,000 guardian links one by one).
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.LAUNCHED, launched_at=opens_at)
    campaign.refresh_from_db()
    school = School.objects.select_related("partner_hospital", "region").get(pk=school.pk)

    n_classes = -(-students // CLASS_SIZE)
    per_grade = -(-n_classes // len(GRADES))
    classes = SchoolClass.objects.bulk_create([
        SchoolClass(school=school, school_year=year, grade=GRADES[i // per_grade],
                    name=f"{GRADE_NAMES[GRADES[i // per_grade]]}({i % per_grade + 1})班")
        for i in range(n_classes)
    ], batch_size=BATCH)

    rng = random.Random(seed_value)
    opening_day = timezone.localdate(opens_at)
    adult_born_by = rules.born_on_or_before(opening_day, rules.ADULT_FROM)
    sittings = Sittings(campaign, school, seed_value, flagged)
    probe = Assignment(campaign=campaign, student=Student(school=school, birth_date=dt.date(2010, 1, 1)))
    texts = {
        (purpose, party): (text.version, text.sha256)
        for purpose, fn in (("screening", consent.consent_text), ("research", consent.research_text))
        for party in ("guardian", "student")
        for text in [fn(party=party, assignment=probe, language="zh-hans")]
    }
    public_ids: set[str] = set()
    tiers: Counter[str] = Counter()
    covered = 0
    window = (now - opens_at).total_seconds()
    P, D, M = ConsentRecord.Purpose, ConsentRecord.Decision, ConsentRecord.Method

    def record(a: Assignment, purpose: str, party: str, decision: str, method: str) -> ConsentRecord:
        version, sha = texts[(purpose, party)]
        return ConsentRecord(assignment=a, party=party, purpose=purpose, decision=decision, method=method,
                             text_version=version, text_sha256=sha, language="zh-hans")

    for first in range(0, students, CHUNK):
        picked, students_chunk = [], []
        for i in range(first, min(first + CHUNK, students)):
            school_class = classes[i // CLASS_SIZE]
            age = school_class.grade + 5 + (rng.random() < 0.5)
            drawn = sittings.take(age)
            # Turned `age` 1-360 days before the opening day.
            birth = opening_day.replace(year=opening_day.year - age, day=min(opening_day.day, 28)) - dt.timedelta(
                days=1 + rng.randrange(360))
            while (pid := new_public_id()) in public_ids:
                pass
            public_ids.add(pid)
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2, 2))))
            students_chunk.append(Student(public_id=pid, school=school, school_class=school_class,
                                          number=f"{year}{i + 1:06d}", name=name, birth_date=birth,
                                          gender=drawn[0].gender))
            picked.append(drawn)
        with transaction.atomic():
            insert(students_chunk)
            assignments, consents = [], []
            for student in students_chunk:
                minor = student.birth_date > adult_born_by
                at = opens_at + dt.timedelta(seconds=rng.uniform(0, window))
                assignments.append(Assignment(
                    campaign=campaign, student=student, status=Assignment.Status.SUBMITTED,
                    guardian=Assignment.Guardian.GRANTED if minor else Assignment.Guardian.NOT_ASKED,
                    student_consent=Assignment.StudentConsent.GRANTED,
                    started_at=at - dt.timedelta(minutes=rng.uniform(3, 15)), submitted_at=at))
            insert(assignments)
            submissions = []
            for a, (synthetic, results, _sitting, decision) in zip(assignments, picked, strict=True):
                a.campaign, minor = campaign, a.student.birth_date > adult_born_by
                if minor:
                    consents.append(record(a, P.SCREENING, "guardian", D.GRANTED, M.LINK))
                consents.append(record(a, P.SCREENING, "student", D.GRANTED, M.IN_APP))
                r = rng.random()
                student_yes = r < SHARE_RESEARCH[0] or (minor and r < SHARE_RESEARCH[1])
                guardian_yes = r < SHARE_RESEARCH[0] or SHARE_RESEARCH[1] <= r < SHARE_RESEARCH[2]
                if r < SHARE_RESEARCH[2]:
                    consents.append(record(a, P.RESEARCH, "student", D.GRANTED if student_yes else D.REFUSED, M.IN_APP))
                    if minor:
                        consents.append(record(a, P.RESEARCH, "guardian", D.GRANTED if guardian_yes else D.REFUSED,
                                               M.LINK))
                covered += r < SHARE_RESEARCH[0]
                answers = {code: dict(given) for code, given in synthetic.answers.items()}
                critical = decision.tier is Tier.RED or any(x.critical for x in results)
                limit, submitted = decision.first_contact_limit, a.submitted_at
                assert submitted is not None
                submission = Submission(
                    assignment=a, student_id=a.student_id, answers=answers, language="zh-hans",
                    submitted_at=submitted, idempotency_key=uuid.uuid4().hex,
                    body_sha256=answering.body_fingerprint(a.pk, answers), response={}, tier=decision.tier.value,
                    tier_rules=[x.to_dict() for x in decision.rules], unscored=list(decision.unscored),
                    policy_version=decision.policy_version, policy_fingerprint=decision.policy_fingerprint,
                    first_contact_due_at=submitted + limit if limit is not None else None, crisis=critical)
                submission.response = answering.submit_response(a, submission)
                submissions.append((submission, results))
                tiers[decision.tier.value] += 1
            insert(consents)
            insert([s for s, _r in submissions])
            insert([answering._result_row(s, i, r)  # the submit's own Result row
                    for s, results in submissions for i, r in enumerate(results)])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # statistics, as a live database has them
            cursor.execute("VACUUM ANALYZE")
        elif connection.vendor == "sqlite":  # every run starts from the same file, its log written back
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        "campaign": campaign.pk, "school": school.pk, "head": head.pk, "students": students,
        "submissions": sum(tiers.values()), "tiers": dict(tiers),
        "flagged": sum(n for t, n in tiers.items() if Tier(t) in FLAGGING), "research_covered": int(covered),
        "cohort": {"natural_flagged_share": round(getattr(sittings, "natural", 0.0), 3), "kept": round(sittings.keep, 3),
                   "scored": sittings.scored, "generated": sittings.batches * COHORT_BATCH},
        "seconds": {"migrate": round(migrated - started, 1), "seed": round(time.perf_counter() - migrated, 1)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--flagged", type=float, default=0.15, help="share of flagged students (negative: the cohort's own)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    with translation.override("zh-hans"):  # as the submit answers: in the student's language
        data = seed(args.students, args.flagged if args.flagged >= 0 else None, args.seed)
    args.out.write_text(json.dumps(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
