"""The demo city: regions, three schools, classes, ~600 students (through the real roster import),
staff, two hospitals and an analyst. All names and numbers are invented."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import random
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from screening.directory import services
from screening.directory.models import Hospital, Membership, Region, RosterImport, School, SchoolClass, Student

DEMO_PASSWORD = "xinqiao-demo-2026"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "子涵浩然欣怡梓萱宇轩雨泽思彤俊杰佳怡博文诗涵一诺晨曦梓睿可馨明轩雅琪天佑若曦嘉懿紫涵泽宇晓彤昊天思远安琪家豪静怡志强文博书瑶"


@dataclass(frozen=True)
class SchoolPlan:
    code: str
    name: str
    name_en: str
    kind: str
    district: str
    crisis_line: str
    classes: tuple[tuple[int, str, int], ...]  # grade, class name, size
    number_prefix: str


PLANS = (
    SchoolPlan("JC-DHJH", "江城市东湖初级中学", "Jiangcheng Donghu Junior High School", "junior_high", "donghu", "027-8800-1201",
               tuple((g, f"{label}({n})班", 35) for g, label in ((7, "初一"), (8, "初二"), (9, "初三")) for n in (1, 2)), "DH"),
    SchoolPlan("JC-YZ", "江城市第一高级中学", "Jiangcheng No. 1 Senior High School", "senior_high", "xishan", "027-8800-2202",
               tuple((g, f"{label}({n})班", 35) for g, label in ((10, "高一"), (11, "高二"), (12, "高三")) for n in (1, 2)), "YZ"),
    SchoolPlan("JC-UNI", "江城大学", "Jiangcheng University", "university", "donghu", "027-8800-3303",
               tuple((g, f"{2027 - g}级心理学{n}班", 45) for g in (1, 2) for n in (1, 2)), "U"),
)

# The hospital whose 24-hour line each school's students see on the crisis page.
PARTNERS = {"JC-DHJH": "JC-KNH", "JC-YZ": "JC-ADH", "JC-UNI": "JC-KNH"}

STAFF = (
    # username, role, place code, class names (for class-limited counsellors), description
    ("dh_admin", "school_admin", "JC-DHJH", (), "head of centre"),
    ("dh_counsellor", "counsellor", "JC-DHJH", (), "counsellor, whole school"),
    ("dh_class_counsellor", "counsellor", "JC-DHJH", ("初一(1)班", "初一(2)班"), "counsellor, two classes only"),
    ("yz_admin", "school_admin", "JC-YZ", (), "head of centre"),
    ("yz_counsellor", "counsellor", "JC-YZ", (), "counsellor, whole school"),
    ("uni_admin", "school_admin", "JC-UNI", (), "head of centre"),
    ("uni_counsellor", "counsellor", "JC-UNI", (), "counsellor, whole school"),
    ("kn_liaison", "hospital_liaison", "JC-KNH", (), "hospital liaison"),
    ("ad_liaison", "hospital_liaison", "JC-ADH", (), "hospital liaison"),
    ("analyst", "bureau_analyst", "990100", (), "bureau analyst, whole city"),
)


def _region(code: str, name: str, name_en: str, level: str, parent: Region | None) -> Region:
    existing = Region.objects.filter(code=code).first()
    return existing or services.region_create(name=name, name_en=name_en, code=code, level=level, parent=parent)


def _roster_csv(plan: SchoolPlan, year: int, rng: random.Random) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["学号", "姓名", "性别", "出生日期", "年级", "班级", "监护人姓名", "监护人电话", "监护人邮箱"])
    serial = 0
    for grade, class_name, size in plan.classes:
        # Typical age on 1 September: grade + 5 at school; first-year university students are ~18.
        age_at_start = grade + 5 if plan.kind != "university" else 17 + grade
        for _ in range(size):
            serial += 1
            birth = dt.date(year - age_at_start - 1, 9, 1) + dt.timedelta(days=rng.randrange(365))
            surname = rng.choice(SURNAMES)
            given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
            gender = rng.choice(("男", "女"))
            guardian = surname + rng.choice(("建国", "丽华", "志明", "秀英", "伟", "芳"))
            phone = f"139{rng.randrange(10**8):08d}"
            email = f"guardian{plan.number_prefix.lower()}{serial:04d}@example.org" if plan.kind != "university" else ""
            writer.writerow([f"{plan.number_prefix}{year}{serial:04d}", surname + given, gender, birth.isoformat(), grade,
                             class_name, guardian if plan.kind != "university" else "", phone, email])
    return out.getvalue().encode("utf-8-sig")


def seed() -> dict[str, Any]:
    """Build (or complete) the demo city. Returns what the command prints."""
    # Fixed seed: the same invented names on every machine and run (not for secrets).
    rng = random.Random(20261123)  # noqa: S311
    year = services.current_school_year()
    user_model = get_user_model()
    with transaction.atomic():
        province = _region("990000", "南州省", "Nanzhou Province", "province", None)
        city = _region("990100", "江城市", "Jiangcheng", "city", province)
        districts = {
            "donghu": _region("990101", "东湖区", "Donghu District", "district", city),
            "xishan": _region("990102", "西山区", "Xishan District", "district", city),
        }
        hospitals = {}
        for code, name, name_en, line in (("JC-KNH", "江城市康宁医院", "Jiangcheng Kangning Hospital", "027-8866-0120"),
                                          ("JC-ADH", "江城市安定医院", "Jiangcheng Anding Hospital", "027-8866-0999")):
            hospitals[code], _ = Hospital.objects.get_or_create(
                code=code, defaults={"name": name, "name_en": name_en, "region": city, "crisis_line": line})
        schools = {}
        for plan in PLANS:
            schools[plan.code], _ = School.objects.get_or_create(
                code=plan.code, defaults={"name": plan.name, "name_en": plan.name_en, "kind": plan.kind,
                                          "region": districts[plan.district], "crisis_line": plan.crisis_line})
            partner = hospitals[PARTNERS[plan.code]]
            if schools[plan.code].partner_hospital_id != partner.pk:
                schools[plan.code].partner_hospital = partner
                schools[plan.code].save(update_fields=["partner_hospital"])
        users: dict[str, Any] = {}
        for username, role, place, _class_names, _desc in STAFF:
            user, created = user_model.objects.get_or_create(username=username)
            if created or not user.check_password(DEMO_PASSWORD):
                user.set_password(DEMO_PASSWORD)
                user.save()
            users[username] = user
            target = {"school_admin": "school", "counsellor": "school", "hospital_liaison": "hospital", "bureau_analyst": "region"}[role]
            places: dict[str, dict[str, Any]] = {"school": schools, "hospital": hospitals}
            place_obj: Any = places[target][place] if target != "region" else city
            Membership.objects.get_or_create(user=user, role=role, **{target: place_obj})
        admin, created = user_model.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        if created or not admin.check_password(DEMO_PASSWORD):
            admin.set_password(DEMO_PASSWORD)
            admin.is_staff = admin.is_superuser = True
            admin.save()

    # Students arrive the way a school's would: a roster file, previewed, then applied.
    imports = []
    for plan in PLANS:
        admin_user = users[{"JC-DHJH": "dh_admin", "JC-YZ": "yz_admin", "JC-UNI": "uni_admin"}[plan.code]]
        content = _roster_csv(plan, year, rng)
        done = RosterImport.objects.filter(
            school=schools[plan.code], file_sha256=hashlib.sha256(content).hexdigest(), status=RosterImport.Status.APPLIED
        ).first()
        record = done or services.roster_preview(
            actor=admin_user, school=schools[plan.code], filename=f"{plan.code}-roster.csv", content=content, school_year=year
        )
        if record.status == RosterImport.Status.PREVIEW:
            record = services.roster_apply(actor=admin_user, roster_import=record)
        imports.append((plan, record))

    # Class-limited counsellor: after the roster created the classes.
    membership = Membership.objects.get(user=users["dh_class_counsellor"], role="counsellor")
    wanted = [c for c in SchoolClass.objects.filter(school=schools["JC-DHJH"], school_year=year)
              if c.name in dict((s[0], s[3]) for s in STAFF)["dh_class_counsellor"]]
    membership.classes.set(wanted)
    if not membership.limited_to_classes:
        membership.limited_to_classes = True
        membership.save(update_fields=["limited_to_classes"])

    # Three students whose codes we print (reissued each run, so the printed codes always work).
    samples = []
    for plan in PLANS:
        student = Student.objects.filter(school=schools[plan.code], is_active=True).order_by("number").first()
        if student is None:
            continue
        admin_user = users[{"JC-DHJH": "dh_admin", "JC-YZ": "yz_admin", "JC-UNI": "uni_admin"}[plan.code]]
        code = services.student_access_code_issue(actor=admin_user, student=student)
        samples.append((student, code))
    return {"staff": STAFF, "samples": samples, "imports": imports, "students": Student.objects.count()}
