"""Sign-in events into the audit log, through Django's own auth signals (the hook Django offers for them)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from screening.core.audit import Action, audit_record


def _school_of(user: Any) -> int | None:
    student = getattr(user, "student", None) if user is not None else None
    return student.school_id if student is not None else None


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(actor=user, action=Action.LOGIN, object_type="session", school_id=_school_of(user))


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(actor=user, action=Action.LOGOUT, object_type="session", school_id=_school_of(user))


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # Django has already masked the password; only the sign-in name is kept. A student's sign-in
    # name starts with the school code, so that school's head of centre sees the failures.
    from screening.directory.models import School

    name = str(credentials.get("username", ""))[:150]
    school_id = None
    if "/" in name:
        school_id = School.objects.filter(code__iexact=name.split("/", 1)[0]).values_list("pk", flat=True).first()
    audit_record(actor=None, action=Action.LOGIN_FAILED, object_type="session", actor_username=name, school_id=school_id)
