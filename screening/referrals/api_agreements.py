"""API of school–hospital agreements (校医合作协议) and of students' consents to share with a
hospital (PIPL art. 29): what a referral travels under. Shared parts (error responses, choices) are
in :mod:`screening.referrals.api`.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from backend.api import ScopedRelatedField, ScopedSlugRelatedField, ScopedViewSet
from backend.filters import ScopedFilterSet
from screening.core.errors import InvalidInput
from screening.core.permissions import ActsForSchool, IsStaff, SchoolAdminWrites
from screening.directory.models import Hospital, School, Student
from screening.referrals.api import (
    AGREEMENT_TIERS,
    EXPIRES_SOON_DAYS,
    PACKET_CHOICES,
    PAGE_ERRORS,
    errors,
)
from screening.referrals.models import PACKET_FIELDS, Agreement, SharingConsent
from screening.referrals.services import agreements
from screening.referrals.services.agreements import MAX_HOURS, TIERS
from screening.referrals.services.referrals import MAX_TEXT

# --- agreements ------------------------------------------------------------------------------------


class LimitSerializer(serializers.Serializer):  # type: ignore[type-arg]
    acknowledge_hours = serializers.IntegerField(min_value=1, max_value=MAX_HOURS)
    decide_hours = serializers.IntegerField(min_value=1, max_value=MAX_HOURS)


class AgreementSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """An agreement as both sides read it. The delivery endpoint's secret is never shown."""

    limits = serializers.DictField(child=LimitSerializer(), help_text="Per tier covered: hours to acknowledge "
                                   "and to decide, from the sending.")
    has_endpoint_secret = serializers.SerializerMethodField()
    active = serializers.SerializerMethodField()
    expires_soon = serializers.SerializerMethodField()

    class Meta:
        model = Agreement
        fields = ["id", "school", "hospital", "valid_from", "valid_until", "tiers", "limits", "packet",
                  "crisis_contact_name", "crisis_contact_email", "crisis_line", "endpoint_url", "has_endpoint_secret",
                  "active", "expires_soon", "created_at", "updated_at"]

    # Derived per row; they would be model properties (STYLE.md), kept here while models.py is not ours.
    def get_has_endpoint_secret(self, obj: Agreement) -> bool:
        """Whether a shared secret for the delivery endpoint is on record (the secret itself never leaves)."""
        return bool(obj.endpoint_secret)

    def get_active(self, obj: Agreement) -> bool:
        """Valid today."""
        return obj.valid_from <= timezone.localdate() <= obj.valid_until

    def get_expires_soon(self, obj: Agreement) -> bool:
        """Valid today and ends within 30 days."""
        today = timezone.localdate()
        return self.get_active(obj) and (obj.valid_until - today).days <= EXPIRES_SOON_DAYS


class AgreementWriteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    school = ScopedRelatedField(queryset=School.objects.all(), help_text="Cannot change once recorded.")
    hospital = ScopedRelatedField(queryset=Hospital.objects.all(), help_text="Cannot change once recorded.")
    valid_from = serializers.DateField()
    valid_until = serializers.DateField()
    tiers = serializers.ListField(child=serializers.ChoiceField(choices=AGREEMENT_TIERS), min_length=1,
                                  max_length=len(TIERS))
    limits = serializers.DictField(child=LimitSerializer(), help_text="For each tier covered: "
                                   '{"acknowledge_hours": N, "decide_hours": M}, N ≤ M.')
    packet = serializers.ListField(child=serializers.ChoiceField(choices=PACKET_CHOICES), required=False,
                                   max_length=len(PACKET_FIELDS),
                                   help_text="The fields the hospital receives (public_id always; default all).")
    crisis_contact_name = serializers.CharField(max_length=100)
    crisis_contact_email = serializers.EmailField(required=False, allow_blank=True, default="")
    crisis_line = serializers.CharField(max_length=40)
    endpoint_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=200)
    endpoint_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=500, trim_whitespace=False,
        help_text="Shared secret for signing deliveries (at least 32 characters with an endpoint). Never returned; "
        "left out on a change, the one on record stays; an empty string removes it.")


AGREEMENT_FIELDS = ("school", "hospital", "valid_from", "valid_until", "tiers", "limits", "packet",
                    "crisis_contact_name", "crisis_contact_email", "crisis_line", "endpoint_url", "endpoint_secret")


