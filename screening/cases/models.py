"""A counsellor's cases: what happens to a student after a screening flags them.

Case (at most one open per student; a yellow-or-above flag opens or updates it) → CaseFlag (each
submission that flagged it, with its tier) → Contact (when, how, who, an encrypted note and an
outcome; guardian communication is its own kind) → FollowUpPlan → FollowUp (dates from the tier's
rhythm; done by a contact, or marked missed) → CaseEvent (the append-only timeline: every step,
with actor and time). A case moves open → in contact → monitoring → closed; closing needs a reason.

The outcomes of student contacts are the risk model's labels (``Contact.Outcome``): confirmed
need is a positive, no current need a negative; the others are left out of training.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from screening.campaigns.models import CrisisAlert, Submission
from screening.core.fields import EncryptedTextField
from screening.core.scoping import ScopedManager
from screening.directory.models import School, Student

Tier = Submission.Tier


class Case(models.Model):
    """One episode of a counsellor's care for one student, from the flag that opened it to its
    closing. ``tier`` is the highest tier of the flags it holds; ``first_contact_due_at`` the
    earliest first-contact limit among its flags not yet followed by a contact (None when every
    flag has been), which orders the queue; ``first_contact_at`` the first contact of the case."""

    class Status(models.TextChoices):
        OPEN = "open", _("waiting for first contact")
        IN_CONTACT = "in_contact", _("in contact")
        MONITORING = "monitoring", _("monitoring")
        CLOSED = "closed", _("closed")

    class CloseReason(models.TextChoices):
        NO_CURRENT_NEED = "no_current_need", _("no current need after interview")
        SUPPORT_COMPLETED = "support_completed", _("support completed, need resolved")
        IN_CARE_ELSEWHERE = "in_care_elsewhere", _("already in care elsewhere")
        LEFT_SCHOOL = "left_school", _("student left the school")
        OTHER = "other", _("other (see note)")

    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="cases", verbose_name=_("student"))
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="cases", verbose_name=_("school"))
    tier = models.CharField(_("tier"), max_length=6, choices=Tier.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(_("opened"))
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("follows case")
    )
    first_contact_due_at = models.DateTimeField(_("first contact due"), null=True, blank=True)
    first_contact_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    close_reason = models.CharField(_("reason for closing"), max_length=20, choices=CloseReason.choices, blank=True)
    close_note = EncryptedTextField(_("closing note"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["student"], condition=~Q(status="closed"), name="one_open_case_per_student"),
            models.CheckConstraint(
                name="closed_case_has_reason",
                condition=~Q(status="closed") | (Q(closed_at__isnull=False) & ~Q(close_reason="")),
            ),
        ]
        indexes = [models.Index(fields=["school", "status"], name="case_school_status")]
        verbose_name = _("case")
        verbose_name_plural = _("cases")

    def __str__(self) -> str:
        return f"case {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.CLOSED


class CaseFlag(models.Model):
    """A submission of yellow or above that opened, updated or reopened a case. Each flag has its
    own first-contact limit (``due_at``), met by the first contact after it (``contacted_at``) or
    escalated to the heads of centre when it passes (``escalated_at``): the KPIs count flags."""

    class Effect(models.TextChoices):
        OPENED = "opened", _("opened the case")
        UPDATED = "updated", _("added to the open case")
        RAISED = "raised", _("raised the case's tier")
        REOPENED = "reopened", _("reopened the closed case")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="flags")
    # A submission's own flag; or, for a tier a newly activated model raised later (risk_rescore),
    # the new risk score (whose submission already has its flag, or none when it was green).
    submission = models.OneToOneField(Submission, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="case_flag")
    risk_score = models.OneToOneField("riskmodels.RiskScore", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="case_flag")
    tier = models.CharField(_("tier"), max_length=6, choices=Tier.choices)
    effect = models.CharField(max_length=10, choices=Effect.choices)
    at = models.DateTimeField()
    due_at = models.DateTimeField(_("first contact due"), null=True, blank=True)
    contacted_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated to the head of centre"), null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["case", "at", "id"]
        indexes = [models.Index(fields=["contacted_at", "due_at"], name="case_flag_waiting_due")]
        constraints = [models.CheckConstraint(name="case_flag_has_a_source",
                                              condition=Q(submission__isnull=False) | Q(risk_score__isnull=False))]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.submission_id}"


class FollowUpPlan(models.Model):
    """Follow-ups planned at once from the tier's rhythm (and edited before saving). A new plan
    cancels the follow-ups of the one before that are still to come."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="plans")
    tier = models.CharField(_("tier"), max_length=6, choices=Tier.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    request_key = models.CharField(max_length=100, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["case", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "request_key"], condition=~Q(request_key=""),
                                    name="follow_up_plan_request_once"),
        ]

    def __str__(self) -> str:
        return f"plan {self.pk}"


