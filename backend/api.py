"""The API base: the one scoped viewset, the one error shape, pagination.

Every viewset under /api/v1/ inherits :class:`ScopedViewSet` (a test walks the router to
make sure). Its queryset is ``visible_to(user)``; an id outside it is a 404 exactly like a missing
one, and the attempt is written to the audit log.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.viewsets import GenericViewSet

from screening.core.audit import Action, audit_refused, audit_students, student_of
from screening.core.errors import DomainError


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
        return out
    if isinstance(detail, list):
        if all(not isinstance(v, (dict, list)) for v in detail):
            return {prefix or "non_field_errors": [str(v) for v in detail]}
        out = {}
        for index, value in enumerate(detail):
            out.update(_flatten(value, f"{prefix}[{index}]"))
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def error_body(code: str, message: Any, fields: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": str(message), "fields": {k: [str(m) for m in v] for k, v in (fields or {}).items()}}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every refusal in one shape: ``{"error": {"code", "message", "fields"}}``."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", _("Not found.")), status=404)
    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("forbidden", _("You are not allowed to do this.")), status=403)
    if isinstance(exc, exceptions.ValidationError):
        return Response(
            error_body("invalid", _("Some fields are not valid."), _flatten(exc.detail)), status=400
        )
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    response.data = error_body(code, exc.detail if isinstance(exc.detail, str) else exc.default_detail)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        # DRF answers 403 when the first authenticator (sessions) names no scheme; "not signed
        # in" is a 401 as the schema says, offering the token scheme.
        response.status_code = 401
        response["WWW-Authenticate"] = 'Token realm="api"'
    return response


class _ErrorDetail(serializers.Serializer):  # type: ignore[type-arg]
    # Built in get_fields: a declared attribute named "fields" would hide Serializer.fields.
    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return {
            "code": serializers.CharField(),
            "message": serializers.CharField(),
            "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
        }


class ErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The error shape, for the schema: ``{"error": {"code", "message", "fields"}}``."""

    error = _ErrorDetail()


class ScopedViewSet(GenericViewSet):  # type: ignore[type-arg]
    """The one base for API viewsets: queryset scoped by the access policy, reads audited.

    Name it first among the bases, then the DRF mixins (ListModelMixin…) for the actions an
    endpoint offers: DRF's mixins define ``list``/``retrieve`` themselves and never call these,
    so a mixin listed first would silently skip the audit (a test walks the router for this).
    ``audit_reads`` says whether rows are identifiable student data (each read is then logged
    per student).
    """

    audit_reads: ClassVar[bool] = False

    def _base_queryset(self) -> QuerySet[Any]:
        queryset = getattr(self, "queryset", None)
        assert queryset is not None, f"{type(self).__name__} needs a queryset"
        return cast(QuerySet[Any], queryset)

    def get_queryset(self) -> QuerySet[Any]:
        return self._base_queryset().all().visible_to(self.request.user)  # type: ignore[attr-defined]

    def get_object(self) -> Any:
        value = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        if isinstance(value, str) and "\x00" in value:
            raise Http404  # no id holds a NUL, and PostgreSQL refuses one in a query (a 500)
        try:
            return super().get_object()
        except Http404:
            audit_refused(actor=self.request.user, model=self._base_queryset().model, **{self.lookup_field: value})
            raise

    def audit_read(self, rows: list[Any], action: str) -> None:
        if self.audit_reads:
            students = [s for s in (student_of(r) for r in rows) if s is not None]
            audit_students(actor=self.request.user, action=action, students=students)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        self.audit_read(rows, Action.LIST)
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        self.audit_read([instance], Action.READ)
        return Response(self.get_serializer(instance).data)


class ScopedRelatedField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A related id that must be visible to the requesting user; otherwise "does not exist"."""

    def get_queryset(self) -> QuerySet[Any]:
        request = self.context.get("request")
        queryset = super().get_queryset()
        assert queryset is not None
        return queryset.visible_to(request.user if request else None)  # type: ignore[attr-defined]

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except exceptions.ValidationError:
            request = self.context.get("request")
            if request is not None:
                model = super().get_queryset().model  # type: ignore[union-attr]
                audit_refused(actor=request.user, model=model, pk=data)
            raise


class ScopedSlugRelatedField(serializers.SlugRelatedField):  # type: ignore[type-arg]
    """As :class:`ScopedRelatedField`, by a slug (a student's public id): visible to the requesting
    user, or "does not exist" (and the attempt is logged)."""

    def get_queryset(self) -> QuerySet[Any]:
        request = self.context.get("request")
        queryset = super().get_queryset()
        assert queryset is not None
        return queryset.visible_to(request.user if request else None)  # type: ignore[attr-defined]

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except exceptions.ValidationError:
            request = self.context.get("request")
            if request is not None and isinstance(data, str):
                model = super().get_queryset().model  # type: ignore[union-attr]
                audit_refused(actor=request.user, model=model, **{self.slug_field: data})
            raise
