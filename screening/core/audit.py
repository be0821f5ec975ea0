"""Writing the audit log. Every read of identifiable student data and every change comes here.

Entries hold ids (the student's public id, the object's id) and counts, never names, answers or
scores. They are written in the caller's transaction, so a change and its audit entry land together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import Model

from screening.core import access, rows
from screening.core.context import client_ip
from screening.core.models import AuditEvent

Action = AuditEvent.Action


def _actor_fields(actor: Any) -> dict[str, Any]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"actor_id": None, "actor_username": "", "role": ""}
    return {
        "actor_id": actor.pk,
        "actor_username": actor.get_username(),
        "role": access.principal_of(actor).primary_role or "",
    }


def audit_record(
    *,
    actor: Any,
    action: str,
    object_type: str = "",
    object_id: Any = "",
    student_public_id: str = "",
    school_id: int | None = None,
    detail: dict[str, Any] | None = None,
    actor_username: str | None = None,
) -> AuditEvent:
    """Append one entry. ``actor_username`` overrides the name (failed sign-ins have no user)."""
    fields = _actor_fields(actor)
    if actor_username is not None:
        fields["actor_username"] = actor_username[:150]
    event = AuditEvent(
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        student_public_id=student_public_id,
        school_id=school_id,
        ip=client_ip.get(),
        detail=detail or {},
        **fields,
    )
    rows.insert([event])  # written on every read of student data: its SQL is compiled once
    return event


AUDIT_BATCH = 500


def audit_students(*, actor: Any, action: str, students: Iterable[Any], object_type: str = "directory.Student") -> int:
    """One entry per student read (a list page writes one per row, an export one per exported
    student), in batches of ``AUDIT_BATCH``. The entries differ only in the student, so each is
    the same prepared row with its student's id, public id and school (``rows.insert_like``):
    building and preparing a whole model instance per student made auditing a large export its
    slowest part. ``students`` may be any iterable of objects with ``pk``, ``public_id`` and
    ``school_id``."""
    template = AuditEvent(action=action, object_type=object_type, ip=client_ip.get(), **_actor_fields(actor))
    # One transaction for the call (a savepoint inside an outer one): all of its entries or none,
    # and one commit instead of one per batch (on SQLite each commit is a sync of the log).
    with transaction.atomic(using=router.db_for_write(AuditEvent)):
        return rows.insert_like(
            template,
            ("object_id", "student_public_id", "school_id"),
            ((str(s.pk), s.public_id, s.school_id) for s in students),
            batch=AUDIT_BATCH,
        )


def audit_students_by_id(*, actor: Any, action: str, student_ids: Sequence[int],
                         object_type: str = "directory.Student") -> int:
    """As :func:`audit_students`, for students known by id only (an export's rows): each entry is
    made by the database from the student's row (``rows.insert_from``), nothing per student in
    Python. An id with no student writes nothing. Returns how many entries."""
    from screening.directory.models import Student

    template = AuditEvent(action=action, object_type=object_type, ip=client_ip.get(), **_actor_fields(actor))
    taken = {"object_id": "id", "student_public_id": "public_id", "school_id": "school"}
    with transaction.atomic(using=router.db_for_write(AuditEvent)):
        return sum(rows.insert_from(template, taken, Student, student_ids[k:k + AUDIT_BATCH * 4])
                   for k in range(0, len(student_ids), AUDIT_BATCH * 4))


def student_of(obj: Model) -> Any:
    """The student a row is about (the row itself for a Student), or None."""
    if obj._meta.label == "directory.Student":
        return obj
    return getattr(obj, "student", None)


def audit_refused(*, actor: Any, model: type[Model], **lookup: Any) -> None:
    """Someone asked for an object they may not see. They get a 404, exactly as for a missing one;
    if it does exist, the attempt goes into the log with its student and school."""
    try:
        hidden = model._base_manager.filter(**lookup).first()
    except (ValueError, TypeError, ValidationError):
        return
    if hidden is None:
        return
    student = student_of(hidden)
    audit_record(
        actor=actor,
        action=Action.DENIED,
        object_type=hidden._meta.label,
        object_id=hidden.pk,
        student_public_id=student.public_id if student else "",
        school_id=getattr(hidden, "school_id", None),
    )
