from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import ManyToManyField
from django.forms import ModelMultipleChoiceField
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from screening.core.admin import AuditedAdmin, AuditedStudentDataAdmin
from screening.directory.models import Hospital, Membership, Region, RosterImport, School, SchoolClass, Student


@admin.register(Region)
class RegionAdmin(AuditedAdmin):
    list_display = ["name", "name_en", "code", "level", "path"]
    list_filter = ["level"]
    search_fields = ["name", "name_en", "code"]


@admin.register(School)
class SchoolAdmin(AuditedAdmin):
    list_display = ["name", "code", "kind", "region", "crisis_line"]
    list_filter = ["kind"]
    search_fields = ["name", "name_en", "code"]


@admin.register(Hospital)
class HospitalAdmin(AuditedAdmin):
    list_display = ["name", "code", "region", "crisis_line"]
    search_fields = ["name", "name_en", "code"]


@admin.register(SchoolClass)
class SchoolClassAdmin(AuditedAdmin):
    list_display = ["name", "school", "school_year", "grade"]
    list_filter = ["school", "school_year", "grade"]


class ClassesField(ModelMultipleChoiceField):
    """Classes of different schools and years share names: each is offered with its school and year."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.school.name} · {obj.school_year} · {obj.name}"


class MembershipAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    # No Meta: the admin supplies the model and the fields.

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        school = cleaned.get("school")
        classes = cleaned.get("classes") or []
        if any(c.school_id != getattr(school, "pk", None) for c in classes):
            self.add_error("classes", forms.ValidationError(
                _("Every class must belong to this membership's school."), code="class_of_other_school"
            ))
        return cleaned


@admin.register(Membership)
class MembershipAdmin(AuditedAdmin):
    form = MembershipAdminForm
    list_display = ["user", "role", "school", "hospital", "region", "starts_on", "ends_on"]
    list_filter = ["role"]
    filter_horizontal = ["classes"]
    autocomplete_fields = ["user"]

    def formfield_for_manytomany(self, db_field: ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "classes":
            kwargs.update(form_class=ClassesField, queryset=SchoolClass.objects.select_related("school"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(Student)
class StudentAdmin(AuditedStudentDataAdmin):
    list_display = ["public_id", "number", "name", "school", "school_class", "is_active"]
    list_filter = ["school", "is_active"]
    search_fields = ["public_id", "number", "name"]
    readonly_fields = ["public_id", "access_code_issued_at", "user"]
    exclude = ["access_code_hash"]


@admin.register(RosterImport)
class RosterImportAdmin(AuditedAdmin):
    list_display = ["filename", "school", "status", "created_at", "applied_at"]
    list_filter = ["status", "school"]
    exclude = ["rows_encrypted"]
    readonly_fields = ["school", "school_year", "uploaded_by", "filename", "file_sha256", "status", "problems", "summary", "applied_at", "applied_by"]
