"""School–hospital agreements and the referrals made under them (DESIGN.md §3 steps 9–11).

Agreement (a school and a partner hospital: validity, tiers covered, the hospital's time limits per
tier, the referral packet's fields, the crisis contact, an optional delivery endpoint) → Referral
(one student's case sent to the hospital; at most one live per student) → ReferralEvent (every move,
with actor, time and note: both sides read the same timeline) and SharingConsent (the separate
consent to share with the hospital, PIPL art. 29; the guardian's under 14).

The states and who may make each move live in ``screening/referrals/states.py``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from screening.cases.models import Case
from screening.core.fields import EncryptedTextField
from screening.core.scoping import ScopedManager
from screening.directory.models import Hospital, School, Student

# What a hospital may receive about a student (the referral packet), beyond the referral itself.
PACKET_FIELDS = ("public_id", "birth_year", "gender", "tier", "reasons", "results", "school_contact")
DEFAULT_PACKET = ["public_id", "birth_year", "gender", "tier", "reasons", "results", "school_contact"]


class Agreement(models.Model):
    """A crisis-intervention agreement between a school and a hospital (心理危机预防与干预校医合作协议).

    ``limits`` maps a tier to ``{"acknowledge_hours": N, "decide_hours": M}``: the hospital
    acknowledges a referral within N hours of its sending and accepts or declines within M hours.
    ``packet`` lists the fields the hospital receives (``PACKET_FIELDS``; minimum necessary).
    """

    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="agreements", verbose_name=_("school"))
    hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="agreements",
                                 verbose_name=_("hospital"))
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"))
    tiers = models.JSONField(_("tiers covered"), default=list)
    limits = models.JSONField(_("time limits"), default=dict)
    packet = models.JSONField(_("fields the hospital receives"), default=list)
    crisis_contact_name = models.CharField(_("crisis contact"), max_length=100)
    crisis_contact_email = models.EmailField(_("crisis contact e-mail"), blank=True)
    crisis_line = models.CharField(_("24-hour line"), max_length=40)
    endpoint_url = models.URLField(_("delivery endpoint"), blank=True)
    endpoint_secret = EncryptedTextField(_("shared secret"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["school", "-valid_until", "id"]
        constraints = [
            models.CheckConstraint(name="agreement_period_in_order", condition=Q(valid_until__gte=models.F("valid_from"))),
        ]
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")

    def __str__(self) -> str:
        return f"{self.school} · {self.hospital}"


class SharingConsent(models.Model):
    """Consent to share the referral packet with one hospital, given separately (PIPL art. 29):
    by the guardian for a student under 14, else by the student (or the guardian as well).
    Recorded by staff from a signed form or a call; append-only."""

    class Party(models.TextChoices):
        GUARDIAN = "guardian", _("guardian")
        STUDENT = "student", _("student")

    class Method(models.TextChoices):
        PAPER = "paper", _("signed form")
        PHONE = "phone", _("by phone, recorded by staff")
        IN_PERSON = "in_person", _("in person, recorded by staff")

    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="sharing_consents")
    hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="+")
    party = models.CharField(_("who consented"), max_length=10, choices=Party.choices)
    method = models.CharField(_("how"), max_length=10, choices=Method.choices)
    given_at = models.DateTimeField(_("when"))
    note = EncryptedTextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["student", "-given_at", "id"]

    def __str__(self) -> str:
        return f"{self.student_id}:{self.hospital_id}:{self.party}"


class Referral(models.Model):
    """One student's case referred to a hospital under an agreement. ``state`` moves only through
    ``screening.referrals.states``. Legal basis: separate sharing consent, or the emergency basis
    (PIPL art. 13(4)) with a written justification (a guardian notice follows)."""

    class State(models.TextChoices):
        DRAFT = "draft", _("draft")
        SENT = "sent", _("sent")
        ACKNOWLEDGED = "acknowledged", _("acknowledged by the hospital")
        ACCEPTED = "accepted", _("accepted")
        DECLINED = "declined", _("declined")
        SCHEDULED = "scheduled", _("appointment scheduled")
        ATTENDED = "attended", _("attended")
        NO_SHOW = "no_show", _("did not attend")
        CLOSED = "closed", _("closed")
        CANCELLED = "cancelled", _("cancelled")

    class Basis(models.TextChoices):
        CONSENT = "consent", _("separate consent to share")
        EMERGENCY = "emergency", _("emergency: to protect the student's life or health")

    class DeclineReason(models.TextChoices):
        NOT_OUR_SERVICE = "not_our_service", _("not a service we provide")
        NO_CAPACITY = "no_capacity", _("no capacity in time; refer elsewhere")
        ALREADY_IN_CARE = "already_in_care", _("already in our care")
        INSUFFICIENT_INFORMATION = "insufficient_information", _("not enough information")
        OTHER = "other", _("other (see text)")

    class Recommendation(models.TextChoices):
        OUTPATIENT = "outpatient", _("outpatient care")
        INPATIENT = "inpatient", _("inpatient care")
        RETURN_WITH_FOLLOW_UP = "return_with_follow_up", _("return to school with follow-up")
        NO_TREATMENT = "no_treatment", _("no treatment needed")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="referrals")
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="referrals")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="referrals")
    hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="referrals")
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="referrals")
    tier = models.CharField(_("tier"), max_length=6)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.DRAFT)
    basis = models.CharField(_("legal basis"), max_length=10, choices=Basis.choices)
    consent = models.ForeignKey(SharingConsent, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    emergency_justification = EncryptedTextField(_("why this cannot wait for consent"), blank=True)
    reason = EncryptedTextField(_("reason for referral"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledge_due_at = models.DateTimeField(null=True, blank=True)
    decide_due_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    acknowledge_escalated_at = models.DateTimeField(null=True, blank=True)
    decide_escalated_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(_("reason for declining"), max_length=30, choices=DeclineReason.choices, blank=True)
    decline_text = EncryptedTextField(_("the hospital's words"), blank=True)
    appointment_at = models.DateTimeField(_("appointment"), null=True, blank=True)
    appointment_place = models.CharField(_("where"), max_length=200, blank=True)
    appointment_bring = models.CharField(_("what to bring"), max_length=300, blank=True)
    seen = models.BooleanField(_("seen"), null=True, blank=True)
    recommendation = models.CharField(_("recommendation"), max_length=24, choices=Recommendation.choices, blank=True)
    advice = EncryptedTextField(_("advice to the school"), blank=True)
    feedback_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    guardian_notice_due = models.BooleanField(default=False)  # emergency basis: tell the guardian afterwards
    guardian_notice_reminded_at = models.DateTimeField(null=True, blank=True)
    request_key = models.CharField(max_length=100, blank=True)  # a retried create returns the first

    objects = ScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["student"], name="one_live_referral_per_student",
                                    condition=~Q(state__in=["declined", "closed", "cancelled"])),
            models.UniqueConstraint(fields=["case", "request_key"], condition=~Q(request_key=""),
                                    name="referral_request_once"),
            models.CheckConstraint(
                name="referral_has_a_basis",
                condition=(Q(basis="consent") & Q(consent__isnull=False)) | (Q(basis="emergency") & ~Q(emergency_justification=""))),
        ]
        indexes = [models.Index(fields=["hospital", "state"], name="referral_hospital_state")]
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")

    def __str__(self) -> str:
        return f"referral {self.pk}"


class ReferralEvent(models.Model):
    """One move of a referral (or a note on it): from and to, actor and side, time, note. Both the
    school and the hospital read these; the note is encrypted."""

    class Side(models.TextChoices):
        SCHOOL = "school", _("school")
        HOSPITAL = "hospital", _("hospital")
        SYSTEM = "system", _("system")

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="events")
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12)
    side = models.CharField(max_length=8, choices=Side.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    note = EncryptedTextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["referral", "at", "id"]

    def __str__(self) -> str:
        return f"{self.referral_id}:{self.from_state}->{self.to_state}"


class OutboxMessage(models.Model):
    """One push of a referral to the hospital's system (the agreement's ``endpoint_url``), written
    in the same transaction as the change it reports and delivered afterwards by
    ``screening.referrals.delivery``: in ``seq`` order per referral, retried with back-off for at
    least 72 hours, each with its own ``idempotency_key`` so the hospital keeps it once.

    ``body`` is the FHIR Bundle (JSON text), encrypted at rest like every other free text about a
    student. ``last_error`` says what went wrong in a few words (status, exception class), never
    content. ``locked_until`` is a worker's lease on the message while it is being sent."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="outbox")
    seq = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=100, unique=True)
    body = EncryptedTextField()
    created_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    lock_token = models.CharField(max_length=32, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    gave_up_at = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["referral", "seq"]
        constraints = [models.UniqueConstraint(fields=["referral", "seq"], name="outbox_seq_unique_per_referral")]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="outbox_pending_due",
                         condition=Q(delivered_at__isnull=True, gave_up_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.idempotency_key
