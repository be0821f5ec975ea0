"""Export jobs: every export is requested, runs in the background with progress, and ends done
(a file kept for ``XINQIAO_EXPORT_KEEP_HOURS``) or failed with a reason (issue #8).

A job is its requester's alone (``screening.core.access.export_jobs_rule``). Its states:
``queued → running → done | failed``; a run holds a lease (``locked_until`` with ``lock_token``)
that its progress reports renew, so a job whose process died is found by the sweep and run once
more, then failed (``exports.services.export_jobs_sweep``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from screening.core.scoping import ScopedManager
from screening.directory.models import School


class ExportJob(models.Model):
    """One requested export. ``params`` are the kind's validated parameters in their JSON form
    (ids and ISO dates; see ``exports.kinds``). ``error_message`` is stored in the requester's
    language (the job runs with it active); ``error_code`` is stable for clients."""

    class Kind(models.TextChoices):
        CAMPAIGN_REPORT = "campaign_report", _("campaign report")
        KPIS = "kpis", _("KPI workbook")
        BUREAU_AGGREGATE = "bureau_aggregate", _("bureau aggregate")
        RESEARCH_EXTRACT = "research_extract", _("research extract")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="export_jobs",
                                     verbose_name=_("requested by"))
    # The school the export is about, when it is about one (for the audit log and the admin).
    school = models.ForeignKey(School, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               verbose_name=_("school"))
    request_key = models.CharField(max_length=100, blank=True)  # a doubled request returns the first job
    language = models.CharField(_("language"), max_length=16)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(_("reason"), blank=True)
    file = models.CharField(max_length=255, blank=True)  # name in the default storage; "" once deleted
    filename = models.CharField(_("file name"), max_length=120, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    # What the requester could see when the file was built (screening.core.access.scope_key): the
    # file is handed over only while that still holds (a membership ended or narrowed: refused).
    access_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(_("available until"), null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)  # when the kept file was deleted
    # The lease: a queued job is dispatched again, a running one re-run or failed, once it passes.
    locked_until = models.DateTimeField(null=True, blank=True)
    lock_token = models.CharField(max_length=32, blank=True)
    runs = models.PositiveSmallIntegerField(default=0)

    objects = ScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["requested_by", "request_key"], condition=~Q(request_key=""),
                                    name="export_job_request_once"),
        ]
        indexes = [
            models.Index(fields=["requested_by", "-created_at"], name="export_job_newest_per_user"),
            models.Index(fields=["locked_until"], name="export_job_active_lease",
                         condition=Q(status__in=["queued", "running"])),
            models.Index(fields=["expires_at"], name="export_job_kept_file", condition=~Q(file="")),
        ]
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")

    def __str__(self) -> str:
        return f"{self.kind} {self.public_id}"

    @property
    def active(self) -> bool:
        """Still queued or running: the pages keep polling it."""
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def progress_percent(self) -> int:
        """0–100; a done job is 100 whatever its builder last reported."""
        if self.status == self.Status.DONE:
            return 100
        if not self.progress_total:
            return 0
        return max(0, min(99, self.progress_done * 100 // self.progress_total))

    @property
    def downloadable(self) -> bool:
        """Done, and its file is still kept."""
        return self.status == self.Status.DONE and bool(self.file) and (
            self.expires_at is None or self.expires_at > timezone.now())

    @property
    def expired(self) -> bool:
        """Done, but the file is gone (deleted after its keeping time, or past it)."""
        return self.status == self.Status.DONE and not self.downloadable
