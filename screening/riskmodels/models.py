"""The registry of risk models. One row per trained model; its file lives under the data
directory, written with skops and loaded only when its SHA-256 digest matches (scoring.risk.store).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from screening.core.scoping import ScopedManager
from screening.directory.models import Region, School


class RiskModel(models.Model):
    """A trained, calibrated risk model and its card. Its scope is a school, a region (every school
    in it) or everything; one model per scope is active at a time."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate", _("candidate")
        ACTIVE = "active", _("active")
        RETIRED = "retired", _("retired")

    class Kind(models.TextChoices):
        LOGISTIC = "logistic", _("logistic regression")
        BOOSTING = "boosting", _("gradient boosting")

    version = models.CharField(_("version"), max_length=60, unique=True)
    scope_school = models.ForeignKey(School, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("school"))
    scope_region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("region"))
    # "all", "region:<id>" or "school:<id>": what "one active model per scope" is checked on.
    scope_key = models.CharField(max_length=40, editable=False)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.CANDIDATE)
    file = models.CharField(max_length=200, editable=False)  # relative to XINQIAO_DATA_DIR
    digest = models.CharField(_("SHA-256"), max_length=64, editable=False)
    spec = models.JSONField(editable=False)  # scoring.risk.features.FeatureSpec.to_dict()
    config = models.JSONField(editable=False)  # scoring.risk.train.TrainConfig.to_dict()
    card = models.JSONField(editable=False)  # scoring.risk.card.card_json(...)
    synthetic = models.BooleanField(_("trained on synthetic data"), default=False)
    demographics = models.BooleanField(_("uses age band and gender"), default=False)
    labelled = models.PositiveIntegerField(_("labelled sittings"))
    positives = models.PositiveIntegerField(_("confirmed needs"))
    data_from = models.DateField(_("data from"), null=True, blank=True)
    data_to = models.DateField(_("data to"), null=True, blank=True)
    trained_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    trained_at = models.DateTimeField(_("trained"))
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)

    objects = ScopedManager()

    class Meta:
        ordering = ["-trained_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["scope_key"], condition=Q(status="active"), name="one_active_model_per_scope"),
            models.CheckConstraint(condition=Q(scope_school__isnull=True) | Q(scope_region__isnull=True),
                                   name="risk_model_one_scope"),
        ]
        verbose_name = _("risk model")
        verbose_name_plural = _("risk models")

    def __str__(self) -> str:
        return self.version

    @staticmethod
    def key_for(*, school: School | None = None, region: Region | None = None) -> str:
        if school is not None:
            return f"school:{school.pk}"
        if region is not None:
            return f"region:{region.pk}"
        return "all"


class RiskScore(models.Model):
    """One model's estimate for one sitting: the calibrated probability that a counsellor's interview
    confirms a need, the tier it points to, what the tier was before and after (the model may raise
    it by the policy's allowance, never lower it), and the three features that raised the estimate
    most (``reasons``: ``[{"feature", "weight", "en", "zh-hans"}]``, in plain words). Scores are added
    beside earlier ones (``risk_rescore``), never changed: a submission keeps every estimate it had.
    Staff only: students never see a risk score (DESIGN.md §1)."""

    class Source(models.TextChoices):
        SUBMIT = "submit", _("at submission")
        RESCORE = "rescore", _("re-scored")

    submission = models.ForeignKey("campaigns.Submission", on_delete=models.PROTECT, related_name="risk_scores")
    model = models.ForeignKey(RiskModel, on_delete=models.PROTECT, related_name="scores")
    probability = models.FloatField(_("estimated probability of a confirmed need"))
    model_tier = models.CharField(_("tier the estimate points to"), max_length=6)
    tier_before = models.CharField(_("tier from the rules"), max_length=6)
    tier_after = models.CharField(_("tier with the model"), max_length=6)
    reasons = models.JSONField(default=list)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.SUBMIT)
    created_at = models.DateTimeField()

    objects = ScopedManager()

    class Meta:
        ordering = ["submission", "created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["submission", "model"], name="one_score_per_model_and_sitting")]
        verbose_name = _("risk score")
        verbose_name_plural = _("risk scores")

    def __str__(self) -> str:
        return f"{self.submission_id}:{self.model_id}"

    @property
    def raised(self) -> bool:
        return self.tier_after != self.tier_before

    @property
    def student(self) -> Any:
        """The student the score is about (the audit log names them)."""
        return self.submission.student
