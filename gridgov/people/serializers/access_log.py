"""Rows of the access log."""

from __future__ import annotations

from rest_framework import serializers

from gridgov.privacy.models import AccessLog


# -------------------------------------------------------------------------------------------- access log
class AccessLogSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AccessLog
        fields = ["id", "at", "user", "kind", "record_type", "record_id", "node", "fields", "purpose", "rows",
                  "detail", "remote_addr"]
