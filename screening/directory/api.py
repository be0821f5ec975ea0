"""API for the directory: serializers and viewsets. Views parse, call a service or selector, serialize."""

from __future__ import annotations

from typing import Any

import django_filters
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from backend.api import ErrorSerializer, ScopedRelatedField, ScopedViewSet
from backend.filters import ScopedFilterSet
from screening.core.errors import InvalidInput, NotAllowed
from screening.core.permissions import IsSchoolAdmin, IsStaff, SchoolAdminWrites
from screening.directory import roster, selectors, services
from screening.directory.models import Hospital, Membership, Region, RosterImport, School, SchoolClass, Student
from screening.directory.sheets import access_code_sheet

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input, with field messages."),
    401: OpenApiResponse(ErrorSerializer, description="Not signed in."),
    403: OpenApiResponse(ErrorSerializer, description="Visible, but not yours to change."),
    404: OpenApiResponse(ErrorSerializer, description="Missing or out of scope (the two look the same)."),
}
# Reads: 403 when the user's role may not use the endpoint at all (a student asking for classes).
ROLE_REFUSED = OpenApiResponse(ErrorSerializer, description="Your role may not use this endpoint.")
READ_ERRORS = {401: ERRORS[401], 403: ROLE_REFUSED, 404: ERRORS[404]}
LIST_ERRORS = {
    400: ERRORS[400], 401: ERRORS[401], 403: ROLE_REFUSED,
    404: OpenApiResponse(ErrorSerializer, description="No such page."),
}


def documented(serializer: Any) -> Any:
    """The read actions of a viewset, with their error responses, for the schema."""
    return extend_schema_view(
        list=extend_schema(responses={200: serializer(many=True), **LIST_ERRORS}),
        retrieve=extend_schema(responses={200: serializer, **READ_ERRORS}),
    )


class RegionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Region
        fields = ["id", "name", "name_en", "code", "level", "parent"]


class SchoolSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = School
        fields = ["id", "name", "name_en", "code", "kind", "region", "crisis_line"]


class HospitalSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Hospital
        fields = ["id", "name", "name_en", "code", "region", "crisis_line"]


class SchoolClassSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    student_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = SchoolClass
        fields = ["id", "school", "school_year", "grade", "name", "student_count"]


class StudentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    age = serializers.IntegerField(read_only=True)
    has_access_code = serializers.SerializerMethodField()

    class Meta:
        model = Student
        fields = [
            "id", "public_id", "school", "school_class", "number", "name", "birth_date", "age", "gender",
            "guardian_name", "guardian_phone", "guardian_email", "is_active", "has_access_code",
        ]
        read_only_fields = ["school", "is_active"]

    def get_has_access_code(self, obj: Student) -> bool:
        return bool(obj.access_code_hash)


class StudentWriteSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    school_class = ScopedRelatedField(queryset=SchoolClass.objects.all())

    class Meta:
        model = Student
        fields = [
            "school_class", "number", "name", "birth_date", "gender", "guardian_name", "guardian_phone",
            "guardian_email",
        ]

    def validate_birth_date(self, value: Any) -> Any:
        from django.utils import timezone

        today = timezone.localdate()
        age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
        if not 5 <= age <= 40:
            raise serializers.ValidationError(_("The birth date gives an age outside 5–40."))
        return value


class StudentFilter(ScopedFilterSet):
    q = django_filters.CharFilter(method="search", label=gettext_lazy("name, number or public id"))
    grade = django_filters.NumberFilter(field_name="school_class__grade")

    class Meta:
        model = Student
        fields = ["school_class", "is_active", "gender"]

    def search(self, queryset: Any, name: str, value: str) -> Any:
        return selectors.students_matching(queryset, value)


class AccessCodeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    public_id = serializers.CharField()
    access_code = serializers.CharField(help_text="Shown once; only its hash is kept.")


@documented(RegionSerializer)
class RegionViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Regions (province → city → district): reference data for staff."""

    queryset = Region.objects.all()
    serializer_class = RegionSerializer
    permission_classes = [IsStaff]
    filterset_fields = ["level", "parent"]


@documented(SchoolSerializer)
class SchoolViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Schools the user works at (or, for analysts, in their regions)."""

    queryset = School.objects.select_related("region")
    serializer_class = SchoolSerializer
    filterset_fields = ["kind", "region"]


