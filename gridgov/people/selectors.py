"""Reads of base data. Every list, API, page, export and rollup starts from a `*_scope` function here:
records whose cell lies in the user's territory (an out-of-scope record is a 404)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext as _

from gridgov.accounts.selectors import paths_q, user_scope_paths
from gridgov.people.models import (
    Building,
    DataJob,
    GroupMembership,
    House,
    Household,
    LegalEntity,
    PartyMember,
    Resident,
    Volunteer,
)
from gridgov.privacy import crypto
from gridgov.privacy.access import reveal_paths, seal_field
from gridgov.privacy.identifiers import PERSON, id_number_clean, phone_clean
from gridgov.territory.models import Node
from gridgov.territory.selectors import node_scope


def _by_node(qs: QuerySet, user, field: str = "node__path") -> QuerySet:
    paths = user_scope_paths(user)
    if paths is None:
        return qs
    return qs.filter(paths_q(paths, field)) if paths else qs.none()


def resident_scope(qs: QuerySet[Resident], user) -> QuerySet[Resident]:
    return _by_node(qs, user)


def household_scope(qs: QuerySet[Household], user) -> QuerySet[Household]:
    return _by_node(qs, user)


def house_scope(qs: QuerySet[House], user) -> QuerySet[House]:
    return _by_node(qs, user)


def building_scope(qs: QuerySet[Building], user) -> QuerySet[Building]:
    return _by_node(qs, user)


def entity_scope(qs: QuerySet[LegalEntity], user) -> QuerySet[LegalEntity]:
    return _by_node(qs, user)


def membership_scope(qs: QuerySet[GroupMembership], user) -> QuerySet[GroupMembership]:
    return _by_node(qs, user, "resident__node__path")


def party_member_scope(qs: QuerySet[PartyMember], user) -> QuerySet[PartyMember]:
    return _by_node(qs, user, "resident__node__path")


def volunteer_scope(qs: QuerySet[Volunteer], user) -> QuerySet[Volunteer]:
    return _by_node(qs, user, "resident__node__path")


def job_scope(qs: QuerySet[DataJob], user) -> QuerySet[DataJob]:
    """A job's files hold personal data: only its owner sees it (superusers see all, for support)."""
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    return qs if user.is_superuser else qs.filter(owner=user)


SCOPES = {
    "resident": resident_scope,
    "household": household_scope,
    "house": house_scope,
    "building": building_scope,
    "legalentity": entity_scope,
}


def record_scope(qs: QuerySet, user) -> QuerySet:
    return SCOPES[qs.model._meta.model_name](qs, user)


def scoped_record_get(*, model: type[Model], pk: int | None, user, field: str) -> Model | None:
    """The record (or cell) `pk` within `user`'s territory, None when no id is given. An unknown id and one
    outside the territory are refused alike, naming `field`: the answer never confirms that it exists."""
    if pk is None:
        return None
    scope = node_scope if model is Node else SCOPES[model._meta.model_name]
    obj = scope(model.objects.filter(pk=pk), user).first()
    if obj is None:
        raise ValidationError({field: _("unknown, or outside your territory")})
    return obj


def cell_in_scope(*, cell: Node, user, field: str = "node") -> Node:
    """`cell`, or a ValidationError naming `field` when it lies outside `user`'s territory."""
    if not node_scope(Node.objects.filter(pk=cell.pk), user).exists():
        raise ValidationError({field: _("the cell is outside your territory")})
    return cell


def resident_by_id_number(qs: QuerySet[Resident], number: str) -> QuerySet[Resident]:
    """Exact lookup by ID number through its keyed digest (the number is never compared in clear).
    Unlogged and unchecked: a search a user makes goes through `search.resident_search`, which applies
    the reveal rule, the purpose, the log and the rate."""
    cleaned = id_number_clean(number).number
    return qs.filter(id_digest=crypto.digest(cleaned, field=seal_field("resident", "id_number")))


def resident_by_phone(qs: QuerySet[Resident], phone: str) -> QuerySet[Resident]:
    cleaned = phone_clean(phone, kind=PERSON, required=True)
    return qs.filter(phone_digest=crypto.digest(cleaned, field=seal_field("resident", "phone")))


def membership_visible(qs: QuerySet[GroupMembership], user) -> QuerySet[GroupMembership]:
    """Memberships in scope, where membership of a `sensitive` group is itself personal data: those only
    in the cells where the user may reveal personal data."""
    qs = membership_scope(qs, user)
    paths = reveal_paths(user)
    if paths is None:
        return qs
    return qs.filter(Q(group__sensitive=False) | paths_q(paths, "resident__node__path"))
