from __future__ import annotations

from django.contrib import admin

from screening.core.admin import AuditedStudentDataAdmin
from screening.directory.models import Hospital, Membership, Region, RosterImport, School, SchoolClass, Student


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "name_en", "code", "level", "path"]
    list_filter = ["level"]
    search_fields = ["name", "name_en", "code"]


@admin.register(School)
class SchoolAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "code", "kind", "region", "crisis_line"]
    list_filter = ["kind"]
    search_fields = ["name", "name_en", "code"]


@admin.register(Hospital)
class HospitalAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "code", "region", "crisis_line"]
    search_fields = ["name", "name_en", "code"]


@admin.register(SchoolClass)
class SchoolClassAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "school", "school_year", "grade"]
    list_filter = ["school", "school_year", "grade"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "role", "school", "hospital", "region", "starts_on", "ends_on"]
    list_filter = ["role"]
    filter_horizontal = ["classes"]
    autocomplete_fields = ["user"]


@admin.register(Student)
class StudentAdmin(AuditedStudentDataAdmin):
    list_display = ["public_id", "number", "name", "school", "school_class", "is_active"]
    list_filter = ["school", "is_active"]
    search_fields = ["public_id", "number", "name"]
    readonly_fields = ["public_id", "access_code_issued_at", "user"]
    exclude = ["access_code_hash"]


@admin.register(RosterImport)
class RosterImportAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["filename", "school", "status", "created_at", "applied_at"]
    list_filter = ["status", "school"]
    exclude = ["rows_encrypted"]
    readonly_fields = ["school", "school_year", "uploaded_by", "filename", "file_sha256", "status", "problems", "summary", "applied_at", "applied_by"]
