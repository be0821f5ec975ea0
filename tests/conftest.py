"""Shared fixtures and the named cast. Each member says what they may and may not see.

Two schools (Dongshan Junior High in one district, Xishan Senior High in another), two hospitals,
and the people around them. Tests refer to them by name, never by building ad-hoc users.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from screening.core.auth import access_code_hash
from screening.directory.models import Hospital, Membership, School, SchoolClass, Student
from screening.directory.services import current_school_year, region_create

STAFF_PASSWORD = "correct-horse-battery-42"
ACCESS_CODE = "ABCDE-23456"


# --- audit triggers vs. test flushes ----------------------------------------------------------
# Transactional tests (live_server, concurrency) empty every table between tests. The audit log's
# append-only triggers refuse that, so around a flush only, the triggers are dropped and restored.
_triggers = importlib.import_module("screening.core.migrations.0002_audit_append_only")


@pytest.fixture(autouse=True, scope="session")
def _audit_triggers_allow_test_flush() -> Any:
    from django.db.backends.base.operations import BaseDatabaseOperations

    original = BaseDatabaseOperations.execute_sql_flush

    def flush(self: Any, sql_list: Any) -> None:
        vendor = self.connection.vendor
        drop = {"sqlite": _triggers.SQLITE_REVERSE, "postgresql": _triggers.POSTGRES_REVERSE}.get(vendor, [])
        create = {"sqlite": _triggers.SQLITE, "postgresql": _triggers.POSTGRES}.get(vendor, [])
        with self.connection.cursor() as cursor:
            for statement in drop:
                cursor.execute(statement)
        try:
            original(self, sql_list)
        finally:
            with self.connection.cursor() as cursor:
                for statement in create:
                    cursor.execute(statement)

    BaseDatabaseOperations.execute_sql_flush = flush  # type: ignore[method-assign]
    yield
    BaseDatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _no_active_models_from_other_tests() -> Any:
    """The submit keeps the active risk models for a few seconds per process; a test's database is
    rolled back after it, so that copy must not outlive the test."""
    from screening.riskmodels.estimate import forget_active

    forget_active()
    yield
    forget_active()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Argon2 at production strength costs about 0.2 s per staff user of the cast; what the tests
    check is who may do what, not the hasher (tests/core/test_passwords.py checks Argon2 itself)."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


# --- builders -----------------------------------------------------------------------------------


def birth_date_for_age(age: int) -> dt.date:
    today = timezone.localdate()
    return dt.date(today.year - age, 1, 1) if today >= dt.date(today.year, 1, 1) else dt.date(today.year - age - 1, 1, 1)


def make_student(school_class: SchoolClass, number: str, name: str, age: int, **extra: Any) -> Student:
    student = Student(
        school=school_class.school, school_class=school_class, number=number, name=name,
        birth_date=birth_date_for_age(age), gender=extra.pop("gender", "female"),
        guardian_name=extra.pop("guardian_name", "监护人"), guardian_phone=extra.pop("guardian_phone", "13800000000"),
        guardian_email=extra.pop("guardian_email", "guardian@example.org"), **extra,
    )
    student.access_code_hash = access_code_hash(student.public_id, ACCESS_CODE)
    student.access_code_issued_at = timezone.now()
    student.save()
    return student


def make_staff(django_user_model: Any, username: str, role: str, **place: Any) -> Any:
    user = django_user_model.objects.create_user(username=username, password=STAFF_PASSWORD)
    classes = place.pop("classes", [])
    membership = Membership.objects.create(user=user, role=role, limited_to_classes=bool(classes), **place)
    if classes:
        membership.classes.set(classes)
    return user


class Cast:
    """Everyone, by name."""

    def __init__(self, django_user_model: Any):
        year = current_school_year()
        province = region_create(name="广东省", name_en="Guangdong", code="440000", level="province")
        city = region_create(name="深圳市", name_en="Shenzhen", code="440300", level="city", parent=province)
        self.east = region_create(name="东区", name_en="East District", code="440301", level="district", parent=city)
        self.west = region_create(name="西区", name_en="West District", code="440302", level="district", parent=city)
        self.dongshan = School.objects.create(name="东山初级中学", name_en="Dongshan Junior High", code="DSJH", kind="junior_high", region=self.east, crisis_line="0755-1111111")
        self.xishan = School.objects.create(name="西山高级中学", name_en="Xishan Senior High", code="XSSH", kind="senior_high", region=self.west, crisis_line="0755-2222222")
        self.ds_7_1 = SchoolClass.objects.create(school=self.dongshan, school_year=year, grade=7, name="初一(1)班")
        self.ds_7_2 = SchoolClass.objects.create(school=self.dongshan, school_year=year, grade=7, name="初一(2)班")
        self.xs_10_1 = SchoolClass.objects.create(school=self.xishan, school_year=year, grade=10, name="高一(1)班")
        self.kangning = Hospital.objects.create(name="康宁医院", name_en="Kangning Hospital", code="KNH", region=city, crisis_line="0755-3333333")
        self.anding = Hospital.objects.create(name="安定医院", name_en="Anding Hospital", code="ADH", region=city, crisis_line="0755-4444444")

        # hamlet: 12-year-old at Dongshan, class 7-1. Sees only himself.
        self.hamlet = make_student(self.ds_7_1, "D0001", "韩小明", 12)
        # hilda: 13-year-old at Dongshan, class 7-2. Sees only herself.
        self.hilda = make_student(self.ds_7_2, "D0002", "何小丽", 13)
        # cordelia: 15-year-old at Xishan. Sees only herself; no Dongshan staff may see her.
        self.cordelia = make_student(self.xs_10_1, "X0001", "陈可儿", 15)

        # alice: counsellor at Dongshan, whole school. Sees Dongshan students, never Xishan's.
        self.alice = make_staff(django_user_model, "alice", "counsellor", school=self.dongshan)
        # carol: counsellor at Dongshan limited to class 7-1. Sees hamlet, not hilda or cordelia.
        self.carol = make_staff(django_user_model, "carol", "counsellor", school=self.dongshan, classes=[self.ds_7_1])
        # bob: counsellor at Xishan. Sees cordelia, never Dongshan students.
        self.bob = make_staff(django_user_model, "bob", "counsellor", school=self.xishan)
        # diana: head of Dongshan's psychological centre. Everything at Dongshan, nothing at Xishan.
        self.diana = make_staff(django_user_model, "diana", "school_admin", school=self.dongshan)
        # edgar: head of Xishan's centre. Everything at Xishan only.
        self.edgar = make_staff(django_user_model, "edgar", "school_admin", school=self.xishan)
        # lily: liaison at Kangning Hospital. No student records (referral packets come later).
        self.lily = make_staff(django_user_model, "lily", "hospital_liaison", hospital=self.kangning)
        # liam: liaison at Anding Hospital. Nothing of Kangning's.
        self.liam = make_staff(django_user_model, "liam", "hospital_liaison", hospital=self.anding)
        # olga: bureau analyst for the East District. Schools in the east, no identifiable student.
        self.olga = make_staff(django_user_model, "olga", "bureau_analyst", region=self.east)
        # root: platform admin. Sees all, every read audited.
        self.root = django_user_model.objects.create_superuser(username="root", password=STAFF_PASSWORD)
        # nobody: signed in, no role. Sees nothing.
        self.nobody = django_user_model.objects.create_user(username="nobody", password=STAFF_PASSWORD)


@pytest.fixture
def cast(db: Any, django_user_model: Any) -> Cast:
    return Cast(django_user_model)


@pytest.fixture
def api() -> Any:
    """An API client; ``api.as_(user)`` signs it in as that user (students too)."""

    class Client(APIClient):
        def as_(self, user: Any) -> Client:
            if isinstance(user, Student):
                from screening.directory.services import student_user_ensure

                user = student_user_ensure(student=user)
            self.force_authenticate(user=user)
            return self

    return Client()
