"""People and places: regions, schools, classes, students, hospitals and staff memberships."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from screening.core.fields import EncryptedTextField
from screening.core.scoping import ScopedManager

code_validator = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9-]{1,31}$", _("Use 2–32 letters, digits or hyphens."))

# Crockford-style alphabet without 0/O/1/I/L/U, so ids and codes survive being read aloud or printed.
SAFE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_public_id() -> str:
    """A random id with no meaning; the only student identifier that ever leaves the school."""
    return "S" + "".join(secrets.choice(SAFE_ALPHABET) for _ in range(11))


class Region(models.Model):
    """A province, city or district. ``path`` is the chain of ids from the root, e.g. ``/1/4/9/``."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("province")
        CITY = "city", _("city")
        DISTRICT = "district", _("district")

    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    code = models.CharField(_("administrative code"), max_length=12, unique=True)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = models.CharField(max_length=255, db_index=True, editable=False)

    objects = ScopedManager()

    class Meta:
        ordering = ["path"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name


class School(models.Model):
    class Kind(models.TextChoices):
        PRIMARY = "primary", _("primary school")
        JUNIOR_HIGH = "junior_high", _("junior high school")
        SENIOR_HIGH = "senior_high", _("senior high school")
        VOCATIONAL = "vocational", _("vocational school")
        UNIVERSITY = "university", _("university")

    name = models.CharField(_("name"), max_length=150)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    code = models.CharField(_("school code"), max_length=32, unique=True, validators=[code_validator])
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="schools", verbose_name=_("region"))
    crisis_line = models.CharField(_("school 24-hour line"), max_length=40, blank=True)
    # The hospital whose 24-hour line students see on the crisis page. The school–hospital
    # agreements (issue #7) name the partner formally; this is the line shown to students.
    partner_hospital = models.ForeignKey(
        "Hospital", null=True, blank=True, on_delete=models.SET_NULL, related_name="partner_schools",
        verbose_name=_("partner hospital"),
    )
    # This school's changes to the default tier policy (scoring/tier_policy.yaml), in the form
    # scoring.tiers.policy_with_overrides documents; checked when saved (clean) and when used.
    tier_overrides = models.JSONField(_("tier policy overrides"), default=dict, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("school")
        verbose_name_plural = _("schools")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from scoring.tiers import TierPolicyError, policy_with_overrides

        try:
            policy_with_overrides(self.tier_overrides or None)
        except TierPolicyError as exc:
            raise ValidationError({"tier_overrides": [str(exc)]}) from exc


class SchoolClass(models.Model):
    """A class (班级) in one school year. ``school_year`` is the year the school year starts in."""

    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="classes", verbose_name=_("school"))
    school_year = models.PositiveSmallIntegerField(_("school year (start)"))
    grade = models.PositiveSmallIntegerField(_("grade"))
    name = models.CharField(_("name"), max_length=60)

    objects = ScopedManager()

    class Meta:
        ordering = ["school", "-school_year", "grade", "name"]
        constraints = [
            models.UniqueConstraint(fields=["school", "school_year", "name"], name="class_unique_per_school_year"),
        ]
        verbose_name = _("class")
        verbose_name_plural = _("classes")

    def __str__(self) -> str:
        return f"{self.name} · {self.school} · {self.school_year}"


