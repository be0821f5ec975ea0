"""API of school–hospital referral (DESIGN.md §3 steps 9–11): agreements, consents to share, and
referrals with every step on both sides.

Views parse, call one service or selector, and serialize. What a user sees is the access policy's
(``visible_to``); which steps are theirs, the permission classes and then the services
(``screening.referrals.states``). A liaison reads a referral as the hospital: the referral's own
fields and the packet the agreement lists, never the student's name, number, class or guardian.
Every read of a referral, on either side, is audited per student.

The hospital's steps serve a hospital system too: it authenticates with a liaison's API token
(``Authorization: Token <key>``) and calls ``acknowledge/``, ``accept/`` or ``decline/``.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from backend.api import ErrorSerializer, ScopedRelatedField, ScopedViewSet
from backend.filters import ScopedFilterSet
from screening.cases.api import IDEMPOTENCY_KEY, _recorded, _request_key
from screening.cases.models import Case
from screening.core.audit import Action
from screening.core.permissions import ActsForHospital, ActsForSchool, ActsOnReferrals, IsStaff
from screening.directory.models import Hospital
from screening.referrals import delivery, selectors, states
from screening.referrals.models import PACKET_FIELDS, Referral, ReferralEvent, SharingConsent
from screening.referrals.services import referrals
from screening.referrals.services.agreements import TIERS
from screening.referrals.services.referrals import MAX_TEXT

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input, with field messages."),
    401: OpenApiResponse(ErrorSerializer, description="Not signed in."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not use this, or the step is the other "
                         "side's (the school's or the hospital's)."),
    404: OpenApiResponse(ErrorSerializer, description="Missing or out of scope (the two look the same)."),
    409: OpenApiResponse(ErrorSerializer, description="The referral's state does not allow this; the code says why "
                         "(referral_state, live_referral with the live referral's id in fields.referral, "
                         "agreement_expired, case_closed)."),
}
PAGE_ERRORS = {**{k: ERRORS[k] for k in (400, 401, 403)},
               404: OpenApiResponse(ErrorSerializer, description="No such page.")}
EXPIRES_SOON_DAYS = 30
MAX_ID = 2**63 - 1
HOSPITAL_TOKEN = ("A hospital system may call this with a liaison's API token (Authorization: Token <key>); "
                  "it acts as that liaison, for that liaison's hospital.")
# Choice lists, named in settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].
AGREEMENT_TIERS = [(t, t) for t in TIERS]
PACKET_CHOICES = [(f, f) for f in PACKET_FIELDS]


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {c: ERRORS[c] for c in codes}


# --- referrals -------------------------------------------------------------------------------------


def _for_school(serializer: serializers.Serializer, referral: Referral) -> bool:  # type: ignore[type-arg]
    """Whether the requester reads this referral as the school (else as the hospital, or unknown:
    treated as the hospital, the narrower view)."""
    request = serializer.context.get("request")
    if request is None:
        return False
    return selectors.referral_side(user=request.user, referral=referral) == states.SCHOOL


class ReferralSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A referral in a list: the referral's own fields; the student by public id. The school's
    fields (the student's name, the case) are null for the hospital."""

    student = serializers.CharField(source="student.public_id", read_only=True)
    student_name = serializers.SerializerMethodField()
    case = serializers.SerializerMethodField()
    state_label = serializers.CharField(source="get_state_display", read_only=True)

    class Meta:
        model = Referral
        fields = ["id", "student", "student_name", "case", "school", "hospital", "tier", "state", "state_label",
                  "basis", "created_at", "sent_at", "acknowledge_due_at", "decide_due_at", "acknowledged_at",
                  "decided_at", "decline_reason", "appointment_at", "appointment_place", "appointment_bring", "seen",
                  "recommendation", "feedback_at", "closed_at"]

    def get_student_name(self, obj: Referral) -> str | None:
        """The student's name, for the school only (null for the hospital)."""
        return obj.student.name if _for_school(self, obj) else None

    def get_case(self, obj: Referral) -> int | None:
        """The school's case, for the school only (null for the hospital)."""
        return obj.case_id if _for_school(self, obj) else None


