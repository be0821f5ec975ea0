"""Django admin for the platform admin. Reads of student data here are audited like anywhere else."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest, HttpResponse

from screening.core.audit import Action, audit_record, audit_students
from screening.core.models import AuditEvent, User

admin.site.register(User, UserAdmin)


class AuditedStudentDataAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Writes an audit entry for every change-list page and every object opened.

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