@extend_schema_view(
    list=extend_schema(responses={200: AgreementSerializer(many=True), **PAGE_ERRORS},
                       description="Agreements of your school (staff) or your hospital (liaisons, read only)."),
    retrieve=extend_schema(responses={200: AgreementSerializer, **errors(401, 403, 404)}),
    create=extend_schema(request=AgreementWriteSerializer, responses={201: AgreementSerializer, **errors(400, 401, 403)},
                         description="Record the agreement the school signed with a hospital: heads of the school's "
                         "centre and platform admins."),
    update=extend_schema(request=AgreementWriteSerializer,
                         responses={200: AgreementSerializer, **errors(400, 401, 403, 404)}),
    partial_update=extend_schema(request=AgreementWriteSerializer,
                                 responses={200: AgreementSerializer, **errors(400, 401, 403, 404)}),
)
class AgreementViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                       mixins.UpdateModelMixin):
    """School–hospital agreements: validity, tiers covered, the hospital's time limits, the packet."""

    queryset = Agreement.objects.all()
    serializer_class = AgreementSerializer
    permission_classes = [IsStaff, SchoolAdminWrites]
    filterset_fields = ["school", "hospital"]

    def get_serializer_class(self) -> type[BaseSerializer]:  # type: ignore[type-arg]
        return AgreementWriteSerializer if self.action in ("create", "update", "partial_update") else AgreementSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = AgreementWriteSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        agreement = agreements.agreement_save(actor=request.user, **body.validated_data)
        return Response(AgreementSerializer(agreement).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        agreement = self.get_object()
        partial = bool(kwargs.get("partial"))
        body = AgreementWriteSerializer(data=request.data, partial=partial, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        given = body.validated_data
        moved = {name: [_("Cannot change once recorded; record a new agreement instead.")]
                 for name in ("school", "hospital") if name in given and given[name].pk != getattr(agreement, f"{name}_id")}
        if moved:
            raise InvalidInput(fields=moved)
        fields = {name: given[name] if name in given else getattr(agreement, name) for name in AGREEMENT_FIELDS}
        saved = agreements.agreement_save(actor=request.user, agreement=agreement, **fields)
        return Response(AgreementSerializer(saved).data)


# --- consents to share -----------------------------------------------------------------------------


class SharingConsentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    student = serializers.CharField(source="student.public_id", read_only=True)
    recorded_by = serializers.CharField(source="recorded_by.username", read_only=True)

    class Meta:
        model = SharingConsent
        fields = ["id", "student", "hospital", "party", "method", "given_at", "note", "recorded_by", "recorded_at",
                  "withdrawn_at"]


class SharingConsentWriteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    student = ScopedSlugRelatedField(slug_field="public_id", queryset=Student.objects.all(),
                                     help_text="The student's public id.")
    hospital = ScopedRelatedField(queryset=Hospital.objects.all())
    party = serializers.ChoiceField(choices=SharingConsent.Party.choices,
                                    help_text="The guardian for a student under 14.")
    method = serializers.ChoiceField(choices=SharingConsent.Method.choices)
    given_at = serializers.DateTimeField(help_text="When the consent was given (not in the future).")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_TEXT,
                                 trim_whitespace=False)


class SharingConsentFilter(ScopedFilterSet):
    student = django_filters.ModelChoiceFilter(queryset=Student.objects.all(), to_field_name="public_id",
                                               label=_("student (public id)"))
    hospital = django_filters.ModelChoiceFilter(queryset=Hospital.objects.all(), label=_("hospital"))

    class Meta:
        model = SharingConsent
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(responses={200: SharingConsentSerializer(many=True), **PAGE_ERRORS},
                       description="Consents to share with a hospital, of the students you cover; filter by student."),
    retrieve=extend_schema(responses={200: SharingConsentSerializer, **errors(401, 403, 404)}),
    create=extend_schema(request=SharingConsentWriteSerializer,
                         responses={201: SharingConsentSerializer, **errors(400, 401, 403)},
                         description="Record a consent to share the student's referral packet with one hospital, "
                         "given separately (PIPL art. 29): the guardian's for a student under 14."),
)
class SharingConsentViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin):
    """Consents to share with a hospital: staff who cover the student."""

    queryset = SharingConsent.objects.select_related("student", "recorded_by")
    serializer_class = SharingConsentSerializer
    permission_classes = [IsStaff, ActsForSchool]
    filterset_class = SharingConsentFilter
    audit_reads = True

    def get_serializer_class(self) -> type[BaseSerializer]:  # type: ignore[type-arg]
        return SharingConsentWriteSerializer if self.action == "create" else SharingConsentSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = SharingConsentWriteSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        consent = agreements.sharing_consent_record(actor=request.user, **body.validated_data)
        return Response(SharingConsentSerializer(consent).data, status=status.HTTP_201_CREATED)
