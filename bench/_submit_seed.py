"""Seed the bench database for ``bench/submit_throughput.py`` (run by it, in a child process).

One school with N students aged 15-17 in classes of 50, each with a sign-in user and an API token;
a counsellor and a head of centre (the red alerts' recipients); one launched campaign of PHQ-9,
GAD-7 and ASQ under ``guardian_notice`` with every student's own consent recorded (a
ConsentRecord each). Students have no guardian e-mail, so launching sends nothing. Also creates
the ceiling's table ``bench_ceiling``. Bulk inserts throughout: this is set-up, not what is measured.

Prints one JSON object: ``{"campaign": id, "students": [[assignment_id, token_key], ...]}``.
Needs DJANGO_SETTINGS_MODULE=backend.settings and the bench DATABASE_URL in the environment.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from screening.campaigns.models import Assignment, Campaign, ConsentRecord  # noqa: E402
from screening.campaigns.services import campaign_create, campaign_launch, consent  # noqa: E402
from screening.core.models import User  # noqa: E402
from screening.directory.models import Hospital, Membership, School, SchoolClass, Student, new_public_id  # noqa: E402
from screening.directory.services import current_school_year, region_create  # noqa: E402

CLASS_SIZE = 50
BATCH = 2000


def seed(students: int) -> dict[str, object]:
    now = timezone.now()
    today = timezone.localdate()
    year = current_school_year(today)
    region = region_create(name="基准市", code="BENCH-1", level="city", name_en="Bench City")
    hospital = Hospital.objects.create(name="基准市精神卫生中心", code="BENCH-H", region=region, crisis_line="0000-1234567")
    school = School.objects.create(name="基准高级中学", code="BENCH-HS", kind=School.Kind.SENIOR_HIGH, region=region,
                                   crisis_line="0000-7654321", partner_hospital=hospital)
    admin = User.objects.create(username="bench_admin", email="admin@bench.invalid", password=make_password(None))
    counsellor = User.objects.create(username="bench_counsellor", email="counsellor@bench.invalid",
                                     password=make_password(None))
    Membership.objects.create(user=admin, role=Membership.Role.SCHOOL_ADMIN, school=school, starts_on=today)
    Membership.objects.create(user=counsellor, role=Membership.Role.COUNSELLOR, school=school, starts_on=today)

    n_classes = -(-students // CLASS_SIZE)
    grades = (10, 11, 12)
    classes = SchoolClass.objects.bulk_create([
        SchoolClass(school=school, school_year=year, grade=grades[i % 3], name=f"高{grades[i % 3] - 9}({i // 3 + 1})班")
        for i in range(n_classes)
    ])
    public_ids: set[str] = set()
    while len(public_ids) < students:
        public_ids.add(new_public_id())
    ids = sorted(public_ids)
    unusable = make_password(None)  # one unusable hash is as good as many: nobody signs in with it
    users = User.objects.bulk_create(
        [User(username=f"student-{pid}", password=unusable) for pid in ids], batch_size=BATCH)
    rows = []
    for i, (pid, user) in enumerate(zip(ids, users, strict=True)):
        school_class = classes[i // CLASS_SIZE]
        age = 15 + (school_class.grade - 10)  # 15, 16, 17: ages where guardian_notice needs no guardian consent
        # Turned `age` 1-300 days ago.
        birth = today.replace(year=today.year - age, day=min(today.day, 28)) - dt.timedelta(days=1 + i % 300)
        rows.append(Student(public_id=pid, school=school, school_class=school_class, number=f"B{i + 1:06d}",
                            name=f"学生{i + 1}", birth_date=birth, user=user))
    Student.objects.bulk_create(rows, batch_size=BATCH)
    tokens = Token.objects.bulk_create([Token(key=Token.generate_key(), user=u) for u in users], batch_size=BATCH)

    campaign = campaign_create(
        actor=admin, school=school, name="基准筛查", instruments=["phq9", "gad7", "asq"],
        opens_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(days=14), target_grades=list(grades),
        consent_mode=Campaign.ConsentMode.GUARDIAN_NOTICE,
    )
    campaign_launch(actor=admin, campaign=campaign)
    assignments = list(Assignment.objects.filter(campaign=campaign).select_related("student", "campaign__school"))
    if len(assignments) != students:
        raise SystemExit(f"launch made {len(assignments)} assignments for {students} students")
    # Every student agreed on the first page (what POST .../consent/ would record), in bulk.
    text = consent.consent_text(party="student", assignment=assignments[0], language="zh-hans")
    with transaction.atomic():
        ConsentRecord.objects.bulk_create([
            ConsentRecord(assignment=a, party=ConsentRecord.Party.STUDENT, decision=ConsentRecord.Decision.GRANTED,
                          method=ConsentRecord.Method.IN_APP, text_version=text.version, text_sha256=text.sha256,
                          language="zh-hans")
            for a in assignments
        ], batch_size=BATCH)
        Assignment.objects.filter(campaign=campaign).update(student_consent=Assignment.StudentConsent.GRANTED)

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_ceiling (id bigserial PRIMARY KEY, a1 integer NOT NULL, "
                       "a2 integer NOT NULL, a3 integer NOT NULL, a4 integer NOT NULL, a5 integer NOT NULL, "
                       "a6 integer NOT NULL, a7 integer NOT NULL, a8 integer NOT NULL, a9 integer NOT NULL)")

    token_of = {t.user_id: t.key for t in tokens}
    by_user = {a.student.user_id: a.pk for a in assignments}
    return {"campaign": campaign.pk, "students": [[by_user[u.pk], token_of[u.pk]] for u in users]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    start = time.perf_counter()
    data = seed(args.students)
    data["seconds"] = round(time.perf_counter() - start, 1)
    args.out.write_text(json.dumps(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
