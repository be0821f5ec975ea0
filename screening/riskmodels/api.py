"""API of the risk model registry and its scores (issue #5).

``risk-models``: the models whose cards the user may read (heads of centre: those that may score
their school; platform admins: all), the card JSON on retrieve, its ROC and calibration pictures
as SVG, and activate / retire for platform admins (anyone else who may read the card gets a 403).
Cards hold no student data: their reads are not audited; changes are, by the services.

``risk-scores``: each sitting's estimates, for staff who cover the student (never the student),
filtered by submission; every read is audited per student, as other student data.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from backend.api import ErrorSerializer, ScopedViewSet
from backend.filters import ScopedFilterSet
from scoring.risk.card import card_markdown
from screening.campaigns.models import Submission
from screening.core.permissions import IsStaff, ReadsRiskModels
from screening.riskmodels import selectors, services
from screening.riskmodels.models import RiskModel, RiskScore
from screening.riskmodels.pictures import calibration_picture, roc_picture

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input or filter, with field messages."),
    401: OpenApiResponse(ErrorSerializer, description="Not signed in."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not use this (or not change models)."),
    404: OpenApiResponse(ErrorSerializer, description="Missing or out of scope (the two look the same)."),
    409: OpenApiResponse(ErrorSerializer, description="The model's state does not allow this; the code says why "
                         "(model_retired, model_file_changed)."),
}
PAGE_ERRORS = {**{k: ERRORS[k] for k in (400, 401, 403)},
               404: OpenApiResponse(ErrorSerializer, description="No such page.")}
SVG = "image/svg+xml"
MARKDOWN = "text/markdown"


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {c: ERRORS[c] for c in codes}


def card_language() -> str:
    """The card's language for this request: English, else Simplified Chinese (the card's two)."""
    return "en" if (get_language() or "").startswith("en") else "zh-hans"


# --- serializers -----------------------------------------------------------------------------------


class RiskModelSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    scope = serializers.CharField(source="scope_key", read_only=True,
                                  help_text='"all", "region:<id>" or "school:<id>": the sittings it may score.')
    trained_by = serializers.CharField(source="trained_by.username", read_only=True, allow_null=True)
    activated_by = serializers.CharField(source="activated_by.username", read_only=True, allow_null=True)

    class Meta:
        model = RiskModel
        fields = ["id", "version", "status", "scope", "scope_school", "scope_region", "kind", "synthetic",
                  "demographics", "labelled", "positives", "data_from", "data_to", "trained_by", "trained_at",
                  "activated_by", "activated_at", "retired_at"]


class RiskModelDetailSerializer(RiskModelSerializer):
    """One model with its card (scoring.risk.card.card_json): data, features, metrics with 95%
    intervals, calibration, ROC curve, tier thresholds, per-group results, comparison, limitations."""

    card = serializers.DictField(read_only=True, help_text="The model card (schema xinqiao.risk-model-card/1).")

    class Meta(RiskModelSerializer.Meta):
        fields = [*RiskModelSerializer.Meta.fields, "card"]


class ReasonSerializer(serializers.Serializer):  # type: ignore[type-arg]
    # Built in get_fields: "zh-hans" is not a Python name.
    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return {
            "feature": serializers.CharField(help_text="The feature column, e.g. phq9.item.3."),
            "weight": serializers.FloatField(help_text="How much it raised the estimate (log-odds)."),
            "en": serializers.CharField(help_text="In plain words, English."),
            "zh-hans": serializers.CharField(help_text="In plain words, Simplified Chinese."),
        }


class RiskScoreSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    student = serializers.CharField(source="submission.student.public_id", read_only=True)
    model_version = serializers.CharField(source="model.version", read_only=True)
    raised = serializers.BooleanField(read_only=True, help_text="Did the model raise the rules' tier?")
    reasons = ReasonSerializer(many=True, read_only=True,
                               help_text="The (at most three) features that raised the estimate most.")

    class Meta:
        model = RiskScore
        fields = ["id", "submission", "student", "model", "model_version", "probability", "model_tier", "tier_before",
                  "tier_after", "raised", "reasons", "source", "created_at"]
        extra_kwargs = {"probability": {"help_text": "Estimated probability that an interview confirms a need "
                                                     "for support (0–1). Staff only; a screening aid, not a diagnosis."}}


class RiskScoreFilter(ScopedFilterSet):
    submission = django_filters.ModelChoiceFilter(queryset=Submission.objects.all(), label=_("submission"))

    class Meta:
        model = RiskScore
        fields: list[str] = []


# --- risk models ------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(responses={200: RiskModelSerializer(many=True), **PAGE_ERRORS},
                       description="The risk models whose cards you may read, newest first."),
    retrieve=extend_schema(responses={200: RiskModelDetailSerializer, **errors(401, 403, 404)}),
)
class RiskModelViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Risk models and their cards: heads of centre (the models that may score their school) and
    platform admins. A model is a screening aid, not a diagnosis; it may only raise a tier."""

    queryset = RiskModel.objects.select_related("trained_by", "activated_by")
    serializer_class = RiskModelSerializer
    permission_classes = [ReadsRiskModels]
    filterset_fields = ["status", "kind"]

    def get_queryset(self) -> QuerySet[RiskModel]:
        return selectors.risk_model_list(user=self.request.user).select_related("trained_by", "activated_by")

    def get_serializer_class(self) -> type[BaseSerializer]:  # type: ignore[type-arg]
        return RiskModelSerializer if self.action == "list" else RiskModelDetailSerializer

    def _change(self, change: Any) -> Response:
        changed = change(actor=self.request.user, model=self.get_object())  # a changed file: 409 model_file_changed
        return Response(RiskModelDetailSerializer(self.get_queryset().get(pk=changed.pk)).data)

    @extend_schema(request=None, responses={200: RiskModelDetailSerializer, **errors(401, 403, 404, 409)},
                   description="Make the model the active one of its scope; the one active before is retired. "
                   "Platform admins only. Activating the active model changes nothing.")
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str | None = None) -> Response:
        return self._change(services.risk_model_activate)

    @extend_schema(request=None, responses={200: RiskModelDetailSerializer, **errors(401, 403, 404)},
                   description="Take the model out of use (tiers then come from the rules alone, or from a wider "
                   "scope's model). Platform admins only. Retiring again changes nothing.")
    @action(detail=True, methods=["post"])
    def retire(self, request: Request, pk: str | None = None) -> Response:
        return self._change(services.risk_model_retire)

    def _picture(self, draw: Any) -> HttpResponse:
        model = self.get_object()
        return HttpResponse(draw(model.card or {}, card_language()), content_type=f"{SVG}; charset=utf-8")

    @extend_schema(operation_id="v1_risk_models_roc_svg", responses={(200, SVG): str, **errors(401, 403, 404)},
                   description="The card's ROC curve as an SVG image, labelled in the request's language.")
    def roc(self, request: Request, pk: str | None = None) -> HttpResponse:
        return self._picture(roc_picture)

    @extend_schema(operation_id="v1_risk_models_calibration_svg",
                   responses={(200, SVG): str, **errors(401, 403, 404)},
                   description="The card's calibration curve (by decile) as an SVG image, labelled in the "
                   "request's language.")
    def calibration(self, request: Request, pk: str | None = None) -> HttpResponse:
        return self._picture(calibration_picture)

    @extend_schema(operation_id="v1_risk_models_card_md", responses={(200, MARKDOWN): str, **errors(401, 403, 404)},
                   description="The model card in Markdown, in the request's language (the JSON card is on the "
                   "model itself).")
    def card_markdown(self, request: Request, pk: str | None = None) -> HttpResponse:
        model = self.get_object()
        return HttpResponse(card_markdown(model.card or {}, card_language()), content_type=f"{MARKDOWN}; charset=utf-8")


# --- risk scores ------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(responses={200: RiskScoreSerializer(many=True), **PAGE_ERRORS},
                       description="Risk scores of the sittings of students you cover, each sitting's in the order "
                       "they were made; filter by submission. Every read is audited."),
    retrieve=extend_schema(responses={200: RiskScoreSerializer, **errors(401, 403, 404)}),
)
class RiskScoreViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Risk models' estimates for sittings, with the tiers before and after and the reasons in plain
    words: staff who cover the student. Students never see a risk score."""

    queryset = RiskScore.objects.select_related("model", "submission__student")
    serializer_class = RiskScoreSerializer
    permission_classes = [IsStaff]
    filterset_class = RiskScoreFilter
    audit_reads = True

    def get_queryset(self) -> QuerySet[RiskScore]:
        return selectors.risk_score_list(user=self.request.user).order_by("submission_id", "created_at", "id")

    def audit_read(self, rows: list[Any], action: str) -> None:
        super().audit_read([row.submission for row in rows], action)  # a score is about its sitting's student
