"""Reads of export jobs. A job is its requester's alone: even a platform admin, who sees every row
through the access policy, lists and opens only their own here."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from exports.models import ExportJob


def export_job_list(*, user: Any) -> QuerySet[ExportJob]:
    """The user's own export jobs, newest first."""
    return ExportJob.objects.visible_to(user).filter(requested_by_id=getattr(user, "pk", None))


def export_job_active(*, user: Any) -> bool:
    """Does the user have a job still queued or running (the pages then keep polling)?"""
    return export_job_list(user=user).filter(status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]).exists()