@documented(HospitalSerializer)
class HospitalViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Hospitals: reference data for staff."""

    queryset = Hospital.objects.all()
    serializer_class = HospitalSerializer
    permission_classes = [IsStaff]
    filterset_fields = ["region"]


@documented(SchoolClassSerializer)
class SchoolClassViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Classes the user covers, with active student counts."""

    queryset = SchoolClass.objects.select_related("school")
    serializer_class = SchoolClassSerializer
    permission_classes = [IsStaff]
    filterset_fields = ["school", "school_year", "grade"]

    def get_queryset(self) -> Any:
        return selectors.class_list(user=self.request.user)

    @extend_schema(
        request=None,
        responses={(200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): bytes, **{k: v for k, v in ERRORS.items() if k != 400}},
        description="Issue new access codes for every active student of the class and download them as a "
        "printable xlsx sheet. The class's previous codes stop working.",
    )
    @action(detail=True, methods=["post"], url_path="access-sheet", permission_classes=[IsSchoolAdmin])
    def access_sheet(self, request: Request, pk: str | None = None) -> HttpResponse:
        school_class = self.get_object()
        issued = services.class_access_codes_issue(actor=request.user, school_class=school_class)
        content, filename = access_code_sheet(school_class, issued)
        response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@extend_schema_view(
    list=extend_schema(responses={200: StudentSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(responses={200: StudentSerializer, **READ_ERRORS}),
    create=extend_schema(request=StudentWriteSerializer, responses={201: StudentSerializer, **ERRORS}),
    partial_update=extend_schema(request=StudentWriteSerializer, responses={200: StudentSerializer, **ERRORS}),
)
class StudentViewSet(
    ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin
):
    """Students the user covers. Every read is written to the audit log, one entry per student."""

    queryset = Student.objects.select_related("school", "school_class")
    serializer_class = StudentSerializer
    permission_classes = [SchoolAdminWrites]
    filterset_class = StudentFilter
    audit_reads = True
    lookup_field = "public_id"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self) -> Any:
        return StudentWriteSerializer if self.action in ("create", "partial_update", "update") else StudentSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = StudentWriteSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        school_class = serializer.validated_data["school_class"]
        if not IsSchoolAdmin().has_object_permission(request, self, school_class):
            raise NotAllowed()
        student, code = services.student_create(actor=request.user, **serializer.validated_data)
        data = StudentSerializer(student, context=self.get_serializer_context()).data
        return Response({**data, "access_code": code}, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        student = self.get_object()
        serializer = StudentWriteSerializer(student, data=request.data, partial=True, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        new_class = serializer.validated_data.get("school_class")
        if new_class is not None and new_class.school_id != student.school_id:
            raise InvalidInput(fields={"school_class": [_("The class belongs to another school.")]})
        student = services.student_update(actor=request.user, student=student, **serializer.validated_data)
        return Response(StudentSerializer(student, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses={200: AccessCodeSerializer, **{k: v for k, v in ERRORS.items() if k != 400}})
    @action(detail=True, methods=["post"], url_path="access-code", permission_classes=[IsSchoolAdmin])
    def access_code(self, request: Request, public_id: str | None = None) -> Response:
        """Issue a new access code for this student (the old one stops working); shown once."""
        student = self.get_object()
        code = services.student_access_code_issue(actor=request.user, student=student)
        return Response({"public_id": student.public_id, "access_code": code})


class MembershipSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    username = serializers.CharField(source="user.username", read_only=True)
    classes = serializers.PrimaryKeyRelatedField(many=True, read_only=True)  # type: ignore[var-annotated]

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "school", "hospital", "region", "classes", "starts_on", "ends_on"]


@documented(MembershipSerializer)
class MembershipViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Staff memberships: your own, and for school admins their school's staff."""

    queryset = Membership.objects.select_related("user").prefetch_related("classes")
    serializer_class = MembershipSerializer
    filterset_fields = ["role", "school"]


class RosterProblemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    row = serializers.IntegerField()
    column = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class RosterImportSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    problems = serializers.SerializerMethodField()

    class Meta:
        model = RosterImport
        fields = ["id", "school", "school_year", "filename", "status", "summary", "problems", "created_at", "applied_at"]

    def get_problems(self, obj: RosterImport) -> list[dict[str, Any]]:
        return [{**p, "message": roster.message_for(p)} for p in obj.problems]


class RosterUploadSerializer(serializers.Serializer):  # type: ignore[type-arg]
    school = ScopedRelatedField(queryset=School.objects.all())
    file = serializers.FileField()
    school_year = serializers.IntegerField(required=False, min_value=2000, max_value=2100)

    def validate_file(self, value: Any) -> Any:
        return roster.validate_upload(value)


@extend_schema_view(
    list=extend_schema(responses={200: RosterImportSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(responses={200: RosterImportSerializer, **READ_ERRORS}),
    create=extend_schema(
        request={"multipart/form-data": RosterUploadSerializer},
        responses={201: RosterImportSerializer, **ERRORS},
        description="Check a roster file (xlsx or csv) and return a preview: what applying would create, "
        "update and leave unchanged, or every problem by row and column. Nothing is applied.",
    ),
)
class RosterImportViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin):
    """Roster imports of the school admin's school: upload (preview), then apply whole."""

    queryset = RosterImport.objects.all()
    serializer_class = RosterImportSerializer
    permission_classes = [IsSchoolAdmin]
    parser_classes = [MultiPartParser, FormParser]
    filterset_fields = ["school", "status"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        upload = RosterUploadSerializer(data=request.data, context=self.get_serializer_context())
        upload.is_valid(raise_exception=True)
        school = upload.validated_data["school"]
        if not IsSchoolAdmin().has_object_permission(request, self, school):
            raise NotAllowed()
        file = upload.validated_data["file"]
        record = services.roster_preview(
            actor=request.user, school=school, filename=file.name, content=file.read(),
            school_year=upload.validated_data.get("school_year"),
        )
        return Response(RosterImportSerializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: RosterImportSerializer, 409: OpenApiResponse(ErrorSerializer, description="The roster has problems."), **{k: v for k, v in ERRORS.items() if k != 400}},
        description="Apply a previewed roster whole. Applying again returns the same result and changes nothing.",
    )
    @action(detail=True, methods=["post"])
    def apply(self, request: Request, pk: str | None = None) -> Response:
        record = services.roster_apply(actor=request.user, roster_import=self.get_object())
        return Response(RosterImportSerializer(record).data)