class Student(models.Model):
    """A student of one school. ``public_id`` is what leaves the school; ``number`` never does."""

    class Gender(models.TextChoices):
        FEMALE = "female", _("female")
        MALE = "male", _("male")
        OTHER = "other", _("other")
        UNKNOWN = "unknown", _("not stated")

    public_id = models.CharField(_("public id"), max_length=16, unique=True, default=new_public_id, editable=False)
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="students", verbose_name=_("school"))
    school_class = models.ForeignKey(
        SchoolClass, on_delete=models.PROTECT, related_name="students", verbose_name=_("class")
    )
    number = models.CharField(_("student number"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    birth_date = models.DateField(_("birth date"))
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, default=Gender.UNKNOWN)
    guardian_name = EncryptedTextField(_("guardian name"), blank=True)
    guardian_phone = EncryptedTextField(_("guardian phone"), blank=True)
    guardian_email = EncryptedTextField(_("guardian e-mail"), blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="student"
    )
    access_code_hash = models.CharField(max_length=64, blank=True, editable=False)
    access_code_issued_at = models.DateTimeField(_("access code issued"), null=True, blank=True, editable=False)
    is_active = models.BooleanField(_("on the roster"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["school", "school_class", "number"]
        constraints = [models.UniqueConstraint(fields=["school", "number"], name="student_number_unique_per_school")]
        verbose_name = _("student")
        verbose_name_plural = _("students")

    def __str__(self) -> str:
        return self.public_id

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    @property
    def age(self) -> int:
        """Age in whole years today, in the platform's time zone."""
        return self.age_on(timezone.localdate())

    @property
    def is_minor_under_14(self) -> bool:
        """Under 14 needs a guardian's consent (PIPL art. 31)."""
        return self.age < 14


class Hospital(models.Model):
    name = models.CharField(_("name"), max_length=150)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    code = models.CharField(_("hospital code"), max_length=32, unique=True, validators=[code_validator])
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="hospitals", verbose_name=_("region"))
    crisis_line = models.CharField(_("24-hour crisis line"), max_length=40, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("hospital")
        verbose_name_plural = _("hospitals")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A staff role at one place for a period. Counsellors may be limited to some classes."""

    class Role(models.TextChoices):
        SCHOOL_ADMIN = "school_admin", _("head of psychological centre")
        COUNSELLOR = "counsellor", _("counsellor")
        HOSPITAL_LIAISON = "hospital_liaison", _("hospital liaison")
        BUREAU_ANALYST = "bureau_analyst", _("bureau analyst")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    school = models.ForeignKey(School, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships")
    hospital = models.ForeignKey(
        Hospital, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships")
    limited_to_classes = models.BooleanField(
        _("limited to some classes"),
        default=False,
        help_text=_("A counsellor who covers only the classes below (of this school). Without it, the whole school."),
    )
    classes = models.ManyToManyField(
        SchoolClass, blank=True, related_name="counsellor_memberships", verbose_name=_("class scope")
    )
    starts_on = models.DateField(_("starts on"), default=dt.date.today)
    ends_on = models.DateField(_("ends on"), null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["user", "role"]
        verbose_name = _("staff membership")
        verbose_name_plural = _("staff memberships")
        constraints = [
            models.CheckConstraint(
                name="membership_place_matches_role",
                condition=(
                    models.Q(
                        role__in=["school_admin", "counsellor"],
                        school__isnull=False,
                        hospital__isnull=True,
                        region__isnull=True,
                    )
                    | models.Q(role="hospital_liaison", hospital__isnull=False, school__isnull=True, region__isnull=True)
                    | models.Q(role="bureau_analyst", region__isnull=False, school__isnull=True, hospital__isnull=True)
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()}"


class RosterImport(models.Model):
    """One uploaded roster: checked in full, shown as a preview, then applied whole or not at all.

    The parsed rows hold names and guardian contacts, so they are kept encrypted.
    """

    class Status(models.TextChoices):
        INVALID = "invalid", _("has problems")
        PREVIEW = "preview", _("ready to apply")
        APPLIED = "applied", _("applied")

    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="roster_imports")
    school_year = models.PositiveSmallIntegerField(_("school year (start)"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    filename = models.CharField(_("file name"), max_length=200)
    file_sha256 = models.CharField(max_length=64)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    rows_encrypted = EncryptedTextField(blank=True)
    problems = models.JSONField(_("problems"), default=list, blank=True)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("roster import")
        verbose_name_plural = _("roster imports")

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"
