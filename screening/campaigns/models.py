"""A screening campaign of one school, and one assignment per eligible student."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from screening.core.scoping import ScopedManager
from screening.directory.models import School, SchoolClass, Student


class Campaign(models.Model):
    """Which questionnaires, for whom, when, under which consent rule.

    ``instruments`` is the ordered list of instrument codes; ``profiles`` maps a code to the
    cut-off profile that scores it (codes not named use the definition's default profile).
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        LAUNCHED = "launched", _("open")
        CLOSED = "closed", _("closed")

    class ConsentMode(models.TextChoices):
        # Under 14 a guardian always consents (PIPL art. 31); the mode decides ages 14-17.
        GUARDIAN_CONSENT = "guardian_consent", _("guardian consent for students under 18")
        GUARDIAN_NOTICE = "guardian_notice", _("students 14 and over consent themselves; guardians are told")

    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("school"))
    name = models.CharField(_("name"), max_length=120)
    instruments = models.JSONField(_("questionnaires"), default=list)
    profiles = models.JSONField(_("cut-off profiles"), default=dict, blank=True)
    stepped = models.BooleanField(
        _("stepped screening"), default=False,
        help_text=_("PHQ-2 of 3 or more adds the PHQ-9, GAD-2 of 3 or more adds the GAD-7, in the same sitting."),
    )
    target_classes = models.ManyToManyField(SchoolClass, blank=True, related_name="campaigns", verbose_name=_("classes"))
    target_grades = models.JSONField(_("grades"), default=list, blank=True)
    opens_at = models.DateTimeField(_("opens"))
    closes_at = models.DateTimeField(_("closes"))
    consent_mode = models.CharField(
        _("consent for ages 14-17"), max_length=20, choices=ConsentMode.choices, default=ConsentMode.GUARDIAN_CONSENT
    )
    students_see_results = models.BooleanField(_("students see their own results"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["-opens_at", "-id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.CheckConstraint(name="campaign_window_in_order", condition=models.Q(closes_at__gt=models.F("opens_at"))),
        ]

    def __str__(self) -> str:
        return f"{self.name} · {self.school}"


class Assignment(models.Model):
    """One student's part in one campaign."""

    class Status(models.TextChoices):
        PENDING = "pending", _("not started")
        IN_PROGRESS = "in_progress", _("in progress")
        SUBMITTED = "submitted", _("submitted")
        MISSED = "missed", _("missed")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments")
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="assignments")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["campaign", "student"]
        constraints = [models.UniqueConstraint(fields=["campaign", "student"], name="one_assignment_per_student")]
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.student_id}"
