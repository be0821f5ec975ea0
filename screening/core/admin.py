"""Django admin for the platform admin. Reads of student data here are audited like anywhere else,
and so is every change."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.db.models import Model, QuerySet
from django.forms import BaseFormSet, BaseModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from screening.core.audit import Action, audit_record, audit_students, student_of
from screening.core.models import AuditEvent, User


def audit_admin_change(*, actor: Any, action: str, obj: Model, fields: list[str] | None = None) -> None:
    """One audit entry for a change made in the admin: the row, its student and school, and the
    names of the changed fields (never their values)."""
    student = student_of(obj)
    detail: dict[str, Any] = {"via": "admin"}
    if fields is not None:
        detail["fields"] = sorted(fields)
    audit_record(
        actor=actor, action=action, object_type=obj._meta.label, object_id=obj.pk,
        student_public_id=student.public_id if student else "",
        school_id=student.school_id if student else getattr(obj, "school_id", None),
        detail=detail,
    )


class AuditedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Writes an audit entry for every row the admin creates, changes or deletes.

    The admin's own history (LogEntry) keeps values and can be edited; the audit log is the record.
    """

    def save_model(self, request: HttpRequest, obj: Any, form: BaseModelForm[Any], change: bool) -> None:
        super().save_model(request, obj, form, change)
        # changed_data already names many-to-many fields, which save_related() saves next.
        audit_admin_change(
            actor=request.user, action=Action.UPDATE if change else Action.CREATE, obj=obj, fields=list(form.changed_data)
        )

    def save_related(self, request: HttpRequest, form: BaseModelForm[Any], formsets: list[BaseFormSet[Any]], change: bool) -> None:
        super().save_related(request, form, formsets, change)
        for formset in formsets:  # inline rows
            for obj in getattr(formset, "new_objects", []):
                audit_admin_change(actor=request.user, action=Action.CREATE, obj=obj, fields=[])
            for obj, fields in getattr(formset, "changed_objects", []):
                audit_admin_change(actor=request.user, action=Action.UPDATE, obj=obj, fields=list(fields))
            for obj in getattr(formset, "deleted_objects", []):
                audit_admin_change(actor=request.user, action=Action.DELETE, obj=obj)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit_admin_change(actor=request.user, action=Action.DELETE, obj=obj)  # while it still has its id
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            audit_admin_change(actor=request.user, action=Action.DELETE, obj=obj)
        super().delete_queryset(request, queryset)


@admin.register(User)
class AuditedUserAdmin(AuditedAdmin, UserAdmin):  # type: ignore[type-arg]
    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        """The password form saves without save_model(); a redirect means it saved."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and isinstance(response, HttpResponseRedirect):
            user = self.get_object(request, unquote(id))
            if user is not None and response.url != request.get_full_path():  # not the "try again" redirect
                audit_admin_change(actor=request.user, action=Action.UPDATE, obj=user, fields=["password"])
        return response


class AuditedStudentDataAdmin(AuditedAdmin):
    """Also writes an audit entry for every change-list page and every object opened.

    ``student_path`` names the attribute that leads from a row to its student ("" for a Student).
    """

    student_path = ""

    def _student(self, obj: Any) -> Any:
        return obj if not self.student_path else getattr(obj, self.student_path, None)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl") if hasattr(response, "context_data") else None
        if changelist is not None:
            students = [s for s in (self._student(o) for o in changelist.result_list) if s is not None]
            audit_students(actor=request.user, action=Action.LIST, students=students)
        return response

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None) -> HttpResponse:
        obj = self.get_object(request, object_id)
        student = self._student(obj) if obj is not None else None
        if obj is not None and student is not None:
            audit_record(
                actor=request.user, action=Action.READ, object_type=obj._meta.label, object_id=obj.pk,
                student_public_id=student.public_id, school_id=student.school_id, detail={"via": "admin"},
            )
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: nobody, the platform admin included, can change or delete an entry."""

    list_display = ["at", "actor_username", "role", "action", "object_type", "object_id", "student_public_id", "ip"]
    list_filter = ["action", "role", "object_type"]
    search_fields = ["actor_username", "student_public_id", "object_id"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
