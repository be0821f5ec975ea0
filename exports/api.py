"""API of export jobs (``/api/v1/exports/``): request one, poll it, download its file.

``POST`` queues a job and answers 202 at once; the job runs in the background and its status,
progress and reason (when failed) are read with ``GET /api/v1/exports/<id>/``; a done job's file is
``GET /api/v1/exports/<id>/download/`` until it expires. Jobs are their requester's alone: anyone
else's id is a 404, exactly like a missing one. What each kind takes and who may request it is in
``exports.kinds``.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from backend.api import ErrorSerializer, ScopedViewSet
from exports import selectors, services
from exports.kinds import CSV, KINDS, XLSX
from exports.models import ExportJob
from screening.core.errors import InvalidInput
from screening.core.permissions import IsStaff

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input, with field messages (parameters as "
                         "params.<name>)."),
    401: OpenApiResponse(ErrorSerializer, description="Not signed in."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not request this kind of export, or not for "
                         "this campaign, school or region."),
    404: OpenApiResponse(ErrorSerializer, description="Missing, someone else's, or (download) not done or no longer "
                         "kept (code export_expired)."),
    409: OpenApiResponse(ErrorSerializer, description="The request_key was already used for a different export "
                         "(code idempotency_key_reused)."),
}
PAGE_ERRORS = {**{k: ERRORS[k] for k in (400, 401, 403)},
               404: OpenApiResponse(ErrorSerializer, description="No such page.")}
PARAMS_HELP = (
    "By kind: campaign_report {\"campaign\": id}; kpis {\"school\": id|null, \"region\": id|null, "
    "\"since\": \"YYYY-MM-DD\", \"until\": \"YYYY-MM-DD\"} (a head of centre: their school; a bureau analyst: one "
    "of their own regions as a whole, never a school, null only when they have one, every term counted whole); "
    "bureau_aggregate {\"region\": id|null, \"school_year\": int, \"term\": \"autumn\"|\"spring\"} (one of the "
    "analyst's own regions, null only when they have one; one whole term that has started); research_extract "
    "{\"campaign\": id, \"format\": \"csv\"|\"xlsx\", \"recipient\": text, \"purpose\": text} (a campaign that "
    "asked for research use)."
)
OWN_FIELDS = ("kind", "params")  # request fields; every other field a refusal names is a parameter


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {c: ERRORS[c] for c in codes}


class ExportJobSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A job as its requester reads it."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    kind_label = serializers.SerializerMethodField()
    progress_percent = serializers.IntegerField(read_only=True, help_text="0–100; 100 when done.")
    expired = serializers.BooleanField(read_only=True, help_text="Done, but the file is no longer kept.")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = ["id", "kind", "kind_label", "params", "status", "progress_done", "progress_total", "progress_percent",
                  "error_code", "error_message", "filename", "content_type", "size", "created_at", "started_at",
                  "finished_at", "expires_at", "expired", "download_url"]
        extra_kwargs = {"error_code": {"help_text": "Why it failed, for programs (empty unless failed)."},
                        "error_message": {"help_text": "Why it failed, in the requester's language."}}

    def get_kind_label(self, obj: ExportJob) -> str:
        """The kind's name in the reader's language."""
        return str(KINDS[obj.kind].title)

    def get_download_url(self, obj: ExportJob) -> str | None:
        """Where the file is, while it is kept and its requester's access is as when it was made;
        null otherwise."""
        request = self.context.get("request")
        if not obj.downloadable or (request is not None and services.access_changed(actor=request.user, job=obj)):
            return None
        url = reverse("api:export-job-download", kwargs={"id": obj.public_id})
        return request.build_absolute_uri(url) if request is not None else url


class ExportJobRequestSerializer(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.ChoiceField(choices=ExportJob.Kind.choices)
    params = serializers.DictField(help_text=PARAMS_HELP)
    request_key = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="",
        help_text="Any unique text per request; sent again (a retry, a double click), the first job is returned.")


def _under_params(exc: InvalidInput) -> InvalidInput:
    """The service names parameters by their own names; in this API they are inside ``params``."""
    fields = {name if name in OWN_FIELDS else f"params.{name}": messages for name, messages in exc.fields.items()}
    return InvalidInput(exc.message, code=exc.code, fields=fields)


@extend_schema_view(
    list=extend_schema(responses={200: ExportJobSerializer(many=True), **PAGE_ERRORS},
                       description="Your own export jobs, newest first."),
    retrieve=extend_schema(responses={200: ExportJobSerializer, **errors(401, 403, 404)},
                           description="One of your jobs: status, progress, the reason when failed, and the download "
                           "address while its file is kept."),
)
class ExportJobViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Export jobs: campaign reports, KPI workbooks, bureau aggregates, research extracts."""

    queryset = ExportJob.objects.all()
    serializer_class = ExportJobSerializer
    permission_classes = [IsStaff]
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    filterset_fields = ["kind", "status"]

    def get_queryset(self) -> Any:
        return selectors.export_job_list(user=self.request.user)

    @extend_schema(request=ExportJobRequestSerializer, responses={202: ExportJobSerializer, **errors(400, 401, 403, 409)},
                   description="Request an export. It runs in the background: poll the job until it is done or "
                   "failed. The same request_key again returns the same job.")
    def create(self, request: Request) -> Response:
        body = ExportJobRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            job = services.export_job_request(actor=request.user, **body.validated_data)
        except InvalidInput as exc:
            raise _under_params(exc) from exc
        return Response(ExportJobSerializer(job, context=self.get_serializer_context()).data,
                        status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, XLSX): OpenApiTypes.BINARY, (200, CSV.split(";")[0]): OpenApiTypes.BINARY,
                              **errors(401, 403, 404)},
                   description="The job's file, as an attachment, while it is kept. Each download is audited.")
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def download(self, request: Request, id: str | None = None) -> FileResponse:
        job = self.get_object()
        handle = services.export_job_download(actor=request.user, job=job)
        response = FileResponse(handle, as_attachment=True, filename=job.filename, content_type=job.content_type)
        response["Cache-Control"] = "private, no-store"  # it may name students: no cache keeps a copy
        return response
