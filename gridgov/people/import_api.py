"""REST API of spreadsheet imports: /api/people/imports/...

POST a file (multipart: scheme, record_type, file) → the job with its headers and the suggested
mapping; POST or PUT `mapping/`; POST `dry-run/`; POST `start/`; POST `restart/` (a failed or stalled
run); GET the job for its status, progress
and summary; GET `rejected/` (`?as=csv` for a CSV upload) for the rejected rows. A job is its owner's:
anyone else gets a 404."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from gridgov.core.parsers import JSONParser
from gridgov.people import import_jobs, imports
from gridgov.people.bulk import KINDS, REQUIRED
from gridgov.people.models import DataJob, JobKind
from gridgov.people.selectors import job_scope
from gridgov.territory.models import LevelScheme


class ImportJobSerializer(serializers.ModelSerializer):
    scheme = serializers.SlugRelatedField(slug_field="key", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    progress = serializers.IntegerField(read_only=True)
    unmapped = serializers.SerializerMethodField()
    fields_available = serializers.SerializerMethodField()
    rejected_url = serializers.SerializerMethodField()

    class Meta:
        model = DataJob
        fields = ["id", "record_type", "scheme", "status", "status_display", "file_name", "headers", "mapping",
                  "unmapped", "fields_available", "total", "done", "progress", "summary", "error", "created_at",
                  "started_at", "finished_at", "rejected_url"]
        read_only_fields = fields

    def get_unmapped(self, job: DataJob) -> list[str]:
        return [h for h in job.headers if h not in job.mapping]

    def get_fields_available(self, job: DataJob) -> list[dict]:
        required = REQUIRED.get(job.record_type, ())
        return [{"name": name, "label": label, "required": name in required}
                for name, label in imports.kind_field_labels(job.record_type).items()]

    def get_rejected_url(self, job: DataJob) -> str | None:
        if not job.result_path:
            return None
        return reverse("import-job-rejected", kwargs={"pk": job.pk})


class ImportUploadSerializer(serializers.Serializer):
    scheme = serializers.CharField(help_text="key of the level scheme")
    record_type = serializers.ChoiceField(choices=sorted(KINDS))
    file = serializers.FileField()


class ImportMappingSerializer(serializers.Serializer):
    mapping = serializers.DictField(child=serializers.CharField(allow_blank=True, allow_null=True),
                                    help_text="file header → field ('' or null: ignore the column)")


def _validation(exc: ValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})


class ImportJobViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Spreadsheet import jobs of the user."""

    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        return job_scope(DataJob.objects.filter(kind=JobKind.IMPORT).select_related("scheme"), self.request.user)

    def get_serializer_class(self):
        if self.action == "create":
            return ImportUploadSerializer
        if self.action == "mapping":
            return ImportMappingSerializer
        return ImportJobSerializer

    def _job(self) -> DataJob:
        job = self.get_object()
        if not imports.import_allowed(user=self.request.user, scheme=job.scheme, kind=job.record_type):
            raise Http404
        return job

    def _answer(self, job: DataJob, code: int = status.HTTP_200_OK) -> Response:
        return Response(ImportJobSerializer(job, context=self.get_serializer_context()).data, status=code)

    def create(self, request, *args, **kwargs):
        upload = ImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        scheme = LevelScheme.objects.filter(key=upload.validated_data["scheme"]).first()
        kind = upload.validated_data["record_type"]
        if scheme is None or not imports.import_allowed(user=request.user, scheme=scheme, kind=kind):
            raise PermissionDenied(_("you may not import these records into this level scheme"))
        try:
            job = imports.import_job_create(scheme=scheme, owner=request.user, record_type=kind,
                                            uploaded_file=upload.validated_data["file"])
        except ValidationError as exc:
            raise _validation(exc) from None
        return self._answer(job, status.HTTP_201_CREATED)

    @action(detail=True, methods=["post", "put"])
    def mapping(self, request, pk=None):
        job = self._job()
        body = ImportMappingSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            job = imports.import_job_map(job=job, mapping=body.validated_data["mapping"])
        except ValidationError as exc:
            raise _validation(exc) from None
        return self._answer(job)

    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request, pk=None):
        try:
            job = import_jobs.import_job_check(job=self._job())
        except ValidationError as exc:
            raise _validation(exc) from None
        return self._answer(job, status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        try:
            job = import_jobs.import_job_start(job=self._job())
        except ValidationError as exc:
            raise _validation(exc) from None
        return self._answer(job, status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["post"])
    def restart(self, request, pk=None):
        """Start a failed or stalled real run again: its chunks are idempotent upserts."""
        try:
            job = import_jobs.import_job_restart(job=self._job(), actor=request.user)
        except ValidationError as exc:
            raise _validation(exc) from None
        return self._answer(job, status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["get"])
    def rejected(self, request, pk=None):
        job = self.get_object()
        fmt = "csv" if request.query_params.get("as") == "csv" else "xlsx"
        path = imports.import_job_rejected_file(job=job, fmt=fmt)
        if path is None:
            raise Http404
        stem = job.file_name.rsplit(".", 1)[0] or "import"
        return FileResponse(path.open("rb"), as_attachment=True, filename=f"{stem}-rejected.{fmt}")
