"""API for sign-in, the current user and the audit log."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import django_filters
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.api import ErrorSerializer, ScopedViewSet
from backend.filters import ScopedFilterSet
from screening.core.access import principal_of
from screening.core.audit import Action, audit_record
from screening.core.auth import student_login_name
from screening.core.errors import InvalidInput
from screening.core.models import AuditEvent
from screening.core.permissions import IsSchoolAdmin


class TokenRequestSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Staff send username and password; students send school_code, number and access_code."""

    username = serializers.CharField(required=False, max_length=150)
    password = serializers.CharField(required=False, max_length=256, style={"input_type": "password"})
    school_code = serializers.CharField(required=False, max_length=32)
    number = serializers.CharField(required=False, max_length=32)
    access_code = serializers.CharField(required=False, max_length=32)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        staff = attrs.get("username") or attrs.get("password")
        student = attrs.get("school_code") or attrs.get("number") or attrs.get("access_code")
        if staff and student:
            raise serializers.ValidationError(_("Send either staff or student credentials, not both."))
        needed = ("username", "password") if staff or not student else ("school_code", "number", "access_code")
        missing = {f: [_("This field is required.")] for f in needed if not attrs.get(f)}
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class TokenSerializer(serializers.Serializer):  # type: ignore[type-arg]
    token = serializers.CharField()
    role = serializers.CharField(allow_null=True)


class TokenView(APIView):
    """Sign in over the API and receive a token (``Authorization: Token …``)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    # No per-address throttle: a school's students sign in together from one address behind its
    # NAT. Guessing is stopped per sign-in name by the lockout (django-axes).

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Missing fields or wrong credentials."),
            429: OpenApiResponse(ErrorSerializer, description="Locked out after repeated failures."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v.get("username"):
            username, password = v["username"], v["password"]
        else:
            username, password = student_login_name(v["school_code"], v["number"]), v["access_code"]
        # The plain HttpRequest, so the lockout (django-axes) sees and marks the real request.
        user = authenticate(request._request, username=username, password=password)
        if user is None:
            if getattr(request._request, "axes_locked_out", False):
                from screening.core.auth import lockout_response

                return lockout_response(request._request)  # type: ignore[return-value]
            raise InvalidInput(
                _("The sign-in details are not correct."), code="bad_credentials",
                fields={"non_field_errors": [_("The sign-in details are not correct.")]},
            )
        # A token sign-in is a sign-in: the audit entry and the lockout reset hang on this signal.
        user_logged_in.send(sender=user.__class__, request=request._request, user=user)
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key, "role": principal_of(user).primary_role})


class MeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    username = serializers.CharField()
    role = serializers.CharField(allow_null=True)
    roles = serializers.ListField(child=serializers.CharField())
    schools = serializers.ListField(child=serializers.IntegerField())
    hospitals = serializers.ListField(child=serializers.IntegerField())
    student_public_id = serializers.CharField(allow_null=True)


class MeView(APIView):
    """Who am I, and in which roles."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: MeSerializer, 401: OpenApiResponse(ErrorSerializer)})
    def get(self, request: Request) -> Response:
        p = principal_of(request.user)
        student = getattr(request.user, "student", None) if p.student_id else None
        return Response(
            {
                "username": request.user.get_username(),
                "role": p.primary_role,
                "roles": sorted(p.roles),
                "schools": sorted(p.staff_school_ids),
                "hospitals": sorted(p.hospital_ids),
                "student_public_id": student.public_id if student else None,
            }
        )


class LogoutView(APIView):
    """Revoke this user's API token."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None, 401: OpenApiResponse(ErrorSerializer)})
    def post(self, request: Request) -> Response:
        user: Any = request.user
        Token.objects.filter(user=user).delete()
        user_logged_out.send(sender=user.__class__, request=request._request, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = AuditEvent
        fields = [
            "id", "at", "actor_username", "role", "action", "object_type", "object_id", "student_public_id", "ip",
            "detail",
        ]


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """Compares in UTC: ISO 8601 allows offsets to ±23:59, PostgreSQL only to ±15:59 (else a 500)."""

    def filter(self, qs: Any, value: Any) -> Any:
        if value is not None:
            try:
                value = value.astimezone(dt.UTC)
            except OverflowError:
                raise InvalidInput(fields={self.field_name: [_("The date and time is out of range.")]}) from None
        return super().filter(qs, value)


class AuditEventFilter(ScopedFilterSet):
    since = UtcIsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="at", lookup_expr="lt")
    actor = django_filters.CharFilter(field_name="actor_username")

    class Meta:
        model = AuditEvent
        fields = ["action", "student_public_id", "role", "object_type"]


AUDIT_EXPORT_LIMIT = 100_000


@extend_schema_view(
    list=extend_schema(responses={200: AuditEventSerializer(many=True), 400: OpenApiResponse(ErrorSerializer), 401: OpenApiResponse(ErrorSerializer), 403: OpenApiResponse(ErrorSerializer), 404: OpenApiResponse(ErrorSerializer, description="No such page.")}),
    retrieve=extend_schema(responses={200: AuditEventSerializer, 401: OpenApiResponse(ErrorSerializer), 403: OpenApiResponse(ErrorSerializer), 404: OpenApiResponse(ErrorSerializer)}),
)
class AuditEventViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The school's audit log, for the head of the psychological centre. Read-only by design."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    permission_classes = [IsSchoolAdmin]
    filterset_class = AuditEventFilter

    @extend_schema(
        responses={(200, "text/csv"): bytes, 400: OpenApiResponse(ErrorSerializer), 401: OpenApiResponse(ErrorSerializer), 403: OpenApiResponse(ErrorSerializer)},
        description="The filtered log as CSV (UTF-8 with BOM, opens in Excel). The export is itself logged.",
    )
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> HttpResponse:
        rows = self.filter_queryset(self.get_queryset())[:AUDIT_EXPORT_LIMIT]
        buffer = io.StringIO()
        buffer.write("\ufeff")
        writer = csv.writer(buffer)
        writer.writerow([_("Time"), _("Actor"), _("Role"), _("Action"), _("Object type"), _("Object id"), _("Student public id"), _("IP address")])
        count = 0
        for e in rows.iterator():
            count += 1
            writer.writerow([e.at.isoformat(), e.actor_username, e.role, e.action, e.object_type, e.object_id, e.student_public_id, e.ip or ""])
        p = principal_of(request.user)
        audit_record(
            actor=request.user, action=Action.EXPORT, object_type="audit_log",
            school_id=min(p.admin_school_ids) if p.admin_school_ids else None,
            detail={"rows": count, "filters": {k: v for k, v in request.query_params.items()}},
        )
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
        return response
