"""Synthetic base data of the seed profiles: plausible and valid rows, published sizes, idempotent loading."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter, defaultdict

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from gridgov.accounts.models import Assignment
from gridgov.people.data.names import SURNAMES
from gridgov.people.models import (
    Building,
    GroupMembership,
    House,
    Household,
    HouseholdPairing,
    LegalEntity,
    PartyMember,
    RecordHistory,
    Relation,
    Resident,
    Volunteer,
)
from gridgov.privacy.access import can_reveal
from gridgov.privacy.identifiers import id_number_clean, phone_clean, uscc_clean
from gridgov.seed.demo_people import (
    REFERENCE_DATE,
    SPECS,
    Generator,
    Leaf,
    demo_estimate,
    organisation_code,
    region_name,
)
from gridgov.seed.profiles import profile_get, profile_load, profile_unload
from gridgov.seed.profiles.base import profile_people_load
from gridgov.territory.models import Node

LOCAL = {"pinggu": {"110117", "110226"}, "haimen": {"320614", "320684"}, "licheng": {"350304"},
         "xiangyang": {"420602"}, "luohu": {"440303"}}


def leaves(profile: str, n: int, *, type_key: str = "", households: int = 0, residents: int = 0) -> list[Leaf]:
    """`n` cells without polygons, as `leaves_load` reads them, two to a party branch."""
    attributes = {"households": households} if households else {"residents": residents} if residents else {}
    return [Leaf(node_id=i, code=f"{i // 2 + 1:03d}{i + 1:03d}", name=f"第{i + 1}单元", type_key=type_key,
                 attributes=attributes, valid_from=dt.date(2021, 1, 1), geometry=None, branch_code=f"{i // 2 + 1:03d}",
                 village="白云寺村", town="黄松峪乡", seq=i + 1, parent_name="第1网格") for i in range(n)]


def generate(generator: Generator) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = defaultdict(list)
    for batch in generator.batches(max_residents=500):
        for kind, kind_rows in batch.rows.items():
            rows[kind] += kind_rows
    return rows


def age(birth: dt.date) -> int:
    on = REFERENCE_DATE
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# --------------------------------------------------------------------------- the generator alone
@pytest.mark.parametrize(("profile", "type_key", "target"), [
    ("pinggu", "concentrated", {"households": 40}),
    ("haimen", "homestead", {"households": 60}),
    ("licheng", "comprehensive", {"residents": 90}),
    ("xiangyang", "estate", {"households": 50}),
    ("luohu", "urban_village", {}),
])
def test_generated_people_are_valid_plausible_and_consistent(profile, type_key, target):
    # given cells of the profile's kind
    spec = SPECS[profile]
    cells = leaves(profile, 4, type_key=type_key, **target)
    fill = 0.03 if profile == "luohu" else 1.0
    # when
    rows = generate(Generator(spec, cells, surname_bias=profile_get(profile).surname_bias, fill=fill))
    residents = rows["residents"]
    # then every ID number is valid (check digit, region, birth date), unique, and gives the gender
    infos = [id_number_clean(r["id_number"]) for r in residents]
    assert len({i.number for i in infos}) == len(residents) > 0
    assert all(i.birth_date <= REFERENCE_DATE for i in infos)
    # names: a common surname and one or two characters
    assert all(any(r["name"].startswith(s) and 1 <= len(r["name"]) - len(s) <= 2 for s in SURNAMES)
               for r in residents)
    # sizes as published for the cells
    households = defaultdict(list)
    for r, info in zip(residents, infos, strict=True):
        households[r["household_number"]].append((r, info))
    if "households" in target:
        assert len(households) == 4 * target["households"]
    if "residents" in target:
        assert len(residents) == 4 * target["residents"]
    # each household: exactly one head; a spouse of the other gender and a similar age; children 20–35
    # years younger than the couple
    for members in households.values():
        relations = Counter(r["relation"] for r, _i in members)
        assert relations[Relation.HEAD] == 1
        assert relations[Relation.SPOUSE] <= 1
        head = next(i for r, i in members if r["relation"] == Relation.HEAD)
        parents = [head]
        for r, info in members:
            if r["relation"] == Relation.SPOUSE:
                assert info.gender != head.gender
                assert abs(age(info.birth_date) - age(head.birth_date)) <= 11
                parents.append(info)
        for r, info in members:
            if r["relation"] == Relation.CHILD:
                assert all(20 <= age(p.birth_date) - age(info.birth_date) <= 36 for p in parents)
        assert len({r["house_code"] for r, _i in members}) == 1
    # registered people carry the district's codes (or a county they moved from); migrants come from elsewhere
    migrants = [i for r, i in zip(residents, infos, strict=True) if not r["registered_here"]]
    assert all(i.number[:6] not in LOCAL[profile] for i in migrants)
    assert any(i.number[:6] in LOCAL[profile] for i in infos)
    floating = len(migrants) / len(residents)
    assert floating > 0.5 if profile == "luohu" else floating < 0.4
    # phones only in the synthetic 154 segment, none for small children
    phones = [r["phone"] for r in residents if r["phone"]]
    assert phones and all(phone_clean(p).startswith("154") for p in phones)
    assert not any(r["phone"] for r, i in zip(residents, infos, strict=True) if age(i.birth_date) < 14)
    # every row in one of the cells, houses unique, every household's house among them
    codes = {c.code for c in cells}
    houses = {h["house_code"]: h for h in rows["houses"]}
    assert len(houses) == len(rows["houses"]) and {h["cell"] for h in houses.values()} <= codes
    assert {r["house_code"] for r in residents} <= set(houses)
    assert all(houses[r["house_code"]]["occupancy"] != "VACANT" for r in residents)
    assert len({h["address"] for h in houses.values()}) == len(houses)


def test_special_groups_party_members_and_volunteers_at_plausible_rates():
    spec = SPECS["haimen"]
    rows = generate(Generator(spec, leaves("haimen", 8, type_key="homestead", households=80)))
    residents = {r["id_number"]: r for r in rows["residents"]}
    adults = [n for n in residents if age(id_number_clean(n).birth_date) >= 18]
    # about 7 % of adults are party members, in their grid's branch; in Haimen most look after 3–8 households
    members = rows["party_members"]
    assert 0.04 <= len(members) / len(adults) <= 0.11
    assert {m["branch_cell"] for m in members} <= {f"{i:03d}" for i in range(1, 5)}
    paired = [m["paired_households"].split(",") for m in members if m.get("paired_households")]
    assert len(paired) >= 0.75 * len(members) and all(3 <= len(p) <= 8 for p in paired)
    households = {r["household_number"] for r in residents.values()}
    assert all(set(p) <= households for p in paired)
    assert all(m["joined_date"] <= m["start_date"] <= REFERENCE_DATE for m in members)
    # everyone aged 80+ is in the 80+ group; members are residents; the disabled at a few per cent
    groups = Counter(m["group"] for m in rows["memberships"])
    over_80 = sum(1 for n in residents if age(id_number_clean(n).birth_date) >= 80 and residents[n]["living_here"])
    assert groups["elderly_80"] == over_80
    assert {m["id_number"] for m in rows["memberships"]} <= set(residents)
    assert 0.01 <= groups["disabled"] / len(residents) <= 0.06
    assert groups["elderly_alone"] > 0 and groups["veteran"] > 0
    assert 0.02 <= len(rows["volunteers"]) / len(residents) <= 0.1


def test_units_have_valid_credit_codes_and_licheng_dedicated_units_their_entity():
    # given Licheng's dedicated units: a whole dedicated grid (one entity) and two shops
    cells = leaves("licheng", 4, type_key="dedicated")
    for cell in cells[:2]:
        cell.parent_name, cell.attributes = "镇海中学专属网格", {"entity": "镇海中学"}
    cells[2].attributes, cells[3].attributes = {"entity": "林记五金店"}, {"entity": "林记五金店"}
    rows = generate(Generator(SPECS["licheng"], cells))["entities"]
    # then one entity for the grid (dedicated to the grid), one per shop (dedicated to its unit)
    assert [(r["cell"], r["dedicated_cell"]) for r in rows] == [
        (cells[0].code, cells[0].code[:-3]), (cells[2].code, cells[2].code), (cells[3].code, cells[3].code)]
    assert len({r["name"] for r in rows}) == 3 and rows[0]["industry"] == "教育"
    # and every code is valid, with a valid organisation code inside
    generated = generate(Generator(SPECS["luohu"], leaves("luohu", 2, type_key="industrial_commercial"), fill=0.05))
    codes = [r["credit_code"] for r in rows + generated["entities"]]
    assert len(codes) > 10 and len(set(codes)) == len(codes)
    assert all(uscc_clean(c) == c and organisation_code(c[8:16]) == c[8:17] for c in codes)
    assert organisation_code("MA2Y4X3B") == "MA2Y4X3B" + organisation_code("MA2Y4X3B")[-1]


def test_generation_is_deterministic_and_regions_are_named():
    cells = leaves("pinggu", 3, households=20)
    first, again = generate(Generator(SPECS["pinggu"], cells)), generate(Generator(SPECS["pinggu"], cells))
    assert first == again
    assert region_name("341221") == "安徽省临泉县" and region_name("440304") == "广东省福田区"


# --------------------------------------------------------------------------- loaded with the profiles
@pytest.mark.django_db
def test_pinggu_loads_its_208_households_and_loading_again_changes_nothing(django_user_model):
    # when the demo profile is loaded as `make run` does
    out, err = io.StringIO(), io.StringIO()
    call_command("load_profile", "pinggu", "--if-empty", stdout=out, stderr=err)
    # then Baiyunsi village holds its 208 households, about 600 residents, each in a micro-grid
    scheme = Node.objects.get(code="110117213202").scheme
    micro = dict(Node.objects.filter(scheme=scheme, level__key="microgrid").values_list("pk", "attributes"))
    assert Household.objects.filter(scheme=scheme).count() == 208
    assert Counter(Household.objects.values_list("node", flat=True)) == {
        pk: attributes["households"] for pk, attributes in micro.items()}
    residents = Resident.objects.filter(scheme=scheme)
    assert 520 <= residents.count() <= 720
    assert set(residents.values_list("node", flat=True)) <= set(micro)
    assert residents.filter(relation=Relation.HEAD).count() == 208
    assert residents.filter(registered_here=True).count() / residents.count() > 0.9  # almost all registered
    assert House.objects.filter(scheme=scheme).count() > 208 and LegalEntity.objects.filter(scheme=scheme).exists()
    assert PartyMember.objects.filter(resident__scheme=scheme).exists() and HouseholdPairing.objects.exists()
    assert GroupMembership.objects.filter(group__key="elderly_80").exists() and Volunteer.objects.exists()
    assert "base data" in out.getvalue() and "208 households" in out.getvalue()
    assert "base data:" in err.getvalue()  # progress, counts only
    # when loaded again (an upsert of the same rows)
    history = RecordHistory.objects.count()
    report = profile_people_load(profile_get("pinggu"))
    # then nothing changed
    assert sum(report.created.values()) == sum(report.updated.values()) == 0
    assert report.unchanged["residents"] == residents.count()
    assert RecordHistory.objects.count() == history
    # `make run` again: nothing to do
    out = io.StringIO()
    call_command("load_profile", "pinggu", "--if-empty", stdout=out, stderr=io.StringIO())
    assert "nothing to do" in out.getvalue()
    # who may reveal: the micro-grid worker in their cell, the district operator anywhere; not a volunteer
    worker = django_user_model.objects.get(username="pinggu_grid1")
    own = Resident.objects.filter(node__code="110117213202001").first()
    other = Resident.objects.exclude(node__code="110117213202001").first()
    assert can_reveal(worker, own.node) and not can_reveal(worker, other.node)
    admin = django_user_model.objects.get(username="pinggu_admin")
    assert admin.has_perm("people.reveal_personal_data") and admin.has_perm("people.change_resident")
    assert not admin.has_perm("people.erase_personal_data")
    assert worker.has_perm("people.view_resident") and not worker.has_perm("people.reveal_personal_data")
    volunteer = Assignment.objects.filter(node__scheme=scheme, role__key="volunteer").first()
    assert not volunteer.role.reveals_personal_data


@pytest.mark.django_db
def test_licheng_small_scale_residents_per_unit_and_unloading_takes_the_base_data():
    # when Licheng is loaded at 2 % with its base data
    report = profile_load(profile_get("licheng"), scale=0.02, people=True)
    scheme = report.scheme
    # then each comprehensive unit holds its published share of 镇海街道's 99,806 residents
    units = Node.objects.filter(scheme=scheme, level__key="unit", valid_to__isnull=True)
    wanted = {u.pk: u.attributes.get("residents", 0) for u in units}
    assert sum(wanted.values()) == round(99_806 * 0.02)
    got = Counter(Resident.objects.filter(scheme=scheme).values_list("node", flat=True))
    assert {pk: got.get(pk, 0) for pk in wanted} == wanted
    # dedicated units have their entity; flats are in buildings of their unit
    dedicated = units.filter(node_type__key="dedicated")
    assert set(LegalEntity.objects.filter(scheme=scheme, dedicated_node__isnull=False)
               .values_list("node", flat=True)) <= set(dedicated.values_list("pk", flat=True))
    assert LegalEntity.objects.filter(dedicated_node__isnull=False).count() >= 1
    assert Building.objects.filter(scheme=scheme).exists()
    assert report.base_data.created["residents"] == sum(wanted.values())
    assert any("base data" in line for line in report.lines())
    # when unloaded: the synthetic base data go with the territory
    profile_unload(profile_get("licheng"))
    assert not Resident.objects.exists() and not Household.objects.exists() and not House.objects.exists()
    assert not LegalEntity.objects.exists() and not RecordHistory.objects.filter(source="demo:licheng").exists()


@pytest.mark.django_db
def test_big_profiles_skip_their_base_data_unless_asked_and_fill_thins_them():
    # when Haimen is loaded small without saying anything: too many households, left out, said so
    out = io.StringIO()
    call_command("load_profile", "haimen", "--scale", "0.01", stdout=out, stderr=io.StringIO())
    scheme = Node.objects.get(code="320614000000").scheme
    assert not Resident.objects.exists()
    assert "base data not loaded" in out.getvalue() and demo_estimate(scheme) > 3000
    # when asked for, thinned to 4 % of each micro-grid's households
    out = io.StringIO()
    call_command("load_profile", "haimen", "--if-empty", "--people", "--people-fill", "0.04", stdout=out,
                 stderr=io.StringIO())
    micro = Node.objects.filter(scheme=scheme, level__key="microgrid")
    assert Household.objects.count() == sum(round(m.attributes["households"] * 0.04) for m in micro)
    regions = Counter(masked[:6] for masked in Resident.objects.values_list("id_masked", flat=True))
    assert regions.most_common(1)[0][0] == "320684"  # 海门市: registered before it became 海门区 in 2020
    # 包户: most Haimen party members look after households of their own grid
    pairings = HouseholdPairing.objects.select_related("member__branch_node", "household__node")
    assert pairings.exists()
    assert all(p.household.node.code.startswith(p.member.branch_node.code) for p in pairings)
    assert "base data" in out.getvalue()
    assert get_user_model().objects.get(username="haimen_admin").has_perm("people.reveal_personal_data")
