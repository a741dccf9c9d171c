"""List exports: the job as its owner sees it, the request that starts one."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gridgov.people import exports
from gridgov.people.models import (
    DataJob,
    JobStatus,
)
from gridgov.people.serializers.fields import no_nul


# ----------------------------------------------------------------------------------------------- exports
class ExportJobSerializer(serializers.ModelSerializer):
    progress = serializers.IntegerField(read_only=True)
    format = serializers.SerializerMethodField()
    reveal = serializers.SerializerMethodField()
    filters = serializers.SerializerMethodField()
    download = serializers.SerializerMethodField()

    class Meta:
        model = DataJob
        fields = ["id", "record_type", "status", "progress", "total", "done", "format", "reveal", "filters",
                  "summary", "error", "file_name", "download", "created_at", "started_at", "finished_at"]

    def get_format(self, obj) -> str:
        return obj.options.get("format", "")

    def get_reveal(self, obj) -> bool:
        return bool(obj.options.get("reveal"))

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_filters(self, obj):
        return obj.options.get("filters", {})

    def get_download(self, obj) -> str | None:
        if obj.status != JobStatus.DONE or not obj.result_path:
            return None
        request = self.context.get("request")
        path = f"/api/people/exports/{obj.pk}/download/"
        return request.build_absolute_uri(path) if request is not None else path

class ExportCreateSerializer(serializers.Serializer):
    record_type = serializers.ChoiceField(choices=sorted(exports.EXPORT_KINDS))
    scheme = serializers.SlugField(required=False, max_length=40,
                                   help_text="level scheme key (else the scheme of the `cell` filter)")
    filters = serializers.DictField(required=False, default=dict, validators=[no_nul],
                                    help_text="the list's filters (non-personal fields only), e.g. "
                                              "{\"cell\": 12, \"state\": \"ACTIVE\"}")
    format = serializers.ChoiceField(choices=list(exports.FORMATS), default="xlsx")
    reveal = serializers.BooleanField(default=False,
                                      help_text="personal data in clear where your role may reveal it (logged "
                                                "per record)")
    purpose = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
