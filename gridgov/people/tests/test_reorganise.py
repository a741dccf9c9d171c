"""Base data follows its cell when the territory is split or merged."""

from __future__ import annotations

import datetime as dt

import pytest

from gridgov.people import services
from gridgov.people.history import record_history
from gridgov.people.models import Building, House, Household, LegalEntity, PartyMember, Resident, Volunteer
from gridgov.people.tests.factories import credit_code, make_house, make_household, make_resident
from gridgov.people.tests.test_stats import assert_rollups_match
from gridgov.territory import services as territory_services
from gridgov.territory.tests.factories import square

pytestmark = pytest.mark.django_db

ON = dt.date.today() + dt.timedelta(days=1)
SINCE = dt.date(2021, 1, 1)


def test_split_sends_records_to_the_part_holding_them_else_to_the_heir(scheme, tree):
    # given g1 (116.00–116.05 × 40.00–40.10) with records north, south and nowhere in particular
    g1 = tree["g1"]
    north_point = (116.02, 40.08)
    south_point = (116.02, 40.01)
    placed_north = make_resident(scheme, g1, lon=north_point[0], lat=north_point[1])
    south_house = make_house(scheme, g1, lon=south_point[0], lat=south_point[1])
    household, members = make_household(scheme, g1, members=1, house=south_house)
    nowhere = make_resident(scheme, g1)
    building = services.building_create(scheme=scheme, code="B9", name="9号楼", node=g1, lon=116.01, lat=40.02)
    entity = services.entity_create(scheme=scheme, name="北边厂", credit_code=credit_code(), node=g1,
                                    dedicated_node=g1, lon=116.03, lat=40.09)
    member = services.party_member_register(resident=members[0], branch_node=g1, start_date=SINCE)
    volunteer = services.volunteer_register(resident=nowhere, start_date=SINCE)
    untouched = make_resident(scheme, tree["g2"])
    # when g1 is split into a big northern part (the heir) and a small southern one
    north, south = territory_services.node_split(g1, parts=[
        {"name": "北", "geometry": square(116.0, 40.03, 116.05, 40.1)},
        {"name": "南", "geometry": square(116.0, 40.0, 116.05, 40.03)},
    ], effective_date=ON, reason="人口增长")
    # then records inside a part go there; the household and its members follow their house's place
    assert Resident.objects.get(pk=placed_north.pk).node == north
    assert House.objects.get(pk=south_house.pk).node == south
    assert Household.objects.get(pk=household.pk).node == south
    assert {r.node for r in Resident.objects.filter(household=household)} == {south}
    assert Building.objects.get(pk=building.pk).node == south
    entity = LegalEntity.objects.get(pk=entity.pk)
    assert (entity.node, entity.dedicated_node) == (north, north)
    # and what has no place at all goes to the heir, as do the party branch and the volunteer with their resident
    assert Resident.objects.get(pk=nowhere.pk).node == north
    assert PartyMember.objects.get(pk=member.pk).branch_node == north
    assert Volunteer.objects.get(pk=volunteer.pk).node == north
    assert Resident.objects.get(pk=untouched.pk).node == tree["g2"]
    assert not Resident.objects.filter(node=g1).exists() and not House.objects.filter(node=g1).exists()
    # each move is in the record's history
    last = list(record_history(Resident, nowhere.pk))[-1]
    assert (last.source, last.changed, last.version, last.snapshot["node_id"]) == ("reorganise", ["node"], 2, north.pk)
    assert Resident.objects.get(pk=nowhere.pk).version == 2
    assert_rollups_match(scheme)


def test_merge_moves_every_record_to_the_new_cell(scheme, tree):
    # given records in both grids
    household, _ = make_household(scheme, tree["g1"], members=2)
    lonely = make_resident(scheme, tree["g2"], lon=116.07, lat=40.05)
    house = make_house(scheme, tree["g2"])
    # when the two grids are merged
    merged = territory_services.node_merge([tree["g1"], tree["g2"]], name="合并网格", effective_date=ON)
    # then
    assert Household.objects.get(pk=household.pk).node == merged
    assert set(Resident.objects.values_list("node", flat=True)) == {merged.pk}
    assert House.objects.get(pk=house.pk).node == merged
    assert [h.source for h in record_history(Resident, lonely.pk)] == ["", "reorganise"]
    assert_rollups_match(scheme)
