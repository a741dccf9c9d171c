"""record_update: a record changed from input naming its links by id, each resolved within the actor's territory,
as the API takes it; the version guards against a concurrent change, personal fields are sealed again."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from gridgov.accounts.tests.factories import api_client_for, make_staff
from gridgov.people import services
from gridgov.people.history import record_history
from gridgov.people.models import Building, House, LegalEntity, Resident
from gridgov.people.tests.factories import credit_code, id_number, make_house, make_household, make_resident
from gridgov.privacy.access import seal_field
from gridgov.privacy.crypto import unseal
from gridgov.territory.tests.factories import make_scheme, make_tree


def test_a_change_bumps_the_version_and_writes_history_once(scheme, tree):
    # given a resident and a worker of the community
    resident = make_resident(scheme, tree["g1"], phone="13800138000")
    actor = make_staff(tree["community"])
    # when their address and phone change
    changed = services.record_update(record_type="resident", record=resident, expected_version=1, actor=actor,
                                     source="api", values={"actual_address": "白云寺村5号", "phone": "13912345678"})
    # then the record is at version 2, the phone sealed again under its label, and one history row says so
    stored = Resident.objects.get(pk=resident.pk)
    assert set(changed) == {"actual_address", "phone_sealed", "phone_digest", "phone_masked"}
    assert stored.version == 2 and stored.phone_masked == "139****5678" and stored.updated_by == actor
    assert unseal(stored.phone_sealed, field=seal_field("resident", "phone")) == "13912345678"
    row = record_history(stored).order_by("-version").first()
    assert (row.version, row.actor, row.source, set(row.changed)) == (2, actor, "api", set(changed))
    assert "13912345678" not in str(row.snapshot)
    # and the same values again change nothing
    assert services.record_update(record_type="resident", record=stored, expected_version=2, actor=actor,
                                  source="api", values={"actual_address": "白云寺村5号", "phone": "13912345678"}) == []
    assert Resident.objects.get(pk=resident.pk).version == 2 and record_history(stored).count() == 2


def test_a_stale_version_is_a_conflict_and_changes_nothing(scheme, tree):
    # given a house someone changed since it was read at version 1
    house = make_house(scheme, tree["g1"])
    actor = make_staff(tree["community"])
    services.record_update(record_type="house", record=house, expected_version=1, actor=actor, source="api",
                           values={"room": "101"})
    # when a change is sent with version 1
    with pytest.raises(ValidationError) as caught:
        services.record_update(record_type="house", record=House.objects.get(pk=house.pk), expected_version=1,
                               actor=actor, source="api", values={"room": "202"})
    # then it is refused and the first change stands
    assert list(caught.value.message_dict) == ["version"]
    stored = House.objects.get(pk=house.pk)
    assert (stored.version, stored.room) == (2, "101")


def test_an_id_outside_the_territory_is_refused_like_an_unknown_one(scheme, tree):
    # given a resident of g1, a household in g2 and a worker of g1 only
    resident = make_resident(scheme, tree["g1"])
    household, _people = make_household(scheme, tree["g2"])
    actor = make_staff(tree["g1"])
    # when the worker moves the resident into it, and into a household that does not exist
    errors = []
    for pk in (household.pk, 10**12):
        with pytest.raises(ValidationError) as caught:
            services.record_update(record_type="resident", record=resident, expected_version=1, actor=actor,
                                   source="api", values={"household": pk, "relation": "CHILD"})
        errors.append(caught.value.message_dict)
    # then both answers are the same and the resident stays where they were
    assert errors[0] == errors[1] and list(errors[0]) == ["household"]
    assert Resident.objects.get(pk=resident.pk).household_id is None


def test_links_by_id_move_each_record_type(scheme, tree):
    # given records of g1 and a worker of the community
    actor = make_staff(tree["community"])
    household, _people = make_household(scheme, tree["g2"])
    resident = make_resident(scheme, tree["g1"])
    building = services.building_create(scheme=scheme, code="B-RU-1", name="1号楼", node=tree["g2"])
    house = make_house(scheme, tree["g1"])
    unit = services.entity_create(scheme=scheme, name="白云寺超市", credit_code=credit_code(8), node=tree["g1"])
    # when each is linked by id to a record or cell of g2
    services.record_update(record_type="resident", record=resident, expected_version=1, actor=actor, source="api",
                           values={"household": household.pk, "relation": "CHILD"})
    services.record_update(record_type="house", record=house, expected_version=1, actor=actor, source="api",
                           values={"building": building.pk, "node": tree["g2"].pk})
    services.record_update(record_type="legalentity", record=unit, expected_version=1, actor=actor, source="api",
                           values={"dedicated_node": tree["g2"].pk})
    services.record_update(record_type="building", record=building, expected_version=1, actor=actor, source="api",
                           values={"node": tree["g1"].pk})
    # then the resident follows the household into its cell, the others hold what they were given
    assert Resident.objects.filter(pk=resident.pk, household=household, node=tree["g2"]).exists()
    assert House.objects.filter(pk=house.pk, building=building, node=tree["g2"]).exists()
    assert LegalEntity.objects.filter(pk=unit.pk, dedicated_node=tree["g2"]).exists()
    assert Building.objects.filter(pk=building.pk, node=tree["g1"]).exists()


def test_a_building_of_another_scheme_is_refused(scheme, tree, django_user_model):
    # given a house and a building of another scheme, and a user who sees both
    other = make_scheme("other-ru")
    other_tree = make_tree(other, origin=(118.0, 41.0))
    building = services.building_create(scheme=other, code="B-RU-2", name="2号楼", node=other_tree["g1"])
    house = make_house(scheme, tree["g1"])
    actor = django_user_model.objects.create_superuser("root-ru", password="x-Pass-2026!")
    # when the house is put in that building
    with pytest.raises(ValidationError) as caught:
        services.record_update(record_type="house", record=house, expected_version=1, actor=actor, source="api",
                               values={"building": building.pk})
    # then the change is refused on the building
    assert list(caught.value.message_dict) == ["building"]
    assert House.objects.get(pk=house.pk).building_id is None


def test_a_cell_outside_the_territory_is_refused(scheme, tree):
    # given a unit of g1 and a worker of g1 only
    unit = services.entity_create(scheme=scheme, name="白云寺药店", credit_code=credit_code(9), node=tree["g1"])
    actor = make_staff(tree["g1"])
    # when the worker moves it to g2
    with pytest.raises(ValidationError) as caught:
        services.record_update(record_type="legalentity", record=unit, expected_version=1, actor=actor,
                               source="api", values={"node": tree["g2"].pk})
    # then it is refused and stays
    assert list(caught.value.message_dict) == ["node"]
    assert LegalEntity.objects.get(pk=unit.pk).node_id == tree["g1"].pk


def test_a_field_the_type_does_not_take_is_refused(scheme, tree):
    household, _people = make_household(scheme, tree["g1"])
    with pytest.raises(ValidationError) as caught:
        services.record_update(record_type="household", record=household, expected_version=1,
                               actor=make_staff(tree["community"]), source="api",
                               values={"number": "9999", "id_number": id_number()})
    assert set(caught.value.message_dict) <= {"number", "id_number"}


CHANGE = ["people.view_resident", "people.change_resident", "people.view_household", "people.change_household",
          "people.view_house", "people.change_house", "people.view_building", "people.change_building",
          "people.view_legalentity", "people.change_legalentity"]


def test_the_api_changes_every_record_type_through_the_service(scheme, tree):
    # given one record of each type in g1 and a worker of the community who may change them
    client = api_client_for(make_staff(tree["community"], perms=CHANGE))
    household, _people = make_household(scheme, tree["g2"])
    building = services.building_create(scheme=scheme, code="B-RU-3", name="3号楼", node=tree["g2"])
    records = {
        "residents": (make_resident(scheme, tree["g1"]), {"household": household.pk, "relation": "CHILD"}),
        "households": (make_household(scheme, tree["g1"])[0], {"node": tree["g2"].pk}),
        "houses": (make_house(scheme, tree["g1"]), {"building": building.pk}),
        "buildings": (services.building_create(scheme=scheme, code="B-RU-4", name="4号楼", node=tree["g1"]),
                      {"node": tree["g2"].pk}),
        "entities": (services.entity_create(scheme=scheme, name="白云寺茶馆", credit_code=credit_code(10),
                                            node=tree["g1"]), {"dedicated_node": tree["g2"].pk}),
    }
    for path, (record, body) in records.items():
        url = f"/api/people/{path}/{record.pk}/"
        # when it is changed from version 1, naming its links by id
        first = client.patch(url, {"version": 1, **body}, format="json")
        # then it is at version 2 with the link, and a second change from version 1 is a conflict
        assert first.status_code == 200, (path, first.json())
        answer = first.json()
        assert answer["version"] == 2
        assert all(answer[field] == value for field, value in body.items() if field != "relation"), (path, answer)
        second = client.patch(url, {"version": 1, **body}, format="json")
        assert second.status_code == 400 and list(second.json()) == ["version"], path
        assert record_history(type(record), record.pk).count() == 2
