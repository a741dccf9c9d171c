"""record_create: a record from ids, each resolved within the actor's territory, as the API takes it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from gridgov.accounts.tests.factories import make_staff
from gridgov.people import services
from gridgov.people.models import Building, House, LegalEntity
from gridgov.people.tests.factories import credit_code, id_number, make_household


def test_a_member_inherits_the_cell_of_the_household_named_by_id(scheme, tree):
    # given a household in g1 and a worker of the community
    household, _people = make_household(scheme, tree["g1"])
    actor = make_staff(tree["community"])
    # when a resident is created naming only the household
    resident = services.record_create(record_type="resident", actor=actor, source="test", values={
        "household": household.pk, "relation": "CHILD", "name": "李小明", "id_number": id_number(seq=41)})
    # then the resident lives in the household's cell and scheme
    assert (resident.node_id, resident.scheme_id, resident.household_id) == (tree["g1"].pk, scheme.pk, household.pk)


def test_an_id_outside_the_territory_is_refused_like_an_unknown_one(scheme, tree):
    # given a household in g2 and a worker of g1 only
    household, _people = make_household(scheme, tree["g2"])
    actor = make_staff(tree["g1"])
    # when the worker names it, and then an id that does not exist
    errors = []
    for pk in (household.pk, 10**12):
        with pytest.raises(ValidationError) as caught:
            services.record_create(record_type="resident", actor=actor, source="test", values={
                "household": pk, "relation": "CHILD", "name": "李小明", "id_number": id_number(seq=42)})
        errors.append(caught.value.message_dict)
    # then both answers are the same
    assert errors[0] == errors[1] and list(errors[0]) == ["household"]


def test_each_record_type_takes_its_cell_from_its_ids(scheme, tree):
    # given
    actor = make_staff(tree["community"])
    # when a building, a house in it and a unit with only its dedicated cell are created
    building = services.record_create(record_type="building", actor=actor, source="test",
                                      values={"node": tree["g2"].pk, "code": "B-RC-1"})
    house = services.record_create(record_type="house", actor=actor, source="test",
                                   values={"building": building.pk, "code": "H-RC-1", "address": "白云寺村1号"})
    unit = services.record_create(record_type="legalentity", actor=actor, source="test", values={
        "dedicated_node": tree["g1"].pk, "name": "白云寺超市", "credit_code": credit_code(7)})
    # then the house sits in its building's cell, the unit in its dedicated cell, and a cell outside the
    # actor's territory is refused
    assert Building.objects.get(pk=building.pk).node_id == tree["g2"].pk
    assert House.objects.get(pk=house.pk).node_id == tree["g2"].pk
    assert LegalEntity.objects.get(pk=unit.pk).node_id == tree["g1"].pk
    with pytest.raises(ValidationError) as caught:
        services.record_create(record_type="building", actor=make_staff(tree["g1"]), source="test",
                               values={"node": tree["g2"].pk, "code": "B-RC-2"})
    assert "node" in caught.value.message_dict