class FollowUp(models.Model):
    """One planned follow-up: due on a day; done by a contact, missed when the day passes without
    one, or cancelled by a new plan or the case's closing."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("planned")
        DONE = "done", _("done")
        MISSED = "missed", _("missed")
        CANCELLED = "cancelled", _("cancelled")

    plan = models.ForeignKey(FollowUpPlan, on_delete=models.PROTECT, related_name="follow_ups")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="follow_ups")
    due_on = models.DateField(_("due"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PLANNED)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    missed_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["case", "due_on", "id"]
        indexes = [models.Index(fields=["status", "due_on"], name="follow_up_status_due")]

    def __str__(self) -> str:
        return f"follow-up {self.pk}"


class Contact(models.Model):
    """A contact about a case: with the student, or guardian communication (Mental Health Law
    art. 16), when, how, who took part, an encrypted note and an outcome."""

    class Kind(models.TextChoices):
        STUDENT = "student", _("contact with the student")
        GUARDIAN = "guardian", _("guardian communication")

    class Method(models.TextChoices):
        FACE_TO_FACE = "face_to_face", _("face to face")
        PHONE = "phone", _("phone")
        ONLINE = "online", _("online")

    class Participant(models.TextChoices):
        STUDENT = "student", _("student")
        GUARDIAN = "guardian", _("guardian")
        CLASS_TEACHER = "class_teacher", _("class teacher")

    class Outcome(models.TextChoices):
        CONFIRMED_NEED = "confirmed_need", _("confirmed need (intervention or referral)")
        NO_CURRENT_NEED = "no_current_need", _("no current need")
        IN_CARE_ELSEWHERE = "in_care_elsewhere", _("already in care elsewhere")
        COULD_NOT_REACH = "could_not_reach", _("could not reach")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="contacts")
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="contacts")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.STUDENT)
    at = models.DateTimeField(_("when"))
    method = models.CharField(_("how"), max_length=12, choices=Method.choices)
    participants = models.JSONField(_("who took part"), default=list)
    note = EncryptedTextField(_("note"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    follow_up = models.OneToOneField(
        FollowUp, null=True, blank=True, on_delete=models.PROTECT, related_name="contact", verbose_name=_("follow-up")
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    request_key = models.CharField(max_length=100, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["case", "-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "request_key"], condition=~Q(request_key=""),
                                    name="contact_request_once"),
        ]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return f"contact {self.pk}"

    @property
    def counts_as_contact(self) -> bool:
        """Did this reach the student (the first-contact limit and the interview rate count these)?"""
        return self.kind == self.Kind.STUDENT and self.outcome != self.Outcome.COULD_NOT_REACH


class CaseEvent(models.Model):
    """One step on a case's timeline, append-only: what, who (none for the system), when. ``detail``
    holds ids, tiers and codes, never notes, names or answers."""

    class Kind(models.TextChoices):
        OPENED = "opened", _("case opened")
        REOPENED = "reopened", _("case reopened")
        FLAGGED = "flagged", _("new screening flag")
        TIER_RAISED = "tier_raised", _("tier raised")
        ALERT_RAISED = "alert_raised", _("red alert raised")
        ALERT_ACKNOWLEDGED = "alert_acknowledged", _("red alert acknowledged")
        ALERT_ESCALATED_SCHOOL = "alert_escalated_school", _("red alert escalated to the head of centre")
        ALERT_ESCALATED_HOSPITAL = "alert_escalated_hospital", _("red alert escalated to the partner hospital")
        CONTACT = "contact", _("contact recorded")
        GUARDIAN = "guardian", _("guardian communication recorded")
        PLAN = "plan", _("follow-up plan made")
        FOLLOW_UP_DONE = "follow_up_done", _("follow-up done")
        FOLLOW_UP_MISSED = "follow_up_missed", _("follow-up missed")
        ESCALATED = "escalated", _("first contact overdue: escalated to the head of centre")
        STATUS = "status", _("status changed")
        CLOSED = "closed", _("case closed")
        REFERRAL = "referral", _("referral update")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    alert = models.ForeignKey(CrisisAlert, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    detail = models.JSONField(default=dict, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)  # escalations: when the e-mail went

    objects = ScopedManager()

    class Meta:
        ordering = ["case", "at", "id"]
        indexes = [models.Index(fields=["kind", "at"], name="case_event_kind_at")]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.kind}"
