"""Reads of the core models that depend on who asks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from screening.core.models import AuditEvent


def audit_event_list(
    *,
    user: Any,
    action: str | None = None,
    student_public_id: str | None = None,
    actor: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Audit entries the user may read (a head of centre: their school's), newest first.

    ``since`` is inclusive and ``until`` exclusive; both must be aware datetimes. ``actor`` is the
    exact username, ``student_public_id`` the exact public id. An empty or missing filter is not
    applied.
    """
    events = AuditEvent.objects.visible_to(user)
    if action:
        events = events.filter(action=action)
    if student_public_id:
        events = events.filter(student_public_id=student_public_id)
    if actor:
        events = events.filter(actor_username=actor)
    if since is not None:
        events = events.filter(at__gte=since)
    if until is not None:
        events = events.filter(at__lt=until)
    return events
