"""API for campaigns: heads of centre create, launch and close; the school's staff read."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

import scoring
from backend.api import ErrorSerializer, ScopedRelatedField, ScopedViewSet
from screening.campaigns import rules, selectors, services
from screening.campaigns.models import Assignment, Campaign, ConsentRecord, CrisisAlert
from screening.campaigns.services import consent
from screening.cases.services import work
from screening.core.access import principal_of
from screening.core.errors import NotAllowed
from screening.core.permissions import IsSchoolAdmin, IsStaff, SchoolAdminWrites, WorksCases
from screening.directory.models import School, SchoolClass

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input, with field messages."),
    401: OpenApiResponse(ErrorSerializer, description="Not signed in."),
    403: OpenApiResponse(ErrorSerializer, description="Visible, but not yours to change."),
    404: OpenApiResponse(ErrorSerializer, description="Missing or out of scope (the two look the same)."),
    409: OpenApiResponse(ErrorSerializer, description="The campaign's state does not allow this."),
}


class CampaignSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    target_classes = serializers.PrimaryKeyRelatedField(many=True, read_only=True)  # type: ignore[var-annotated]
    assignments = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id", "school", "name", "instruments", "profiles", "stepped", "target_classes", "target_grades",
            "opens_at", "closes_at", "consent_mode", "students_see_results", "asks_research_use", "status",
            "launched_at", "closed_at", "assignments",
        ]

    def get_assignments(self, obj: Campaign) -> dict[str, int]:
        """Assignment counts by status (what the students' classes have done so far)."""
        return {s: getattr(obj, f"n_{s}", 0) for s in Assignment.Status.values}


class CampaignWriteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    school = ScopedRelatedField(queryset=School.objects.all())
    name = serializers.CharField(max_length=120)
    instruments = serializers.ListField(child=serializers.ChoiceField(choices=list(scoring.instrument_codes())), min_length=1, max_length=20)
    profiles = serializers.DictField(child=serializers.CharField(max_length=60), required=False)
    target_classes = ScopedRelatedField(queryset=SchoolClass.objects.all(), many=True, required=False)
    target_grades = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=12), required=False, max_length=12)
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    consent_mode = serializers.ChoiceField(choices=Campaign.ConsentMode.choices, required=False)
    students_see_results = serializers.BooleanField(required=False)
    stepped = serializers.BooleanField(required=False)
    asks_research_use = serializers.BooleanField(
        required=False, help_text="Ask guardians and students, separately and optionally, for consent to use the "
        "answers without names for research (never a condition of taking part).",
    )


class CountSerializer(serializers.Serializer):  # type: ignore[type-arg]
    campaign = CampaignSerializer()
    changed = serializers.IntegerField(help_text="Assignments added (launch) or marked missed (close).")


class CompletionRowSerializer(serializers.Serializer):  # type: ignore[type-arg]
    class_id = serializers.IntegerField()
    class_name = serializers.CharField()
    grade = serializers.IntegerField()
    total = serializers.IntegerField()
    pending = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    submitted = serializers.IntegerField()
    missed = serializers.IntegerField()
    guardian_waiting = serializers.IntegerField(help_text="Guardians asked who have not answered yet.")
    percent = serializers.IntegerField()


class InvitedSerializer(serializers.Serializer):  # type: ignore[type-arg]
    invited = serializers.IntegerField(help_text="Guardians sent a link now.")