class ReferralDetailSerializer(ReferralSerializer):
    """The referral packet: the referral with its texts, and the student's fields the agreement lists.
    The legal basis's details (consent, emergency justification) are the school's."""

    consent = serializers.SerializerMethodField()
    emergency_justification = serializers.SerializerMethodField()
    packet = serializers.SerializerMethodField()
    next_steps = serializers.SerializerMethodField()

    class Meta(ReferralSerializer.Meta):
        fields = [*ReferralSerializer.Meta.fields, "reason", "consent", "emergency_justification", "decline_text",
                  "advice", "guardian_notice_due", "packet", "next_steps"]

    def get_consent(self, obj: Referral) -> int | None:
        """The consent to share it rests on, for the school only."""
        return obj.consent_id if _for_school(self, obj) else None

    def get_emergency_justification(self, obj: Referral) -> str | None:
        """Why it could not wait for consent, for the school only."""
        return obj.emergency_justification if _for_school(self, obj) else None

    def get_packet(self, obj: Referral) -> dict[str, Any]:
        """Exactly the fields the agreement lists (public_id, birth_year, gender, tier, reasons,
        results, school_contact): never the name, number, class or guardian."""
        return selectors.referral_packet(referral=obj)

    def get_next_steps(self, obj: Referral) -> list[str]:
        """The states the requester's side may move the referral to now."""
        request = self.context.get("request")
        if request is None:
            return []
        side = selectors.acting_side(user=request.user, referral=obj)
        return states.moves_from(obj.state, side) if side else []


class ReferralWriteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    case = ScopedRelatedField(queryset=Case.objects.all())
    hospital = ScopedRelatedField(queryset=Hospital.objects.all(),
                                  help_text="A hospital with a valid agreement covering the case's tier.")
    reason = serializers.CharField(max_length=MAX_TEXT, trim_whitespace=False)
    basis = serializers.ChoiceField(choices=Referral.Basis.choices)
    consent = ScopedRelatedField(queryset=SharingConsent.objects.all(), required=False, allow_null=True, default=None,
                                 help_text="For the consent basis: the consent to share with this hospital.")
    emergency_justification = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_TEXT,
                                                    trim_whitespace=False,
                                                    help_text="For the emergency basis: why it cannot wait.")


class NoteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_TEXT,
                                 trim_whitespace=False)


class CancelSerializer(serializers.Serializer):  # type: ignore[type-arg]
    note = serializers.CharField(max_length=MAX_TEXT, trim_whitespace=False, help_text="Why the school withdraws it.")


class DeclineSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.ChoiceField(choices=Referral.DeclineReason.choices)
    text = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_TEXT,
                                 trim_whitespace=False, help_text='Needed when the reason is "other".')


class ScheduleSerializer(serializers.Serializer):  # type: ignore[type-arg]
    at = serializers.DateTimeField(help_text="The appointment (not in the past).")
    place = serializers.CharField(max_length=200)
    bring = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class AttendanceSerializer(serializers.Serializer):  # type: ignore[type-arg]
    attended = serializers.BooleanField()
    recommendation = serializers.ChoiceField(choices=Referral.Recommendation.choices, required=False, allow_blank=True,
                                             default="", help_text="Required when the student attended.")
    advice = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_TEXT,
                                   trim_whitespace=False, help_text="The hospital's advice to the school.")


class ReferralEventSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One step on the shared timeline: from and to (``from`` is empty for the draft's creation),
    the side, who, when, the note."""

    # Built in get_fields: "from" is a Python keyword.
    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return {
            "id": serializers.IntegerField(read_only=True),
            "from": serializers.CharField(source="from_state", read_only=True),
            "to": serializers.CharField(source="to_state", read_only=True),
            "side": serializers.ChoiceField(choices=ReferralEvent.Side.choices, read_only=True),
            "actor": serializers.CharField(source="actor.username", read_only=True, allow_null=True,
                                           help_text="Who took the step; null for the system (timers)."),
            "at": serializers.DateTimeField(read_only=True),
            "note": serializers.CharField(read_only=True),
        }


class ReferralFilter(ScopedFilterSet):
    state = django_filters.ChoiceFilter(choices=Referral.State.choices, label=_("state"))
    hospital = django_filters.ModelChoiceFilter(queryset=Hospital.objects.all(), label=_("hospital"))
    case = django_filters.ModelChoiceFilter(queryset=Case.objects.all(), label=_("case"))

    class Meta:
        model = Referral
        fields: list[str] = []


STEP: dict[str, Any] = {"filter_backends": [], "pagination_class": None}


@extend_schema_view(
    list=extend_schema(responses={200: ReferralSerializer(many=True), **PAGE_ERRORS},
                       description="School staff: referrals of the students you cover. Liaisons: your hospital's "
                       "inbox (never a draft; the student by public id only)."),
    retrieve=extend_schema(responses={200: ReferralDetailSerializer, **errors(401, 403, 404)},
                           description="The referral packet. A liaison gets the referral's own fields and the "
                           "packet fields the agreement lists; the school also the student's name and the case."),
)
class ReferralViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Referrals to partner hospitals and every step on them, on both sides."""

    queryset = Referral.objects.select_related("student", "school", "hospital", "agreement", "created_by")
    serializer_class = ReferralSerializer
    permission_classes = [IsStaff]
    filterset_class = ReferralFilter
    audit_reads = True

    def get_serializer_class(self) -> type[BaseSerializer]:  # type: ignore[type-arg]
        return ReferralSerializer if self.action == "list" else ReferralDetailSerializer

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _detail(self, referral: Referral) -> Response:
        return Response(ReferralDetailSerializer(self.get_queryset().get(pk=referral.pk),
                                                 context=self.get_serializer_context()).data)

    def _step(self, request: Request, service: Any, body: type[serializers.Serializer] | None = None) -> Response:  # type: ignore[type-arg]
        """Find the referral (404 out of scope), parse the body, call the one service."""
        referral = self.get_object()
        data: dict[str, Any] = {}
        if body is not None:
            parsed = body(data=request.data)
            parsed.is_valid(raise_exception=True)
            data = dict(parsed.validated_data)
        return self._detail(service(actor=request.user, referral=referral.pk, **data))

    @extend_schema(request=ReferralWriteSerializer, parameters=[IDEMPOTENCY_KEY],
                   responses={201: ReferralDetailSerializer, 200: ReferralDetailSerializer,
                              **errors(400, 401, 403, 404, 409)},
                   description="A draft referral of the case's student to a hospital, under the school's valid "
                   "agreement covering the case's tier, on a consent to share with that hospital or the emergency "
                   "basis with a justification. One live referral per student: another is a 409 live_referral "
                   "naming the live one (fields.referral).")
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = ReferralWriteSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        key = _request_key(request)
        case = body.validated_data["case"]
        replay = bool(key) and Referral.objects.filter(case=case, request_key=key).exists()
        referral = referrals.referral_create(actor=request.user, request_key=key or "", **body.validated_data)
        return _recorded(ReferralDetailSerializer(self.get_queryset().get(pk=referral.pk),
                                                  context=self.get_serializer_context()).data, replay)

    @extend_schema(request=None, responses={200: ReferralDetailSerializer, **errors(401, 403, 404, 409)},
                   description="The school sends the draft: the hospital's time limits start. Refused once the "
                   "agreement has expired (agreement_expired).")
    @action(detail=True, methods=["post"], permission_classes=[IsStaff, ActsForSchool], **STEP)
    def send(self, request: Request, pk: str | None = None) -> Response:
        return self._step(request, referrals.referral_send)

    @extend_schema(request=CancelSerializer, responses={200: ReferralDetailSerializer, **errors(400, 401, 403, 404, 409)},
                   description="The school withdraws the referral before attendance, saying why.")
    @action(detail=True, methods=["post"], permission_classes=[IsStaff, ActsForSchool], **STEP)
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._step(request, referrals.referral_cancel, CancelSerializer)

    @extend_schema(request=NoteSerializer, responses={200: ReferralDetailSerializer, **errors(400, 401, 403, 404, 409)},
                   description="The hospital has received the referral (stops the acknowledgement timer). "
                   + HOSPITAL_TOKEN)
    @action(detail=True, methods=["post"], permission_classes=[IsStaff, ActsForHospital], **STEP)
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        return self._step(request, referrals.referral_acknowledge, NoteSerializer)

    @extend_schema(request=NoteSerializer, responses={200: ReferralDetailSerializer, **errors(400, 401, 403, 404, 409)},
                   description="The hospital takes the referral on (acknowledging it first if it had not). "
                   + HOSPITAL_TOKEN)
    @action(detail=True, methods=["post"], permission_classes=[IsStaff, ActsForHospital], **STEP)
    def accept(self, request: Request, pk: str | None = None) -> Response:
        return self._step(request, referrals.referral_accept, NoteSerializer)

    @extend_schema(request=DeclineSerializer, responses={200: ReferralDetailSerializer, **errors(400, 401, 403, 404, 409)},
                   description="The hospital declines, with a reason from the list and its own words (needed for "
                   '"other"); the student may then be referred again. ' + HOSPITAL_TOKEN)
    @action(detail=True, methods=["post"], permission_classes=[IsStaff, ActsForHospital], **STEP)
    def decline(self, request: Request, pk: str | None = None) -> Response:
        return self._step(request, referrals.referral_decline, DeclineSerializer)

    @extend_schema(request=ScheduleSerializer, responses={200: ReferralDetailSerializer, **errors(400, 401, 403, 404, 409)},
                   description="The hospital sets the appointment: when, where, what to bring (again for a new time).")
    @action(detail=True, methods=["post"], permission_classes=[IsStaff, ActsForHospital], **STEP)
    def schedule(self, request: Request, pk: str | None = None) -> Response:
        return self._step(request, referrals.referral_schedule, ScheduleSerializer)

    @extend_schema(request=AttendanceSerializer,
                   responses={200: ReferralDetailSerializer, **errors(400, 401, 403, 404, 409)},
                   description="The hospital records whether the student came and, if so, its feedback: a "
                   "recommendation and advice to the school (back on the case's timeline).")
    @action(detail=True, methods=["post"], permission_classes=[IsStaff, ActsForHospital], **STEP)
    def attendance(self, request: Request, pk: str | None = None) -> Response:
        return self._step(request, referrals.referral_attendance, AttendanceSerializer)

    @extend_schema(request=NoteSerializer, responses={200: ReferralDetailSerializer, **errors(400, 401, 403, 404, 409)},
                   description="Close the loop once attendance is recorded (either side).")
    @action(detail=True, methods=["post"], permission_classes=[IsStaff, ActsOnReferrals], **STEP)
    def close(self, request: Request, pk: str | None = None) -> Response:
        return self._step(request, referrals.referral_close, NoteSerializer)

    @extend_schema(request=None, responses={200: ReferralDetailSerializer, **errors(401, 403, 404)},
                   description="Send again the pushes to the hospital's system that delivery gave up on after 72 "
                   "hours (school side), with the same idempotency keys, in order.")
    @action(detail=True, methods=["post"], permission_classes=[IsStaff, ActsForSchool], **STEP)
    def resend(self, request: Request, pk: str | None = None) -> Response:
        referral = self.get_object()
        delivery.outbox_resend(actor=request.user, referral=referral)
        return self._detail(referral)

    @extend_schema(responses={200: ReferralEventSerializer(many=True), **errors(401, 403, 404)},
                   description="The shared timeline, oldest first: both sides read the same steps.")
    @action(detail=True, methods=["get"], **STEP)
    def events(self, request: Request, pk: str | None = None) -> Response:
        referral = self.get_object()
        self.audit_read([referral], Action.READ)
        return Response(ReferralEventSerializer(selectors.referral_events(user=request.user, referral=referral),
                                                many=True).data)

