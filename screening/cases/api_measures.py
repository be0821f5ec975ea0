"""API of the workspace's measures (``/api/v1/kpis/``): per school where the user works cases, time to
first contact per tier, interview rate (面访率), follow-up adherence and red-alert acknowledgement
time, over a period of whole days. Counts only, computed by the selectors over the cases the user
covers; an analyst's de-identified aggregates come from the reports, not from here.

One row per school rather than one object: every viewset under /api/v1/ lists through the scoped
base (tests/api/test_router_scoped.py), and a school's measures are what its head reports.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.request import Request

from backend.api import ScopedViewSet
from backend.filters import ScopedFilterSet
from screening.cases import selectors
from screening.cases.api import PAGE_ERRORS, errors
from screening.core.access import principal_of
from screening.core.permissions import IsStaff
from screening.directory.models import School


@dataclass(frozen=True)
class Period:
    """Whole days, both ends included; None leaves that end open."""

    since: dt.date | None = None
    until: dt.date | None = None

    @property
    def start(self) -> dt.datetime | None:
        return _day_start(self.since) if self.since else None

    @property
    def end(self) -> dt.datetime | None:
        return _day_start(self.until + dt.timedelta(days=1)) if self.until else None

    @property
    def end_day(self) -> dt.date | None:
        return self.until + dt.timedelta(days=1) if self.until else None


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class PeriodSerializer(serializers.Serializer):  # type: ignore[type-arg]
    since = serializers.DateField(required=False, allow_null=True, help_text="First day counted (YYYY-MM-DD).")
    until = serializers.DateField(required=False, allow_null=True, help_text="Last day counted (YYYY-MM-DD).")

    def validate(self, attrs: dict[str, Any]) -> Period:  # type: ignore[override]
        period = Period(attrs.get("since"), attrs.get("until"))
        for name in ("since", "until"):
            try:
                # The database compares in UTC: the day's bounds must be representable there.
                bound = period.start if name == "since" else period.end
                if bound is not None:
                    bound.astimezone(dt.UTC)
            except OverflowError:
                raise serializers.ValidationError({name: [_("The date is out of range.")]}) from None
        if period.since and period.until and period.since > period.until:
            raise serializers.ValidationError({"until": [_("The last day cannot be before the first.")]})
        return period


class FirstContactSerializer(serializers.Serializer):  # type: ignore[type-arg]
    tier = serializers.CharField()
    flags = serializers.IntegerField(help_text="Flags raised in the period.")
    contacted = serializers.IntegerField(help_text="Of those, flags followed by a contact with the student.")
    within_limit = serializers.IntegerField(help_text="Contacted by the tier's first-contact limit.")
    share_within = serializers.FloatField(allow_null=True, help_text="within_limit / flags; null without flags.")
    median_hours = serializers.FloatField(allow_null=True, help_text="From flag to first contact; null without any.")


class InterviewRateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    flagged = serializers.IntegerField(help_text="Students flagged in the period.")
    seen_face_to_face = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class AdherenceSerializer(serializers.Serializer):  # type: ignore[type-arg]
    due = serializers.IntegerField(help_text="Follow-ups that fell due in the period (not cancelled).")
    on_time = serializers.IntegerField(help_text="Done by their day.")
    rate = serializers.FloatField(allow_null=True)


class AlertAcknowledgementSerializer(serializers.Serializer):  # type: ignore[type-arg]
    alerts = serializers.IntegerField(help_text="Red alerts raised in the period.")
    acknowledged = serializers.IntegerField()
    within_limit = serializers.IntegerField()
    decided = serializers.IntegerField(help_text="Acknowledged, or past the limit (an alert still in time is neither).")
    share_within = serializers.FloatField(allow_null=True, help_text="within_limit / decided; null when none.")
    median_minutes = serializers.FloatField(allow_null=True)


class KpiSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One school's measures over the period, counted over the students the user covers there."""

    school = serializers.IntegerField()
    school_name = serializers.CharField()
    since = serializers.DateField(allow_null=True)
    until = serializers.DateField(allow_null=True)
    first_contact_measures = FirstContactSerializer(many=True, help_text="Per tier: red, orange, yellow.")
    interview_rate = InterviewRateSerializer()
    follow_up_adherence = AdherenceSerializer()
    alert_acknowledgement = AlertAcknowledgementSerializer()

    def to_representation(self, instance: School) -> dict[str, Any]:
        period: Period = self.context.get("period") or Period()
        return super().to_representation(_measures(self.context["request"].user, instance, period))


def _measures(user: Any, school: School, period: Period) -> dict[str, Any]:
    window = {"user": user, "school": school.pk, "since": period.start, "until": period.end}
    return {
        "school": school.pk, "school_name": school.name, "since": period.since, "until": period.until,
        "first_contact_measures": selectors.first_contact_measures(**window),
        "interview_rate": selectors.interview_rate(**window),
        "follow_up_adherence": selectors.follow_up_adherence(user=user, school=school.pk, since=period.since,
                                                             until=period.end_day),
        "alert_acknowledgement": selectors.alert_acknowledgement(**window),
    }


class KpiFilter(ScopedFilterSet):
    school = django_filters.ModelChoiceFilter(field_name="id", queryset=School.objects.all(), label=_("school"))

    class Meta:
        model = School
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(parameters=[PeriodSerializer], responses={200: KpiSerializer(many=True), **PAGE_ERRORS},
                       description="The workspace's measures, one row per school where you work, over the cases "
                       "you cover: time to first contact per tier, interview rate (面访率), follow-up adherence "
                       "and red-alert acknowledgement time."),
    retrieve=extend_schema(parameters=[PeriodSerializer], responses={200: KpiSerializer, **errors(400, 401, 403, 404)},
                           description="One school's measures (the id is the school's)."),
)
class KpiViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The counsellor workspace's measures per school, for the staff who work cases there. Counts
    only; an analyst's aggregates come from the reports, not from here."""

    queryset = School.objects.all()
    serializer_class = KpiSerializer
    permission_classes = [IsStaff]
    filterset_class = KpiFilter

    def get_queryset(self) -> QuerySet[School]:
        schools = super().get_queryset()
        p = principal_of(self.request.user)
        if not p.platform_admin:
            # Schools where the user works cases; a bureau analyst sees schools but no cases.
            schools = schools.filter(pk__in=p.staff_school_ids)
        return schools.order_by("name", "id")

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        params = PeriodSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        self.period: Period = params.validated_data  # type: ignore[assignment]

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "period": getattr(self, "period", None)}