@extend_schema_view(
    list=extend_schema(responses={200: CampaignSerializer(many=True), **{k: ERRORS[k] for k in (400, 401, 403, 404)}}),
    retrieve=extend_schema(responses={200: CampaignSerializer, **{k: ERRORS[k] for k in (401, 403, 404)}}),
    create=extend_schema(request=CampaignWriteSerializer, responses={201: CampaignSerializer, **{k: ERRORS[k] for k in (400, 401, 403)}}),
)
class CampaignViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin):
    """Screening campaigns of the user's school(s)."""

    queryset = Campaign.objects.select_related("school").prefetch_related("target_classes")
    serializer_class = CampaignSerializer
    permission_classes = [IsStaff, SchoolAdminWrites]
    filterset_fields = ["school", "status"]

    def get_queryset(self) -> QuerySet[Campaign]:
        counts = {f"n_{s}": Count("assignments", filter=Q(assignments__status=s)) for s in Assignment.Status.values}
        return super().get_queryset().annotate(**counts).order_by("-opens_at", "-id")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = CampaignWriteSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if not IsSchoolAdmin().has_object_permission(request, self, fields["school"]):
            raise NotAllowed()
        campaign = services.campaign_create(actor=request.user, **fields)
        return Response(CampaignSerializer(self.get_queryset().get(pk=campaign.pk)).data, status=status.HTTP_201_CREATED)

    def _transition(self, request: Request, change: Any) -> Response:
        campaign = self.get_object()
        changed = change(actor=request.user, campaign=campaign)
        return Response({"campaign": CampaignSerializer(self.get_queryset().get(pk=campaign.pk)).data, "changed": changed})

    @extend_schema(request=None, responses={200: CountSerializer, **{k: ERRORS[k] for k in (401, 403, 404, 409)}},
                   description="Open the campaign: one assignment per eligible student. Repeating it only adds "
                   "students who became eligible since.")
    @action(detail=True, methods=["post"], permission_classes=[IsSchoolAdmin])
    def launch(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, services.campaign_launch)

    @extend_schema(request=None, responses={200: CountSerializer, **{k: ERRORS[k] for k in (401, 403, 404, 409)}},
                   description="Close the campaign: unfinished assignments become missed. Closing twice changes nothing.")
    @action(detail=True, methods=["post"], permission_classes=[IsSchoolAdmin])
    def close(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(request, services.campaign_close)

    @extend_schema(responses={200: CompletionRowSerializer(many=True), **{k: ERRORS[k] for k in (401, 403, 404)}},
                   description="Completion by class (counts only), over the students you cover.")
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def completion(self, request: Request, pk: str | None = None) -> Response:
        return Response(selectors.completion_by_class(user=request.user, campaign=self.get_object()))

    @extend_schema(request=None, responses={200: InvitedSerializer, **{k: ERRORS[k] for k in (401, 403, 404)}},
                   description="Send a signed link to every guardian of the campaign not asked yet "
                   "(launching does this too; students who joined later are included).")
    @action(detail=True, methods=["post"], url_path="invite-guardians", permission_classes=[IsSchoolAdmin])
    def invite_guardians(self, request: Request, pk: str | None = None) -> Response:
        campaign = self.get_object()
        return Response({"invited": consent.campaign_guardians_invite(actor=request.user, campaign=campaign)})


class AssignmentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    student = serializers.CharField(source="student.public_id")
    student_name = serializers.CharField(source="student.name")
    school_class = serializers.IntegerField(source="student.school_class_id")
    guardian_role = serializers.SerializerMethodField()
    tier = serializers.SerializerMethodField()

    class Meta:
        model = Assignment
        fields = ["id", "campaign", "student", "student_name", "school_class", "status", "guardian", "guardian_role",
                  "student_consent", "started_at", "submitted_at", "tier"]

    def get_guardian_role(self, obj: Assignment) -> str:
        """consent (must consent), notice (is told) or none (adult student)."""
        return rules.guardian_role(obj).value

    def get_tier(self, obj: Assignment) -> str | None:
        """The submission's tier (red / orange / yellow / green), or null before submission."""
        submission = getattr(obj, "submission", None) if obj.status == Assignment.Status.SUBMITTED else None
        return submission.tier if submission is not None else None


class ConsentRecordSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ConsentRecord
        fields = ["id", "party", "purpose", "decision", "method", "text_version", "text_sha256", "language",
                  "recorded_by", "at"]


class PaperConsentSerializer(serializers.Serializer):  # type: ignore[type-arg]
    decision = serializers.ChoiceField(choices=[(d.value, d.label) for d in consent.PAPER_DECISIONS])
    note = serializers.CharField(max_length=2000, help_text="Where the signed form is kept, or how it was given.")
    purpose = serializers.ChoiceField(choices=ConsentRecord.Purpose.choices, required=False,
                                      help_text="screening (default), or the separate consent to research use.")


@extend_schema_view(
    list=extend_schema(responses={200: AssignmentSerializer(many=True), **{k: ERRORS[k] for k in (400, 401, 403, 404)}}),
    retrieve=extend_schema(responses={200: AssignmentSerializer, **{k: ERRORS[k] for k in (401, 403, 404)}}),
)
class AssignmentViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Assignments of the students you cover: consent state and progress (staff)."""

    queryset = Assignment.objects.select_related("campaign__school", "student", "submission")
    serializer_class = AssignmentSerializer
    permission_classes = [IsStaff]
    filterset_fields = ["campaign", "status", "guardian", "student__school_class"]
    audit_reads = True

    @extend_schema(responses={200: ConsentRecordSerializer(many=True), **{k: ERRORS[k] for k in (401, 403, 404)}},
                   description="Every consent event of this assignment, oldest first.")
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def consents(self, request: Request, pk: str | None = None) -> Response:
        assignment = self.get_object()
        self.audit_read([assignment], "read")
        return Response(ConsentRecordSerializer(assignment.consents.all(), many=True).data)

    @extend_schema(request=PaperConsentSerializer,
                   responses={201: ConsentRecordSerializer, **{k: ERRORS[k] for k in (400, 401, 403, 404, 409)}},
                   description="Record a guardian's paper consent form (or a refusal or withdrawal on paper), for "
                   "the screening or, with purpose=research, for the separate research use.")
    @action(detail=True, methods=["post"], url_path="paper-consent")
    def paper_consent(self, request: Request, pk: str | None = None) -> Response:
        assignment = self.get_object()
        if not principal_of(request.user).covers_students:
            raise NotAllowed()
        body = PaperConsentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        record = consent.paper_consent_record(actor=request.user, assignment=assignment,
                                              language=getattr(request, "LANGUAGE_CODE", "zh-hans"), **body.validated_data)
        return Response(ConsentRecordSerializer(record).data, status=status.HTTP_201_CREATED)


class CrisisAlertSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    student = serializers.CharField(source="student.public_id")
    school_class = serializers.IntegerField(source="student.school_class_id")
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", read_only=True, allow_null=True,
                                            help_text="Who acknowledged it (the first acknowledgement stands).")

    class Meta:
        model = CrisisAlert
        fields = ["id", "student", "school", "school_class", "rules", "created_at", "due_at", "notified_at",
                  "acknowledge_due_at", "hospital_due_at", "acknowledged_at", "acknowledged_by",
                  "escalated_school_at", "escalated_hospital_at"]


@extend_schema_view(
    list=extend_schema(responses={200: CrisisAlertSerializer(many=True), **{k: ERRORS[k] for k in (400, 401, 403, 404)}}),
    retrieve=extend_schema(responses={200: CrisisAlertSerializer, **{k: ERRORS[k] for k in (401, 403, 404)}}),
)
class CrisisAlertViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Red alerts on students you cover, newest first. Acknowledging one stops its escalation (to the
    head of centre at ``acknowledge_due_at``, to the partner hospital at ``hospital_due_at``)."""

    queryset = CrisisAlert.objects.select_related("student", "acknowledged_by")
    serializer_class = CrisisAlertSerializer
    permission_classes = [IsStaff]
    filterset_fields = ["school"]
    audit_reads = True

    @extend_schema(request=None, responses={200: CrisisAlertSerializer, **{k: ERRORS[k] for k in (401, 403, 404)}},
                   description="Acknowledge the red alert: it stops its escalation. The first acknowledgement "
                   "stands; acknowledging again answers with it.")
    @action(detail=True, methods=["post"], permission_classes=[IsStaff, WorksCases])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        alert = self.get_object()
        acknowledged = work.alert_acknowledge(actor=request.user, alert=alert.pk)
        return Response(CrisisAlertSerializer(self.get_queryset().get(pk=acknowledged.pk)).data)
