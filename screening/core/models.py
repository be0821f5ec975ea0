"""Users and the append-only audit log."""

from __future__ import annotations

from typing import Any, NoReturn

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from screening.core.scoping import ScopedQuerySet


class User(AbstractUser):
    """A person who signs in. Staff roles come from memberships; a student's user links to a Student."""

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")


# Audit entries about things that are not one model row.
OBJECT_LABELS = {
    "access_code": _("access code"),
    "access_code_sheet": _("access-code sheet"),
    "roster_import": _("roster import"),
    "session": _("sign-in"),
    "audit_log": _("audit log"),
}


class AppendOnlyError(RuntimeError):
    pass


class AuditQuerySet(ScopedQuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("The audit log is append-only.")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("The audit log is append-only.")


class AuditEvent(models.Model):
    """One read or change of identifiable data, or a sign-in event. Never updated, never deleted.

    The database enforces this too: triggers on SQLite and PostgreSQL refuse UPDATE and DELETE
    (migration 0002). ``detail`` holds identifiers and counts only, never names, answers or scores.
    """

    class Action(models.TextChoices):
        READ = "read", _("read")
        LIST = "list", _("listed")
        CREATE = "create", _("created")
        UPDATE = "update", _("changed")
        DELETE = "delete", _("deleted")
        EXPORT = "export", _("exported")
        DENIED = "denied", _("access refused")
        LOGIN = "login", _("signed in")
        LOGIN_FAILED = "login_failed", _("sign-in failed")
        LOGOUT = "logout", _("signed out")

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    # Plain ids, not foreign keys: deleting a user or school must never touch the log.
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True)
    actor_username = models.CharField(_("actor"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=32, blank=True)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    student_public_id = models.CharField(_("student public id"), max_length=32, blank=True)
    school_id = models.BigIntegerField(_("school id"), null=True, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        # What the log is read by (audit_event_list): a school's entries, or one student's, newest
        # first. Every read of student data writes here, so no index it does not need.
        indexes = [
            models.Index(fields=["school_id", "-at"], name="audit_school_newest"),
            models.Index(fields=["student_public_id", "-at"], name="audit_student_newest"),
        ]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username} {self.action} {self.object_type}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("The audit log is append-only.")

    @property
    def object_label(self) -> str:
        """What was touched, in the reader's language: a model's name, or one of the non-model kinds."""
        from django.apps import apps

        label = OBJECT_LABELS.get(self.object_type)
        if label is None and "." in self.object_type:
            try:
                label = apps.get_model(self.object_type)._meta.verbose_name
            except (LookupError, ValueError):
                label = None
        return str(label or self.object_type)

    @property
    def role_label(self) -> str:
        """The actor's role in the reader's language."""
        from screening.core.access import ROLE_LABELS

        return str(ROLE_LABELS.get(self.role, self.role))
