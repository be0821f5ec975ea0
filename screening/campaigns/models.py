"""A screening campaign of one school and everything a student's part in it leaves behind.

Campaign → Assignment (one per eligible student) → ConsentRecord (append-only: who agreed, how,
to which text) and GuardianInvitation (the signed link a guardian answers) → Submission (exactly
one per assignment, with the answers) → Result (one per instrument) → CrisisAlert (red tier).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from screening.core.fields import EncryptedTextField
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
    # A separate, optional consent (PIPL art. 14: a separate purpose needs its own consent); never a
    # condition of being screened. Who must agree is in rules.research_use_covered.
    asks_research_use = models.BooleanField(
        _("asks for consent to research use"), default=False,
        help_text=_("Ask separately for consent to use the answers, without names, for research."),
    )
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
    """One student's part in one campaign: consent state, the draft being answered, the status.

    ``guardian`` and ``student_consent`` mirror the latest ConsentRecord of each party (kept by
    the consent services in the same transaction) so that "may this student start" is one row.
    ``draft`` maps instrument code → {item id → printed value}; it survives restarts and devices.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("not started")
        IN_PROGRESS = "in_progress", _("in progress")
        SUBMITTED = "submitted", _("submitted")
        MISSED = "missed", _("missed")

    class Guardian(models.TextChoices):
        NOT_ASKED = "not_asked", _("not asked yet")
        ASKED = "asked", _("asked, no answer yet")
        GRANTED = "granted", _("consented")
        REFUSED = "refused", _("refused")
        WITHDRAWN = "withdrawn", _("withdrew consent")
        NOTIFIED = "notified", _("informed")

    class StudentConsent(models.TextChoices):
        NOT_ASKED = "not_asked", _("not asked yet")
        GRANTED = "granted", _("agreed")
        REFUSED = "refused", _("declined")
        WITHDRAWN = "withdrawn", _("withdrew")

    # No index of its own: one_assignment_per_student (campaign, student) serves it.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="assignments")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    guardian = models.CharField(_("guardian"), max_length=10, choices=Guardian.choices, default=Guardian.NOT_ASKED)
    student_consent = models.CharField(
        _("student's consent"), max_length=10, choices=StudentConsent.choices, default=StudentConsent.NOT_ASKED
    )
    draft = models.JSONField(default=dict, blank=True)
    draft_saved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["campaign", "student"]
        constraints = [models.UniqueConstraint(fields=["campaign", "student"], name="one_assignment_per_student")]
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.student_id}"


class ConsentRecord(models.Model):
    """One consent event, append-only: who (party and, for paper, the staff member who recorded
    it), when, how, what (granted / refused / withdrawn / notified), for which purpose, and which
    text was shown (``text_version`` and the SHA-256 of the exact text in ``language``).

    ``purpose`` keeps the two consents apart: *screening* (what the assignment's ``guardian`` and
    ``student_consent`` mirror) and the separate, optional *research* use of the answers without
    names, which never touches the mirror and never decides whether a student may be screened.
    """

    class Purpose(models.TextChoices):
        SCREENING = "screening", _("screening")
        RESEARCH = "research", _("research use without names")

    class Party(models.TextChoices):
        GUARDIAN = "guardian", _("guardian")
        STUDENT = "student", _("student")

    class Decision(models.TextChoices):
        GRANTED = "granted", _("consented")
        REFUSED = "refused", _("refused")
        WITHDRAWN = "withdrawn", _("withdrew")
        NOTIFIED = "notified", _("informed")

    class Method(models.TextChoices):
        LINK = "link", _("signed link")
        PAPER = "paper", _("paper form recorded by staff")
        IN_APP = "in_app", _("in the questionnaire")
        EMAIL = "email", _("notice by e-mail")

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="consents")
    party = models.CharField(_("party"), max_length=10, choices=Party.choices)
    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose.choices, default=Purpose.SCREENING)
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    method = models.CharField(_("how"), max_length=8, choices=Method.choices)
    text_version = models.CharField(_("text version"), max_length=40)
    text_sha256 = models.CharField(max_length=64, blank=True)
    language = models.CharField(_("language"), max_length=10)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = EncryptedTextField(_("note"), blank=True)
    at = models.DateTimeField(_("time"), auto_now_add=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["assignment", "at", "id"]
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")

    def __str__(self) -> str:
        return f"{self.assignment_id}:{self.purpose}:{self.party}:{self.decision}"


class GuardianInvitation(models.Model):
    """A signed, expiring link sent to a guardian (for consent, or as notice). ``nonce`` is in
    the signed token; replacing it revokes every earlier link. ``channel`` names the sender
    (e-mail now; other channels later through the same interface)."""

    class Purpose(models.TextChoices):
        CONSENT = "consent", _("asks for consent")
        NOTICE = "notice", _("informs")

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="invitations")
    purpose = models.CharField(max_length=8, choices=Purpose.choices)
    channel = models.CharField(max_length=16, default="email")
    nonce = models.CharField(max_length=32)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    last_sent_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["-sent_at"]
        constraints = [models.UniqueConstraint(fields=["assignment"], name="one_guardian_invitation_per_assignment")]

    def __str__(self) -> str:
        return f"{self.assignment_id}:{self.purpose}"


