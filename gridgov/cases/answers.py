"""A case's API answer (`CaseDetailSerializer`, and `CaseIntakeSerializer` with the duplicates) built as a
plain dict: the same keys in the same order and the same values as the serializers give, without DRF
building, copying and binding some sixty fields for every answer, which cost more CPU than the intake's
statements. The serializers stay the contract (the OpenAPI schema is read from them) and render the
nested rows a new case does not have yet (stages, escalations, applications) when a case has them;
`tests/test_answers.py` compares the two renderings on cases in every state, for every kind of viewer and in
both languages."""

from __future__ import annotations

from rest_framework import serializers

from gridgov.cases.grants import actions_for, owner_shown
from gridgov.cases.models import Case, CaseRequest
from gridgov.cases.serializers import (
    CaseRequestSerializer,
    CaseStageSerializer,
    EscalationSerializer,
    assignee_data,
    attachment_url,
    user_data,
)

_DATETIME = serializers.DateTimeField()  # keeps no state of a call: the format and the current time zone


def _at(value):
    return _DATETIME.to_representation(value) if value is not None else None


def _choice(value):
    """As DRF's ChoiceField answers a model's choice: the plain value ("" stays "")."""
    return None if value is None else (str(value) if value != "" else value)


def _node(node) -> dict:
    return {"id": node.pk, "code": node.code, "name": node.name}


def _attachment(att) -> dict:
    url = attachment_url(att.case_id, att.pk)
    return {"id": att.pk, "purpose": _choice(att.purpose), "content_type": att.content_type, "size": att.size,
            "width": att.width, "height": att.height, "sha256": att.sha256, "uploaded_at": _at(att.uploaded_at),
            "url": url, "thumbnail_url": f"{url}?size=thumb"}


def case_answer(case: Case, *, user, sees_reporter: bool, sees_tracking_code: bool,
                duplicates: list[dict] | None = None) -> dict:
    """The case as `CaseDetailSerializer` answers it to `user` (with `duplicates`: as `CaseIntakeSerializer`
    does). `case` is loaded as the API's detail queryset loads it (its related rows selected or
    prefetched)."""
    matter = case.matter
    stages = case.stages.all()
    escalations = case.escalations.all()
    pending = [r for r in case.requests.all() if r.state == CaseRequest.State.PENDING]
    routing_rule = case.routing_rule
    merged_into = case.merged_into
    data = {
        "id": case.pk,
        "number": case.number,
        "state": _choice(case.state),
        "version": case.version,
        "matter": {"code": matter.code, "name": matter.name, "category": matter.category.code}
        if matter is not None else None,
        "node": _node(case.node),
        "place": case.place,
        "channel": _choice(case.channel),
        "report_level": _choice(case.report_level),
        "handling_mode": _choice(case.handling_mode),
        "assignee": assignee_data(case),
        "sla_status": _choice(case.sla_status),
        "due_at": _at(case.due_at),
        "reported_at": _at(case.reported_at),
        "closed_at": _at(case.closed_at),
    }
    if sees_tracking_code:
        data["tracking_code"] = case.tracking_code
    data.update({
        "lon": case.lon if case.lon is None else float(case.lon),
        "lat": case.lat if case.lat is None else float(case.lat),
        "description": case.description,
        "external_ref": case.external_ref,
        "attributes": case.attributes,
        "owner": user_data(case.owner) if owner_shown(case, sees=sees_reporter) else None,
        "routing_rule": routing_rule.name if routing_rule is not None else None,
        "predicted_at": _at(case.predicted_at),
        "parked_at": _at(case.parked_at),
        "escalation_depth": case.escalation_depth,
        "merged_into": {"id": merged_into.pk, "number": merged_into.number} if merged_into is not None else None,
        "rework_count": case.rework_count,
        "satisfaction": case.satisfaction,
        "registered_at": _at(case.registered_at),
        "dispatched_at": _at(case.dispatched_at),
        "reported_back_at": _at(case.reported_back_at),
        "stages": CaseStageSerializer(stages, many=True).data if stages else [],
        "escalations": EscalationSerializer(escalations, many=True).data if escalations else [],
        "pending_requests": CaseRequestSerializer(pending, many=True).data if pending else [],
        "attachments": [_attachment(a) for a in case.attachments.all()],
        "actions": actions_for(user, case),
    })
    if sees_reporter:
        data["reporter"] = {"user": case.reporter.get_username() if case.reporter_id else None,
                            "phone": case.reporter_phone_masked, "anonymous": bool(case.anonymous)}
    if duplicates is not None:
        data["duplicates"] = duplicates
    return data
