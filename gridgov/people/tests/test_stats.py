"""Per-cell figures: the rollup of every node equals the raw count of its subtree, whatever happened."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Q
from django.http import Http404
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov.accounts.tests.factories import make_staff
from gridgov.people import services
from gridgov.people.models import (
    Building,
    GroupMembership,
    House,
    Household,
    HouseholdPairing,
    LegalEntity,
    Occupancy,
    PartyMember,
    RecordState,
    Resident,
    SpecialGroup,
    Volunteer,
)
from gridgov.people.stats import cell_figures, cell_stats, cell_stats_children
from gridgov.people.tests.factories import credit_code, make_house, make_household, make_resident
from gridgov.territory import services as territory_services
from gridgov.territory.models import Node
from gridgov.territory.tests.factories import level, square

pytestmark = pytest.mark.django_db

ACTIVE = RecordState.ACTIVE
TODAY = dt.date.today()
LONG_AGO = dt.date(2021, 1, 1)


def current(prefix=""):
    return Q(**{f"{prefix}start_date__lte": TODAY}) & (Q(**{f"{prefix}end_date__isnull": True})
                                                       | Q(**{f"{prefix}end_date__gt": TODAY}))


def raw_counts(node: Node) -> dict:
    """The figures counted the slow, obvious way."""
    under = {"node__path__startswith": node.path}
    residents = Resident.objects.filter(state=ACTIVE, **under)
    houses = House.objects.filter(state=ACTIVE, **under)
    people = {"resident__node__path__startswith": node.path, "resident__state": ACTIVE}
    return {
        "households": Household.objects.filter(state=ACTIVE, **under).count(),
        "residents": residents.count(),
        "residents_registered": residents.filter(registered_here=True).count(),
        "residents_actual": residents.filter(living_here=True).count(),
        "houses": houses.count(),
        "houses_owner": houses.filter(occupancy=Occupancy.OWNER).count(),
        "houses_rented": houses.filter(occupancy=Occupancy.RENTED).count(),
        "houses_vacant": houses.filter(occupancy=Occupancy.VACANT).count(),
        "buildings": Building.objects.filter(state=ACTIVE, **under).count(),
        "entities": LegalEntity.objects.filter(state=ACTIVE, **under).count(),
        "party_members": PartyMember.objects.filter(current(), **people).count(),
        "paired_households": Household.objects.filter(state=ACTIVE, **under).filter(
            pk__in=HouseholdPairing.objects.filter(current()).values("household")).count(),
        "volunteers": Volunteer.objects.filter(current(), **people).count(),
        "groups": {g.key: GroupMembership.objects.filter(current(), group=g, **people).count()
                   for g in SpecialGroup.objects.order_by("order", "key")},
    }


def assert_rollups_match(scheme):
    """At every node: the figures, and those of its children in the drill-down, equal the raw counts."""
    nodes = list(Node.objects.filter(scheme=scheme))
    raw = {n.pk: raw_counts(n) for n in nodes}
    for node in nodes:
        figures, children = cell_figures(node=node)
        assert figures == raw[node.pk], node
        for child, child_figures in children:
            assert child_figures == raw[child.pk], child
    assert cell_stats(node=nodes[0]) == raw[nodes[0].pk]


@pytest.fixture
def groups(db):
    """Two of the groups the migrations install."""
    return [SpecialGroup.objects.get(key="elderly_alone"), SpecialGroup.objects.get(key="disabled")]


@pytest.fixture
def micro(tree, scheme):
    """A micro-grid under g1, so the tree has four levels of rollup."""
    return territory_services.node_create(level=level(scheme, "microgrid"), parent=tree["g1"], name="一微网格",
                                          auto_code=True, geometry=square(116.0, 40.0, 116.05, 40.05),
                                          valid_from=dt.date(2020, 1, 1))


@pytest.fixture
def populated(scheme, tree, micro, groups):
    """Records of every kind spread over g1, its micro-grid and g2."""
    building = services.building_create(scheme=scheme, code="B1", name="1号楼", node=micro)
    rented = make_house(scheme, micro, building=building, occupancy=Occupancy.RENTED)
    make_house(scheme, tree["g2"], occupancy=Occupancy.VACANT)
    owned = make_house(scheme, tree["g1"])
    household, people = make_household(scheme, micro, members=2, house=rented)
    other, others = make_household(scheme, tree["g2"], members=1)
    loner = make_resident(scheme, tree["g1"], house=owned, registered_here=False)
    commuter = make_resident(scheme, tree["g2"], living_here=False)
    services.entity_create(scheme=scheme, name="白云商店", credit_code=credit_code(), node=tree["g2"])
    services.membership_add(resident=loner, group=groups[0], start_date=LONG_AGO)
    services.membership_add(resident=people[1], group=groups[1], start_date=LONG_AGO)
    services.membership_add(resident=others[0], group=groups[1], start_date=LONG_AGO)
    member = services.party_member_register(resident=people[0], branch_node=tree["g1"], start_date=LONG_AGO)
    services.household_pair(member=member, household=other, start_date=LONG_AGO)
    services.household_pair(member=member, household=household, start_date=LONG_AGO)
    services.volunteer_register(resident=commuter, start_date=LONG_AGO)
    services.volunteer_register(resident=people[2], start_date=LONG_AGO)
    return {"household": household, "people": people, "other": other, "others": others, "loner": loner,
            "commuter": commuter, "member": member}


def test_rollups_equal_raw_counts_at_every_level(scheme, tree, populated):
    # then
    figures = cell_stats(node=tree["district"])
    assert figures["residents"] == 7 and figures["households"] == 2 and figures["houses"] == 3
    assert figures["residents_registered"] == 6 and figures["residents_actual"] == 6
    assert (figures["houses_owner"], figures["houses_rented"], figures["houses_vacant"]) == (1, 1, 1)
    assert (figures["groups"]["elderly_alone"], figures["groups"]["disabled"], figures["groups"]["veteran"]) == (1, 2, 0)
    assert (figures["party_members"], figures["paired_households"], figures["volunteers"]) == (1, 2, 2)
    assert cell_stats(node=tree["g2"])["residents"] == 3
    assert_rollups_match(scheme)


def test_rollups_follow_moves_state_changes_and_erasure(scheme, tree, micro, populated):
    # a resident moves to another cell
    services.resident_update(resident=populated["loner"], node=tree["g2"])
    assert_rollups_match(scheme)
    # a move-out and a death
    services.record_set_state(record=populated["commuter"], state=RecordState.MOVED_OUT, date=TODAY)
    services.record_set_state(record=populated["people"][1], state=RecordState.DECEASED, date=TODAY)
    assert_rollups_match(scheme)
    # a household moving out takes its members (and its pairing no longer counts)
    services.record_set_state(record=populated["other"], state=RecordState.MOVED_OUT, date=TODAY)
    assert cell_stats(node=tree["g2"])["households"] == 0
    assert_rollups_match(scheme)
    # an erasure
    officer = make_staff(tree["district"], perms=["people.erase_personal_data"])
    services.record_erase(record=populated["others"][0], actor=officer, reason="本人依法申请删除")
    assert_rollups_match(scheme)
    # an ended membership and a future one do not count
    membership = GroupMembership.objects.get(resident=populated["loner"])
    services.membership_end(membership=membership, end_date=TODAY)
    assert cell_stats(node=tree["district"])["groups"]["elderly_alone"] == 0
    assert_rollups_match(scheme)


def test_records_in_a_retired_cell_still_count_under_its_parent(scheme, tree, micro, populated):
    # given a retired micro-grid that still holds a record (written before it was retired)
    territory_services.node_retire(micro, effective_date=TODAY + dt.timedelta(days=1))
    # then the community's figures keep counting it and the drill-down lists only cells in force
    assert_rollups_match(scheme)
    children = cell_stats_children(node=tree["g1"], user=None)
    assert children == []


def test_a_user_only_gets_figures_inside_their_territory(scheme, tree, populated):
    worker = make_staff(tree["g1"])
    assert cell_stats(node=tree["g1"], user=worker)["residents"] == 4
    with pytest.raises(Http404):
        cell_stats(node=tree["g2"], user=worker)
    with pytest.raises(Http404):
        cell_stats_children(node=tree["community"], user=worker)
    assert [c for c, _f in cell_stats_children(node=tree["community"], user=make_staff(tree["community"]))] == [
        tree["g1"], tree["g2"]]


def test_figures_cost_a_fixed_number_of_queries(scheme, tree, micro, populated, django_assert_max_num_queries):
    for i in range(5):
        territory_services.node_create(level=level(scheme, "microgrid"), parent=tree["g2"], name=f"微{i}",
                                       auto_code=True, valid_from=dt.date(2020, 1, 1))
    with django_assert_max_num_queries(13):
        cell_figures(node=tree["district"])
    with django_assert_max_num_queries(13):
        cell_figures(node=tree["g2"])


OPERATIONS = st.lists(st.tuples(st.sampled_from(["resident", "household", "house", "move", "move_out", "die",
                                                 "household_out", "group", "volunteer", "erase"]),
                                st.integers(min_value=0, max_value=10**6)), min_size=1, max_size=12)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_no_sequence_of_operations_breaks_the_rollup(scheme, tree, micro, groups, operations):
    cells = [tree["g1"], tree["g2"], micro, tree["community"]]
    officer = make_staff(tree["district"], perms=["people.erase_personal_data"])
    for op, n in operations:
        cell = cells[n % len(cells)]
        residents = list(Resident.objects.filter(scheme=scheme, state=ACTIVE).order_by("pk"))
        households = list(Household.objects.filter(scheme=scheme, state=ACTIVE).order_by("pk"))
        someone = residents[n % len(residents)] if residents else None
        if op == "resident" or someone is None:
            make_resident(scheme, cell, registered_here=bool(n % 2), living_here=bool(n % 3))
        elif op == "household":
            make_household(scheme, cell, members=n % 3)
        elif op == "house":
            make_house(scheme, cell, occupancy=list(Occupancy)[n % 3])
        elif op == "move" and someone.household_id is None:
            services.resident_update(resident=someone, node=cell)
        elif op == "move_out":
            services.record_set_state(record=someone, state=RecordState.MOVED_OUT, date=TODAY)
        elif op == "die":
            services.record_set_state(record=someone, state=RecordState.DECEASED, date=TODAY)
        elif op == "household_out" and households:
            services.record_set_state(record=households[n % len(households)], state=RecordState.MOVED_OUT, date=TODAY)
        elif op == "group" and not GroupMembership.objects.filter(resident=someone, end_date__isnull=True).exists():
            services.membership_add(resident=someone, group=groups[n % 2], start_date=LONG_AGO)
        elif op == "volunteer" and not Volunteer.objects.filter(resident=someone).exists():
            services.volunteer_register(resident=someone, start_date=LONG_AGO)
        elif op == "erase" and someone.household_id is None:
            services.record_erase(record=someone, actor=officer, reason="本人依法申请删除")
    assert_rollups_match(scheme)