class Submission(models.Model):
    """A student's submitted answers: exactly one per assignment, never edited.

    ``response`` is the API body the submit returned; a retry with the same ``idempotency_key``
    and the same body (``body_sha256``) gets it back unchanged. ``tier`` and ``tier_rules`` are the
    tier policy's decision on the results, with the policy version that made it.
    """

    class Tier(models.TextChoices):
        RED = "red", _("red")
        ORANGE = "orange", _("orange")
        YELLOW = "yellow", _("yellow")
        GREEN = "green", _("green")

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="submission")
    # No index of its own: submission_idempotency_key_per_student (student, key) serves it.
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="submissions", db_index=False)
    answers = models.JSONField()
    language = models.CharField(max_length=10)
    submitted_at = models.DateTimeField(db_index=True)
    idempotency_key = models.CharField(max_length=100)
    body_sha256 = models.CharField(max_length=64)
    response = models.JSONField()
    tier = models.CharField(_("tier"), max_length=6, choices=Tier.choices)
    tier_rules = models.JSONField(default=list)
    unscored = models.JSONField(default=list)
    policy_version = models.PositiveIntegerField()
    policy_fingerprint = models.CharField(max_length=64)
    first_contact_due_at = models.DateTimeField(null=True, blank=True)
    crisis = models.BooleanField(_("crisis resources shown"), default=False)

    objects = ScopedManager()

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["student", "idempotency_key"], name="submission_idempotency_key_per_student"),
        ]
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")

    def __str__(self) -> str:
        return f"{self.assignment_id}"


class Result(models.Model):
    """One instrument's score in one submission, with the definition version and cut-off profile."""

    # No index of its own: one_result_per_instrument (submission, instrument) serves it.
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="results", db_index=False)
    instrument = models.CharField(_("questionnaire"), max_length=20)
    version = models.PositiveIntegerField()
    profile = models.CharField(max_length=60)
    valid = models.BooleanField()
    total = models.IntegerField(null=True, blank=True)
    band = models.CharField(max_length=40, blank=True)
    scores = models.JSONField(default=dict)
    subscales = models.JSONField(default=dict)
    critical = models.JSONField(default=list)
    flags = models.JSONField(default=list)
    problems = models.JSONField(default=list)
    position = models.PositiveSmallIntegerField(default=0)

    objects = ScopedManager()

    class Meta:
        ordering = ["submission", "position"]
        constraints = [models.UniqueConstraint(fields=["submission", "instrument"], name="one_result_per_instrument")]
        verbose_name = _("result")
        verbose_name_plural = _("results")

    def __str__(self) -> str:
        return f"{self.submission_id}:{self.instrument}"


class CrisisAlert(models.Model):
    """A red-tier submission's alert to the counsellors who cover the student, created in the
    submit's own transaction. It must be acknowledged by ``acknowledge_due_at`` (the school's
    limit); otherwise the escalation timer (screening.cases.services.escalation) sends it on to the
    heads of centre, and from ``hospital_due_at`` to the partner hospital's crisis contact."""

    submission = models.OneToOneField(Submission, on_delete=models.PROTECT, related_name="alert")
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="alerts")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="alerts")
    rules = models.JSONField(default=list)
    created_at = models.DateTimeField(db_index=True)
    due_at = models.DateTimeField(_("first contact due"))
    recipients = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="crisis_alerts", blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledge_due_at = models.DateTimeField(_("acknowledgement due"), null=True, blank=True)
    hospital_due_at = models.DateTimeField(_("hospital escalation due"), null=True, blank=True)
    escalated_school_at = models.DateTimeField(_("escalated to the head of centre"), null=True, blank=True)
    escalated_hospital_at = models.DateTimeField(_("escalated to the partner hospital"), null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["acknowledged_at", "acknowledge_due_at"], name="alert_open_due")]
        verbose_name = _("crisis alert")
        verbose_name_plural = _("crisis alerts")

    def __str__(self) -> str:
        return f"alert {self.pk}"
