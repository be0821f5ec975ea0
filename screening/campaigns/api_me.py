"""The student's own API (``/api/v1/me/assignments/``): what a phone or WeChat client needs.

List my assignments; read the consent text and agree; get the questionnaire in a language; save a
draft; submit with an ``Idempotency-Key`` header (the same key and body give the same response, the
same key with another body 409); read my results where the campaign shares them. A student sees
only their own assignments: any other id is 404, as for one that does not exist.
"""

from __future__ import annotations

import json

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from backend.api import ErrorSerializer, ScopedViewSet
from screening.campaigns import questionnaire as qn
from screening.campaigns import rules, selectors
from screening.campaigns.feedback import student_feedback
from screening.campaigns.models import Assignment, ConsentRecord
from screening.campaigns.services import answering, consent
from screening.core.audit import audit_refused
from screening.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from screening.core.permissions import IsStudent

E = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input, with field messages."),
    401: OpenApiResponse(ErrorSerializer, description="Not signed in."),
    403: OpenApiResponse(ErrorSerializer, description="Not a student, or the campaign does not share results."),
    404: OpenApiResponse(ErrorSerializer, description="Not one of your assignments."),
    409: OpenApiResponse(ErrorSerializer, description="You may not answer now (the code says why), or the "
                         "Idempotency-Key was used with a different body."),
}
LANG = OpenApiParameter("lang", str, enum=["zh-hans", "en"], required=False,
                        description="Language of the text (default: the request's language).")


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {c: E[c] for c in codes}


def _lang(request: Request) -> str:
    asked = request.query_params.get("lang") or getattr(request, "LANGUAGE_CODE", "") or "zh-hans"
    return "en" if asked.lower().startswith("en") else "zh-hans"


class MyAssignmentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    campaign_name = serializers.CharField(source="campaign.name")
    opens_at = serializers.DateTimeField(source="campaign.opens_at")
    closes_at = serializers.DateTimeField(source="campaign.closes_at")
    blocker = serializers.SerializerMethodField(help_text="Why you cannot answer now (null when you can).")
    needs_own_consent = serializers.SerializerMethodField()
    results_available = serializers.SerializerMethodField()
    asks_research_use = serializers.BooleanField(source="campaign.asks_research_use")
    research_consent = serializers.SerializerMethodField(
        help_text="Your latest answer to the separate, optional research question (granted / refused / "
        "withdrawn), or null when not answered or not asked.",
    )

    class Meta:
        model = Assignment
        fields = ["id", "campaign_name", "opens_at", "closes_at", "status", "guardian", "student_consent",
                  "blocker", "needs_own_consent", "results_available", "asks_research_use", "research_consent",
                  "draft_saved_at", "submitted_at"]

    def get_blocker(self, obj: Assignment) -> str | None:
        blocker = rules.answer_blocker(obj)
        return blocker.value if blocker else None

    def get_needs_own_consent(self, obj: Assignment) -> bool:
        return rules.may_give_own_consent(obj) is None and obj.student_consent != Assignment.StudentConsent.GRANTED

    def get_results_available(self, obj: Assignment) -> bool:
        return obj.status == Assignment.Status.SUBMITTED and bool(obj.campaign.students_see_results)

    def get_research_consent(self, obj: Assignment) -> str | None:
        if not obj.campaign.asks_research_use:
            return None
        return consent.research_decision(obj, ConsentRecord.Party.STUDENT)


class ResearchTextSerializer(serializers.Serializer):  # type: ignore[type-arg]
    version = serializers.CharField()
    sha256 = serializers.CharField(help_text="Send it back as research_sha256 with a yes to research use.")
    html = serializers.CharField()


class ConsentTextSerializer(serializers.Serializer):  # type: ignore[type-arg]
    version = serializers.CharField()
    language = serializers.CharField()
    sha256 = serializers.CharField(help_text="Send it back with your answer: it records which text you read.")
    html = serializers.CharField()
    research = ResearchTextSerializer(allow_null=True, required=False,
                                      help_text="The separate, optional research question, where the campaign asks it.")


