"""API of the counsellor workspace: the case queue and what counsellors do on a case, and the
escalations heads of centre watch (the measures are in ``api_measures``).

Views parse, call one service or selector, and serialize. The queue is ``selectors.case_queue`` (red
first, then the time left), the same order as the pages. Every read of a case, its contacts, plan or
timeline is audited per student; changes are audited by the services. Recording a contact and making
a plan take an ``Idempotency-Key`` header, so a retried request records once.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from backend.api import ErrorSerializer, ScopedViewSet
from backend.filters import ScopedFilterSet
from screening.campaigns.models import Campaign
from screening.cases import selectors
from screening.cases.models import Case, CaseEvent, Contact, FollowUp, FollowUpPlan
from screening.cases.services import work
from screening.core.audit import Action
from screening.core.errors import InvalidInput
from screening.core.permissions import IsStaff, WorksCases
from screening.directory.models import SchoolClass

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input, with field messages."),
    401: OpenApiResponse(ErrorSerializer, description="Not signed in."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not use this (or not change cases)."),
    404: OpenApiResponse(ErrorSerializer, description="Missing or out of scope (the two look the same)."),
    409: OpenApiResponse(ErrorSerializer, description="The case's state does not allow this; the code says why "
                         "(case_closed, case_not_contacted, alert_open)."),
}
PAGE_ERRORS = {**{k: ERRORS[k] for k in (400, 401, 403)},
               404: OpenApiResponse(ErrorSerializer, description="No such page.")}
MAX_KEY = 100  # the request_key columns
# Choice subsets, named in settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].
MOVE_STATUSES = [(s.value, s.label) for s in (Case.Status.IN_CONTACT, Case.Status.MONITORING)]
ESCALATION_KINDS = [(k.value, k.label) for k in selectors.ESCALATIONS]
MAX_ID = 2**63 - 1
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Any unique text (up to 100 characters) per attempt; repeat it on retry and the first record "
    "is returned (200) instead of a second one (201). Without it, every request records.",
)


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {c: ERRORS[c] for c in codes}


def _request_key(request: Request) -> str:
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if len(key) > MAX_KEY:
        raise InvalidInput(fields={"Idempotency-Key": [
            _("Send an Idempotency-Key header of at most %(n)d characters.") % {"n": MAX_KEY}]})
    return key


def _recorded(data: Any, replayed: bool) -> Response:
    """201 for a new record; 200, marked, when the Idempotency-Key named one recorded before."""
    if replayed:
        return Response(data, status=status.HTTP_200_OK, headers={"Idempotent-Replayed": "true"})
    return Response(data, status=status.HTTP_201_CREATED)


# --- serializers -----------------------------------------------------------------------------------


class ClassRefSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    name = serializers.CharField()


class CaseSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    student = serializers.CharField(source="student.public_id", read_only=True)
    student_name = serializers.CharField(source="student.name", read_only=True)
    school_class = ClassRefSerializer(source="student.school_class", read_only=True)
    next_follow_up = serializers.DateField(read_only=True, allow_null=True,
                                           help_text="The earliest follow-up still to do (planned or missed).")
    open_alerts = serializers.IntegerField(read_only=True, help_text="Red alerts not yet acknowledged.")
    follow_ups_due = serializers.IntegerField(read_only=True, help_text="Follow-ups to do that fall due by today.")

    class Meta:
        model = Case
        fields = ["id", "student", "student_name", "school_class", "school", "tier", "status", "opened_at",
                  "first_contact_due_at", "first_contact_at", "closed_at", "close_reason", "next_follow_up",
                  "open_alerts", "follow_ups_due"]


class CaseDetailSerializer(CaseSerializer):
    """One case, with its closing note (encrypted at rest; shown only when the case is opened)."""

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "close_note"]


class TierCountsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    red = serializers.IntegerField()
    orange = serializers.IntegerField()
    yellow = serializers.IntegerField()


class ContactSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    participants = serializers.ListField(child=serializers.CharField(), read_only=True)
    recorded_by = serializers.CharField(source="recorded_by.username", read_only=True)

    class Meta:
        model = Contact
        fields = ["id", "case", "kind", "at", "method", "participants", "outcome", "note", "follow_up",
                  "recorded_by", "recorded_at"]


class ContactWriteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    at = serializers.DateTimeField(help_text="When the contact took place (not in the future).")
    method = serializers.ChoiceField(choices=Contact.Method.choices)
    kind = serializers.ChoiceField(choices=Contact.Kind.choices, required=False, default=Contact.Kind.STUDENT)
    participants = serializers.ListField(child=serializers.ChoiceField(choices=Contact.Participant.choices),
                                         min_length=1, max_length=len(Contact.Participant.choices))
    outcome = serializers.ChoiceField(choices=Contact.Outcome.choices, required=False, allow_blank=True, default="",
                                      help_text="Required for a contact with the student.")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=work.MAX_NOTE,
                                 trim_whitespace=False)
    follow_up = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=MAX_ID,
                                         help_text="The planned follow-up this contact is (default: the earliest "
                                         "planned one due within two days of it).")


class FollowUpSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    contact = serializers.SerializerMethodField()

    class Meta:
        model = FollowUp
        fields = ["id", "plan", "due_on", "status", "done_at", "contact"]

    def get_contact(self, obj: FollowUp) -> int | None:
        """The contact that did this follow-up, if any."""
        contact = getattr(obj, "contact", None)  # a reverse one-to-one; missing raises an AttributeError
        return contact.pk if contact is not None else None


class PlanSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    follow_ups = FollowUpSerializer(many=True, read_only=True)

    class Meta:
        model = FollowUpPlan
        fields = ["id", "case", "tier", "created_at", "follow_ups"]


class PlanSuggestionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    tier = serializers.CharField()
    dates = serializers.ListField(child=serializers.DateField())


class PlanWriteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    dates = serializers.ListField(child=serializers.DateField(), max_length=100,
                                  help_text="The follow-up days (the suggestion, as edited), YYYY-MM-DD.")


class MoveSerializer(serializers.Serializer):  # type: ignore[type-arg]
    status = serializers.ChoiceField(choices=MOVE_STATUSES)


class CloseSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.ChoiceField(choices=Case.CloseReason.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=work.MAX_NOTE,
                                 trim_whitespace=False, help_text='Needed when the reason is "other".')


class TimelineEventSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    actor = serializers.CharField(source="actor.username", read_only=True, allow_null=True,
                                  help_text="Who did it; null for the system (timers, screenings).")
    detail = serializers.DictField(read_only=True, help_text="Ids, tiers and codes; never notes or names.")

    class Meta:
        model = CaseEvent
        fields = ["id", "kind", "kind_label", "actor", "at", "alert", "detail"]


class EscalationSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    student = serializers.CharField(source="case.student.public_id", read_only=True)
    student_name = serializers.CharField(source="case.student.name", read_only=True)
    school_class = ClassRefSerializer(source="case.student.school_class", read_only=True)
    school = serializers.IntegerField(source="case.school_id", read_only=True)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    detail = serializers.DictField(read_only=True, help_text="Whom it went to, the tier, minutes past the alert.")

    class Meta:
        model = CaseEvent
        fields = ["id", "case", "student", "student_name", "school_class", "school", "kind", "kind_label", "at",
                  "alert", "detail", "notified_at"]


# --- filters -----------------------------------------------------------------------------------------


class CaseQueueFilter(ScopedFilterSet):
    """The queue's filters. Their values go to ``selectors.case_queue``, which scopes by the access
    policy, filters and orders; the API lists cases exactly as the pages do."""

    # field_name documents the type; the selector does the filtering.
    school_class = django_filters.ModelChoiceFilter(field_name="student__school_class", queryset=SchoolClass.objects.all(),
                                                    label=_("class"))
    tier = django_filters.ChoiceFilter(choices=Case._meta.get_field("tier").choices, label=_("tier"))
    status = django_filters.ChoiceFilter(choices=Case.Status.choices, label=_("status"))
    overdue = django_filters.BooleanFilter(label=_("first contact or a follow-up overdue"))
    campaign = django_filters.ModelChoiceFilter(field_name="flags__submission__assignment__campaign",
                                                queryset=Campaign.objects.all(), label=_("flagged in campaign"))
    include_closed = django_filters.BooleanFilter(label=_("closed cases too"))

    class Meta:
        model = Case
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Case]) -> QuerySet[Case]:
        # The selector builds the queue from the user's visible cases itself (the same rule as
        # ``queryset``); it, not the filterset, owns what "overdue" and "open" mean.
        data = self.form.cleaned_data
        school_class, campaign = data.get("school_class"), data.get("campaign")
        return selectors.case_queue(
            user=self.request.user, school_class=school_class.pk if school_class else None,
            tier=data.get("tier") or None, status=data.get("status") or None, overdue=bool(data.get("overdue")),
            campaign=campaign.pk if campaign else None, include_closed=bool(data.get("include_closed")),
        )


class EscalationFilter(ScopedFilterSet):
    kind = django_filters.ChoiceFilter(choices=ESCALATION_KINDS, label=_("kind"))
    case = django_filters.ModelChoiceFilter(queryset=Case.objects.all(), label=_("case"))

    class Meta:
        model = CaseEvent
        fields: list[str] = []


# --- cases -------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(responses={200: CaseSerializer(many=True), **PAGE_ERRORS},
                       description="The cases on the students you cover: red first, then by the time left "
                       "(to the first contact while one is due, else to the next follow-up). Open cases only "
                       "unless include_closed or status=closed."),
    retrieve=extend_schema(responses={200: CaseDetailSerializer, **errors(401, 403, 404)}),
)
class CaseViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Cases on the students you cover (counsellors and heads of centre), and what you do on them."""

    queryset = Case.objects.select_related("student__school_class", "school")
    serializer_class = CaseSerializer
    permission_classes = [IsStaff, WorksCases]
    filterset_class = CaseQueueFilter
    audit_reads = True

    def get_queryset(self) -> QuerySet[Case]:
        if self.action == "retrieve":
            return self._annotated()
        return super().get_queryset()

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # Only the list is the queue; a case opened by id is found whatever its status.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def get_serializer_class(self) -> type[BaseSerializer]:  # type: ignore[type-arg]
        return CaseDetailSerializer if self.action == "retrieve" else CaseSerializer

    def _annotated(self) -> QuerySet[Case]:
        """The user's cases, open or closed, with the queue's annotations (next follow-up, alerts)."""
        return selectors.case_queue(user=self.request.user, include_closed=True)

    def _detail(self, case: Case) -> Response:
        return Response(CaseDetailSerializer(self._annotated().get(pk=case.pk)).data)

    @extend_schema(responses={200: TierCountsSerializer, **errors(401, 403)},
                   description="Open cases per tier among the students you cover (shown above the queue).")
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def counts(self, request: Request) -> Response:
        return Response(TierCountsSerializer(selectors.tier_counts(user=request.user)).data)

    @extend_schema(methods=["get"], responses={200: ContactSerializer(many=True), **errors(401, 403, 404)},
                   description="The case's contacts, newest first, with their notes.")
    @extend_schema(methods=["post"], request=ContactWriteSerializer, parameters=[IDEMPOTENCY_KEY],
                   responses={201: ContactSerializer, 200: ContactSerializer, **errors(400, 401, 403, 404, 409)},
                   description="Record a contact with the student, or guardian communication. A contact that "
                   "reached the student meets the first-contact limits before it and counts as a planned "
                   "follow-up near its day.")
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=None)
    def contacts(self, request: Request, pk: str | None = None) -> Response:
        case = self.get_object()
        if request.method == "GET":
            self.audit_read([case], Action.READ)
            return Response(ContactSerializer(selectors.case_contacts(user=request.user, case=case), many=True).data)
        body = ContactWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = _request_key(request)
        replayed = bool(key) and case.contacts.filter(request_key=key).exists()
        contact = work.contact_record(actor=request.user, case=case.pk, request_key=key, **body.validated_data)
        return _recorded(ContactSerializer(contact).data, replayed)

    @extend_schema(responses={200: FollowUpSerializer(many=True), **errors(401, 403, 404)},
                   description="The case's follow-ups, every plan's, by day.")
    @action(detail=True, methods=["get"], url_path="follow-ups", filter_backends=[], pagination_class=None)
    def follow_ups(self, request: Request, pk: str | None = None) -> Response:
        case = self.get_object()
        self.audit_read([case], Action.READ)
        rows = selectors.case_follow_ups(user=request.user, case=case).select_related("contact")
        return Response(FollowUpSerializer(rows, many=True).data)

    @extend_schema(methods=["get"], responses={200: PlanSuggestionSerializer, **errors(401, 403, 404)},
                   description="The follow-up days the school's policy suggests for the case's tier, from today.")
    @extend_schema(methods=["post"], request=PlanWriteSerializer, parameters=[IDEMPOTENCY_KEY],
                   responses={201: PlanSerializer, 200: PlanSerializer, **errors(400, 401, 403, 404, 409)},
                   description="Plan follow-ups on these days. Follow-ups of an earlier plan still to come are "
                   "cancelled; a case in contact moves to monitoring.")
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=None)
    def plan(self, request: Request, pk: str | None = None) -> Response:
        case = self.get_object()
        if request.method == "GET":
            self.audit_read([case], Action.READ)
            return Response(PlanSuggestionSerializer({"tier": case.tier, "dates": work.follow_up_suggest(case=case)}).data)
        body = PlanWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = _request_key(request)
        replayed = bool(key) and case.plans.filter(request_key=key).exists()
        plan = work.follow_up_plan_create(actor=request.user, case=case.pk, dates=body.validated_data["dates"],
                                          request_key=key)
        return _recorded(PlanSerializer(plan).data, replayed)

    @extend_schema(request=MoveSerializer, responses={200: CaseDetailSerializer, **errors(400, 401, 403, 404, 409)},
                   description="Move an open case between in contact and monitoring (a contact with the "
                   "student comes first).")
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def move(self, request: Request, pk: str | None = None) -> Response:
        case = self.get_object()
        body = MoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._detail(work.case_move(actor=request.user, case=case.pk, status=body.validated_data["status"]))

    @extend_schema(request=CloseSerializer, responses={200: CaseDetailSerializer, **errors(400, 401, 403, 404, 409)},
                   description="Close the case with a reason (a note too when it is \"other\"). Its red alerts "
                   "must be acknowledged first; planned follow-ups are cancelled. Closing again changes nothing.")
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def close(self, request: Request, pk: str | None = None) -> Response:
        case = self.get_object()
        body = CloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._detail(work.case_close(actor=request.user, case=case.pk, **body.validated_data))

    @extend_schema(responses={200: TimelineEventSerializer(many=True), **errors(401, 403, 404)},
                   description="Every step on the case, oldest first: flags, alerts, contacts, plans, escalations.")
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def timeline(self, request: Request, pk: str | None = None) -> Response:
        case = self.get_object()
        self.audit_read([case], Action.READ)
        items = selectors.case_timeline(user=request.user, case=case)
        events = [item["event"] for item in items if item["type"] == "event"]
        return Response(TimelineEventSerializer(events, many=True).data)


# --- escalations -------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(responses={200: EscalationSerializer(many=True), **PAGE_ERRORS}),
    retrieve=extend_schema(responses={200: EscalationSerializer, **errors(401, 403, 404)}),
)
class EscalationViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Escalations on the cases you see, newest first: red alerts not acknowledged in time (to the head
    of centre, then the partner hospital) and first contacts overdue."""

    queryset = CaseEvent.objects.all()
    serializer_class = EscalationSerializer
    permission_classes = [IsStaff]
    filterset_class = EscalationFilter
    audit_reads = True

    def get_queryset(self) -> QuerySet[CaseEvent]:
        return selectors.escalation_list(user=self.request.user)

    def audit_read(self, rows: list[Any], action: str) -> None:
        super().audit_read([row.case for row in rows], action)  # an escalation is about its case's student
