"""The caller's list exports: /api/people/exports/."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from gridgov.core.api import client_address
from gridgov.people import export_jobs, exports
from gridgov.people.api.base import PeopleViewMixin
from gridgov.people.models import (
    DataJob,
    JobKind,
    JobStatus,
)
from gridgov.people.selectors import (
    job_scope,
)
from gridgov.people.serializers.exports import ExportCreateSerializer, ExportJobSerializer


@extend_schema_view(list=extend_schema(tags=["people: exports"]), retrieve=extend_schema(tags=["people: exports"]))
class ExportViewSet(PeopleViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's own list exports (XLSX or CSV): small ones are produced at once, larger ones in the
    background; the file is downloadable by its owner only."""

    queryset = DataJob.objects.all()
    serializer_class = ExportJobSerializer
    filter_backends: list = []
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        return job_scope(DataJob.objects.filter(kind=JobKind.EXPORT), self.request.user).order_by("-created_at",
                                                                                                   "-id")

    @extend_schema(request=ExportCreateSerializer, responses={201: ExportJobSerializer}, tags=["people: exports"])
    def create(self, request, *args, **kwargs):
        data = ExportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        kind = exports.EXPORT_KINDS[v["record_type"]]
        if not request.user.has_perm(f"people.view_{kind.model._meta.model_name}"):
            raise PermissionDenied(_("you do not have permission to see these records"))
        scheme = exports.export_scheme(key=v.get("scheme"), filters=v["filters"])
        job = export_jobs.export_job_create(user=request.user, scheme=scheme, record_type=v["record_type"],
                                        filters=v["filters"], fmt=v["format"], reveal=v["reveal"],
                                        purpose=v["purpose"], remote_addr=client_address(request))
        job.refresh_from_db()
        return Response(self.get_serializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, media): OpenApiTypes.BINARY for media in exports.FORMATS.values()},
                   tags=["people: exports"])
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        job = get_object_or_404(self.get_queryset(), pk=pk)
        if job.status != JobStatus.DONE or not job.result_path:
            raise Http404(_("the file is not ready yet"))
        try:
            handle = exports.export_file_open(job=job, user=request.user, remote_addr=client_address(request))
        except (FileNotFoundError, OSError):
            raise Http404(_("the file has been removed; export the list again")) from None
        response = FileResponse(handle, as_attachment=True, filename=job.file_name,
                                content_type=exports.FORMATS[job.options.get("format", "xlsx")])
        response["Cache-Control"] = "no-store, private"
        return response