class ConsentAnswerSerializer(serializers.Serializer):  # type: ignore[type-arg]
    agree = serializers.BooleanField()
    text_sha256 = serializers.CharField(max_length=64, required=False, allow_blank=True)
    research = serializers.BooleanField(
        required=False, allow_null=True,
        help_text="Your answer to the separate research question (leave out when it was not shown). With agree "
        "true it may be sent again later, also after submitting: false then withdraws an earlier yes.",
    )
    research_sha256 = serializers.CharField(max_length=64, required=False, allow_blank=True)


class AnswersSerializer(serializers.Serializer):  # type: ignore[type-arg]
    answers = serializers.DictField(
        child=serializers.DictField(child=serializers.JSONField(allow_null=True)),
        help_text='{"phq9": {"1": 2, "2": 0}, "asq": {"1": true}}: the printed option values; null clears a draft answer.',
    )


class DraftSerializer(serializers.Serializer):  # type: ignore[type-arg]
    answers = serializers.DictField(child=serializers.DictField(child=serializers.JSONField()))
    saved_at = serializers.DateTimeField(allow_null=True)
    plan = serializers.ListField(child=serializers.CharField(), help_text="The questionnaires of this sitting, in order.")


class CrisisLineSerializer(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field, not Field.label
    phone = serializers.CharField()


class CrisisSerializer(serializers.Serializer):  # type: ignore[type-arg]
    resources = CrisisLineSerializer(many=True)


class SubmitResponseSerializer(serializers.Serializer):  # type: ignore[type-arg]
    assignment = serializers.IntegerField()
    status = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    crisis = CrisisSerializer(allow_null=True, help_text="Present when the answers call for help now: show it at once.")
    results_available = serializers.BooleanField()


class QuestionnaireSerializer(serializers.Serializer):  # type: ignore[type-arg]
    language = serializers.CharField()
    instruments = serializers.ListField(child=serializers.DictField())


class FeedbackSerializer(serializers.Serializer):  # type: ignore[type-arg]
    summary = serializers.CharField()
    instruments = serializers.ListField(child=serializers.DictField())
    talk = serializers.CharField()


@extend_schema_view(
    list=extend_schema(responses={200: MyAssignmentSerializer(many=True), **_errors(401, 403, 404)}),
    retrieve=extend_schema(responses={200: MyAssignmentSerializer, **_errors(401, 403, 404)}),
)
class MyAssignmentViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The signed-in student's own assignments."""

    queryset = Assignment.objects.all()
    serializer_class = MyAssignmentSerializer
    permission_classes = [IsStudent]
    audit_reads = True

    def get_queryset(self) -> QuerySet[Assignment]:
        return selectors.my_assignments(user=self.request.user)

    @extend_schema(methods=["get"], parameters=[LANG], request=None,
                   responses={200: ConsentTextSerializer, **_errors(401, 403, 404)},
                   description="The consent text to show on the first page.")
    @extend_schema(methods=["post"], parameters=[LANG], request=ConsentAnswerSerializer,
                   responses={200: MyAssignmentSerializer, **_errors(400, 401, 403, 404, 409)},
                   description="Agree (or decline) to take part. Send the sha256 of the text you showed. "
                   "Declining after agreeing withdraws consent. Where the campaign asks it, answer the separate, "
                   "optional research question in `research` (its own text and sha256 come with the GET).")
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=None)
    def consent(self, request: Request, pk: str | None = None) -> Response:
        assignment = self.get_object()
        lang = _lang(request)
        if request.method == "GET":
            text = consent.consent_text(party="student", assignment=assignment, language=lang)
            research = None
            if assignment.campaign.asks_research_use:
                asked = consent.research_text(party="student", assignment=assignment, language=lang)
                research = {"version": asked.version, "sha256": asked.sha256, "html": asked.html}
            return Response({"version": text.version, "language": lang, "sha256": text.sha256, "html": text.html,
                             "research": research})
        body = ConsentAnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        agree, research = body.validated_data["agree"], body.validated_data.get("research")
        research_sha256 = body.validated_data.get("research_sha256", "")
        granted = assignment.student_consent == Assignment.StudentConsent.GRANTED
        if not agree and granted:
            updated = consent.student_consent_withdraw(actor=request.user, assignment=assignment, language=lang)
        elif agree and granted and research is not None and assignment.campaign.asks_research_use:
            # Only the research answer changes, which stays possible after submitting.
            updated = consent.student_research_consent(actor=request.user, assignment=assignment, agree=research,
                                                       language=lang, text_sha256=research_sha256)
        else:
            updated = consent.student_consent_give(actor=request.user, assignment=assignment, language=lang, agree=agree,
                                                   text_sha256=body.validated_data.get("text_sha256", ""),
                                                   research=research, research_sha256=research_sha256)
        return Response(MyAssignmentSerializer(updated).data)

    @extend_schema(parameters=[LANG], responses={200: QuestionnaireSerializer, **_errors(401, 403, 404, 409)},
                   description="The questionnaires of this sitting with their wording, items and options, "
                   "and the draft answers so far.")
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def questionnaire(self, request: Request, pk: str | None = None) -> Response:
        assignment = self.get_object()
        self.audit_read([assignment], "read")
        blocker = rules.answer_blocker(assignment)
        if blocker is not None:
            raise answering.refuse(blocker)
        return Response(qn.questionnaire(assignment, _lang(request)))

    @extend_schema(methods=["get"], request=None, responses={200: DraftSerializer, **_errors(401, 403, 404)})
    @extend_schema(methods=["patch"], request=AnswersSerializer, responses={200: DraftSerializer, **_errors(400, 401, 403, 404, 409)},
                   description="Merge answers into the draft; null clears an answer. Safe to repeat.")
    @action(detail=True, methods=["get", "patch"], filter_backends=[], pagination_class=None)
    def draft(self, request: Request, pk: str | None = None) -> Response:
        assignment = self.get_object()
        if request.method == "PATCH":
            body = AnswersSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            assignment = answering.assignment_draft_save(actor=request.user, assignment=assignment,
                                                         answers=body.validated_data["answers"])
        else:
            self.audit_read([assignment], "read")
        draft = assignment.draft or {}
        return Response({"answers": draft, "saved_at": assignment.draft_saved_at,
                         "plan": answering.sitting_plan(assignment.campaign, draft)})

    @extend_schema(request=AnswersSerializer,
                   parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                                                description="Any unique text per submit attempt; repeat it on retry.")],
                   responses={201: SubmitResponseSerializer, **_errors(400, 401, 403, 404, 409)},
                   description="Submit the answers once. A retry with the same key and body returns the same "
                   "response; a different body with the same key is 409.")
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def submit(self, request: Request, pk: str | None = None) -> Response:
        # No get_object here: the service finds the student's own assignment with the access
        # policy and locks it in one query (the submit is the hot path; bench/submit_throughput.py).
        if not (pk and pk.isascii() and pk.isdigit() and len(pk) <= 18):
            raise Http404
        try:
            body = AnswersSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            outcome = answering.assignment_submit(
                actor=request.user, assignment_id=int(pk), answers=body.validated_data["answers"],
                idempotency_key=request.headers.get("Idempotency-Key", ""), language=_lang(request),
            )
        except NotFound:
            audit_refused(actor=request.user, model=Assignment, pk=pk)
            raise
        except (ValidationError, InvalidInput):
            # Bad input is checked before the locked read: for an id that is not this student's,
            # answer (and log) the 404 that get_object would have given, not the 400.
            if not self.get_queryset().filter(pk=pk).exists():
                audit_refused(actor=request.user, model=Assignment, pk=pk)
                raise Http404 from None
            raise
        headers = {} if outcome.created else {"Idempotent-Replayed": "true"}
        # Keys sorted: PostgreSQL's jsonb reorders the stored copy, and a replay must be byte-identical.
        body_out = json.loads(json.dumps(outcome.submission.response, sort_keys=True))
        return Response(body_out, status=status.HTTP_201_CREATED, headers=headers)

    @extend_schema(parameters=[LANG], responses={200: FeedbackSerializer, **_errors(401, 403, 404, 409)},
                   description="Your results, worded for you, where the campaign shares them (403 where it does not).")
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def result(self, request: Request, pk: str | None = None) -> Response:
        assignment = self.get_object()
        if not assignment.campaign.students_see_results:
            raise NotAllowed(_("This screening does not share results with students."), code="results_not_shared")
        submission = getattr(assignment, "submission", None)
        if submission is None:
            raise Conflict(_("You have not submitted this questionnaire yet."), code="not_submitted")
        self.audit_read([assignment], "read")
        with override(_lang(request)):
            return Response(student_feedback(submission, _lang(request)))

