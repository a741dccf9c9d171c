"""people_bulk_upsert: residents with their households, houses, units, memberships, party members and
volunteers; bad rows reported and skipped; re-imports change nothing; dry runs write nothing."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import signal

import pytest
from django.db import connection, transaction

from gridgov.people.bulk import ROW_KEY, people_bulk_upsert
from gridgov.people.history import record_history, snapshot
from gridgov.people.models import (
    Building,
    GroupMembership,
    House,
    Household,
    HouseholdPairing,
    LegalEntity,
    PartyMember,
    RecordHistory,
    Resident,
    Volunteer,
)
from gridgov.people.selectors import resident_by_id_number
from gridgov.people.tests.factories import credit_code, id_number, make_household, make_resident
from gridgov.privacy.access import clear_value
from gridgov.territory import services as territory_services
from gridgov.territory.tests.factories import level, make_scheme, make_tree


def _family(number: str, cell: str = "一网格", *, members: int = 2, phone: str = "13800138000") -> list[dict]:
    rows = [{"id_number": id_number(), "name": "张三", "phone": phone, "household_number": number,
             "relation": "户主", "cell": cell, "registered_here": "户籍"}]
    rows += [{"id_number": id_number(male=False), "name": f"张{i}", "household_number": number,
              "relation": "女儿" if i else "妻"} for i in range(members)]
    return rows


def _errors(report) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.reason) for e in report.rejected]


def _counts(report) -> tuple[int, int, int, int]:
    return report.created, report.updated, report.unchanged, report.rejected_rows


# --------------------------------------------------------------------------------------------- residents
def test_residents_create_households_and_a_reimport_changes_nothing(scheme, tree):
    # given two families, the second one's head placed by coordinates (east half = 二网格)
    rows = _family("0001") + _family("0002", cell="")
    rows[3].update(lon=116.07, lat=40.05)
    # when
    report = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows, source="import job #1")
    # then
    assert _counts(report) == (6, 0, 0, 0)
    assert report.created_by_type == {"resident": 6, "household": 2}
    first, second = Household.objects.get(number="0001"), Household.objects.get(number="0002")
    assert (first.node, second.node) == (tree["g1"], tree["g2"])
    head = resident_by_id_number(Resident.objects.all(), rows[0]["id_number"]).get()
    assert (head.household, head.relation, head.phone_masked, head.registered_here) == (first, "HEAD",
                                                                                        "138****8000", True)
    assert set(Resident.objects.filter(household=second).values_list("node", flat=True)) == {tree["g2"].pk}
    assert RecordHistory.objects.filter(record_type="resident", action="CREATE", source="import job #1").count() == 6
    assert RecordHistory.objects.filter(record_type="household").count() == 2
    # when the same rows come again
    history_rows = RecordHistory.objects.count()
    again = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows, source="import job #2")
    # then nothing is written
    assert _counts(again) == (0, 0, 6, 0) and not again.created_by_type
    assert RecordHistory.objects.count() == history_rows
    assert set(Resident.objects.values_list("version", flat=True)) == {1}


def test_bulk_history_rows_hold_the_same_snapshot_as_a_single_write(scheme, tree):
    # given residents with dates, a household and coordinates, imported then changed
    rows = _family("0001", members=1)
    rows[0].update(moved_in_date="2020-03-04", lon=116.07, lat=40.05, cell="")
    people_bulk_upsert(scheme=scheme, kind="residents", rows=rows)
    rows[1]["name"] = "张五"
    people_bulk_upsert(scheme=scheme, kind="residents", rows=rows)
    # then every history row holds the record as `history.snapshot` of the stored record gives it
    for resident in Resident.objects.all():
        last = record_history(resident).last()
        assert last.snapshot == snapshot(resident)
        assert last.version == resident.version
    household = Household.objects.get(number="0001")
    assert record_history(household).get().snapshot == snapshot(household)
    member = Resident.objects.get(name="张五")
    assert [(h.action, h.changed) for h in record_history(member)] == [("CREATE", []), ("UPDATE", ["name"])]
    head = Resident.objects.get(name="张三")
    assert record_history(head).get().snapshot["moved_in_date"] == "2020-03-04"


def test_a_changed_phone_updates_only_the_phone_with_a_history_row(scheme, tree):
    # given
    rows = _family("0001", members=1)
    people_bulk_upsert(scheme=scheme, kind="residents", rows=rows)
    head = resident_by_id_number(Resident.objects.all(), rows[0]["id_number"]).get()
    before = Resident.objects.values().get(pk=head.pk)
    # when
    rows[0]["phone"] = "139 0013 9000"
    report = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows, source="import job #7")
    # then
    assert _counts(report) == (0, 1, 1, 0)
    after = Resident.objects.values().get(pk=head.pk)
    differing = {k for k in before if before[k] != after[k]}
    assert differing == {"phone_sealed", "phone_digest", "phone_masked", "version", "updated_at"}
    assert after["version"] == 2 and after["phone_masked"] == "139****9000"
    last = record_history(head).last()
    assert (last.version, last.action, last.changed, last.source) == (
        2, "UPDATE", ["phone_digest", "phone_masked", "phone_sealed"], "import job #7")
    assert "13900139000" not in str(last.snapshot)


def test_a_member_listed_before_the_head_waits_for_the_head(scheme, tree):
    rows = list(reversed(_family("0009", members=3)))
    report = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows, chunk_size=2)
    assert _counts(report) == (4, 0, 0, 0)
    assert Resident.objects.filter(household__number="0009", relation="HEAD").count() == 1


@pytest.fixture
def bad_rows(scheme, tree):
    """(rows, expected errors): every rule a residents row can break, beside good rows."""
    other = make_scheme()
    other_tree = make_tree(other, origin=(120.0, 30.0))
    other_cell = territory_services.node_create(level=level(other, "microgrid"), parent=other_tree["g1"], name="微网格",
                                                auto_code=True, valid_from=dt.date(2020, 1, 1)).code
    territory_services.node_create(level=level(scheme, "grid"), parent=tree["community"], name="一网格",
                                   auto_code=True, valid_from=dt.date(2020, 1, 1))  # a second 一网格 … under the same
    household, _people = make_household(scheme, tree["g1"], number="0100")
    stored = make_resident(scheme, tree["g1"], household=household, relation="CHILD")
    number = id_number()
    wrong = id_number()
    wrong = wrong[:17] + ("0" if wrong[17] != "0" else "1")
    cell = tree["g1"].code
    rows = [
        {"id_number": number, "name": "甲", "cell": cell},                                          # 2 good
        {"id_number": wrong, "name": "乙", "cell": cell},                                           # 3
        {"id_number": id_number(), "name": "丙", "phone": "1234", "cell": cell},                    # 4
        {"id_number": id_number(), "name": "", "cell": cell},                                       # 5
        {"id_number": number, "name": "甲", "cell": cell},                                          # 6
        {"id_number": id_number(), "name": "丁", "household_number": "0200", "relation": "子",
         "cell": cell},                                                                             # 7
        {"id_number": id_number(), "name": "戊", "household_number": "0300", "relation": "户主",
         "cell": cell},                                                                             # 8 good
        {"id_number": id_number(), "name": "己", "household_number": "0300", "relation": "户主",
         "cell": cell},                                                                             # 9
        {"id_number": stored.id_masked and _clear_id(stored), "name": "李四", "household_number": "0300",
         "relation": "子"},                                                                         # 10
        {"id_number": id_number(), "name": "庚", "lon": 117.5, "lat": 40.05},                       # 11
        {"id_number": id_number(), "name": "辛", "cell": "三网格"},                                  # 12
        {"id_number": id_number(), "name": "壬", "cell": "一网格"},                                  # 13
        {"id_number": id_number(), "name": "癸", "cell": cell, "moved_in_date": "2024-13-45"},      # 14
        {"id_number": id_number(), "name": "子", "cell": other_cell},                               # 15
        {"id_number": id_number(), "name": "丑", "household_number": "0300", "relation": "妻"},     # 16 good
    ]
    expected = [
        (3, "身份证号", "the check digit (last character) of the ID card number is wrong"),
        (4, "phone", "not a phone number: a mobile has 11 digits starting with 1, a landline 0 + area code + 7 "
                     "or 8 digits"),
        (5, "name", "required: this column is empty"),
        (6, "身份证号", "repeats row 2"),
        (7, "household_number", "household 0200 has no head (relation to the head = head)"),
        (9, "relation", "household 0300 has two heads (rows 8 and 9)"),
        (10, "household_number", "already a member of household 0100; record the move-out first"),
        (11, "lon", "the point lies outside every cell"),
        (12, "cell", "unknown grid '三网格'"),
        (13, "cell", "grid name 一网格 matches 2 cells, give its code"),
        (14, "moved_in_date", "not a date (write it as YYYY-MM-DD)"),
        (15, "cell", f"grid {other_cell} belongs to another level scheme"),
    ]
    return rows, expected


def _clear_id(resident) -> str:
    from gridgov.privacy.access import clear_value

    return clear_value(resident, "id_number")


def test_every_bad_row_is_reported_and_skipped_and_good_rows_are_kept(scheme, tree, bad_rows):
    # given
    rows, expected = bad_rows
    residents_before = Resident.objects.count()
    # when
    report = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows, columns={"id_number": "身份证号"})
    # then
    assert _errors(report) == expected
    assert _counts(report) == (3, 0, 0, 12)
    assert Resident.objects.count() == residents_before + 3
    assert set(Resident.objects.filter(household__number="0300").values_list("name", "relation")) == {
        ("戊", "HEAD"), ("丑", "SPOUSE")}
    for row in rows:  # no reason repeats a personal value
        for error in report.rejected:
            assert row["id_number"] not in error.reason and (not row["name"] or row["name"] not in error.reason)


def test_dry_run_reports_what_a_real_run_does_and_writes_nothing(scheme, tree, bad_rows):
    # given
    rows, _expected = bad_rows
    tables = (Resident, Household, RecordHistory, GroupMembership)
    before = [m.objects.count() for m in tables]
    # when
    dry = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows, dry_run=True, chunk_size=4)
    # then
    assert [m.objects.count() for m in tables] == before
    real = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows, chunk_size=4)
    assert dry.as_dict() == real.as_dict()
    assert real.created == 3 and [m.objects.count() for m in tables] != before


def _import_and_read(scheme, rows, *, workers: bool, kill: bool = False) -> tuple:
    """What an import in chunks of 3 reports and stores (then undone), and the worker processes seen
    after each chunk (`kill`: killed after the first)."""
    children: list[int] = []

    def progress(_n: int) -> None:
        alive = multiprocessing.active_children()
        children.append(len(alive))
        if kill:
            for child in alive:
                os.kill(child.pid, signal.SIGKILL)
                child.join()

    with transaction.atomic():
        report = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows, chunk_size=3, workers=workers,
                                    columns={"id_number": "身份证号"}, progress=progress)
        residents = sorted(Resident.objects.filter(scheme=scheme).values_list(
            "id_digest", "id_masked", "gender", "birth_date", "name", "phone_digest", "phone_masked",
            "household__number", "relation", "node_id", "version"))
        households = sorted(Household.objects.filter(scheme=scheme).values_list("number", "node_id", "address"))
        history = sorted(RecordHistory.objects.values_list("record_type", "version", "action", "changed"))
        clear = sorted(clear_value(r, "id_number") + "/" + clear_value(r, "phone")
                       for r in Resident.objects.filter(scheme=scheme))
        transaction.set_rollback(True)
    return report.as_dict(), residents, households, history, clear, children


def test_rows_cleaned_and_sealed_in_a_worker_process_give_what_cleaning_here_gives(scheme, tree, bad_rows):
    # given every bad row (two of them need a database read to say why their cell is wrong), good
    # families and a stored resident, in chunks of 3
    rows, expected = bad_rows
    rows = rows + _family("0400", tree["g1"].code, members=3) + _family("0401", tree["g1"].code)
    # when imported with a worker process and without
    apart = _import_and_read(scheme, rows, workers=True)
    here = _import_and_read(scheme, rows, workers=False)
    # then the reports, records, history and sealed values are the same; only the first had a worker
    assert apart[:5] == here[:5]
    assert [(e["row"], e["column"], e["reason"]) for e in apart[0]["errors"]] == expected
    assert apart[0]["created"] == 3 + 4 + 3
    assert set(apart[5]) == {1} and set(here[5]) == {0}


def test_an_import_whose_worker_process_is_lost_cleans_the_rest_of_its_rows_itself(scheme, tree, bad_rows):
    # given
    rows, _expected = bad_rows
    rows = rows + _family("0400", tree["g1"].code, members=3) + _family("0401", tree["g1"].code)
    # when the worker is killed after the first chunk
    killed = _import_and_read(scheme, rows, workers=True, kill=True)
    # then the import ends as one without a worker does
    assert killed[:5] == _import_and_read(scheme, rows, workers=False)[:5]
    assert killed[5][0] == 1 and killed[5][-1] == 0


def test_groups_column_tags_residents_once(scheme, tree):
    rows = [{"id_number": id_number(), "name": "周一", "cell": "一网格", "groups": "独居老人、veteran"}]
    first = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows)
    again = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows)
    assert first.created_by_type == {"resident": 1, "membership": 2}
    assert _counts(again) == (0, 0, 1, 0)
    assert GroupMembership.objects.count() == 2


def test_moving_out_by_import_is_a_state_change(scheme, tree):
    rows = _family("0005", members=1)
    people_bulk_upsert(scheme=scheme, kind="residents", rows=rows)
    rows[1].update(state="迁出", state_date="2025/3/1")
    report = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows)
    assert _counts(report) == (0, 1, 1, 0)
    moved = resident_by_id_number(Resident.objects.all(), rows[1]["id_number"]).get()
    assert (moved.state, moved.moved_out_date) == ("MOVED_OUT", dt.date(2025, 3, 1))
    assert record_history(moved).last().action == "STATE"


def test_progress_and_row_numbers_from_the_reader(scheme, tree):
    seen = []
    rows = [{ROW_KEY: 10 + i, "id_number": id_number(), "name": "钱", "cell": "一网格"} for i in range(5)]
    rows[3]["cell"] = "nowhere"
    report = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows, progress=seen.append, chunk_size=2)
    assert seen == [2, 2, 1]
    assert _errors(report) == [(13, "cell", "unknown grid 'nowhere'")]


# ------------------------------------------------------------------------------------------ a bad chunk
def _refuse_house(code: str) -> None:
    """A real database error for one row: a trigger refusing a house code."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"CREATE TRIGGER refuse_house BEFORE INSERT ON people_house WHEN NEW.code = '{code}' "
                           "BEGIN SELECT RAISE(ABORT, 'refused'); END")
        else:
            cursor.execute("CREATE OR REPLACE FUNCTION refuse_house() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                           f"IF NEW.code = '{code}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$")
            cursor.execute("CREATE TRIGGER refuse_house BEFORE INSERT ON people_house FOR EACH ROW "
                           "EXECUTE FUNCTION refuse_house()")


def test_a_database_error_rolls_back_its_chunk_only_and_logs_nothing_personal(scheme, tree, caplog):
    # given a trigger that refuses house H3, and a bad row
    _refuse_house("H3")
    rows = [{"house_code": f"H{i}", "address": f"白云寺村{i}号", "cell": "一网格"} for i in range(1, 7)]
    rows[5]["cell"] = "nowhere"
    # when
    with caplog.at_level(logging.DEBUG):
        report = people_bulk_upsert(scheme=scheme, kind="houses", rows=rows, chunk_size=2)
    # then rows 2-3 (H1, H2) and 6 (H5) are stored, the chunk of H3 and H4 is not
    assert sorted(House.objects.values_list("code", flat=True)) == ["H1", "H2", "H5"]
    assert _counts(report) == (3, 0, 0, 3)
    reason = "not saved: the database refused the rows 4–5 together, none of them was written"
    assert _errors(report)[:2] == [(4, "", reason), (5, "", reason)]
    assert "rolled back" in caplog.text
    assert "白云寺村" not in caplog.text and "H3" not in caplog.text


def test_nothing_personal_is_logged_during_an_import_with_bad_rows(scheme, tree, bad_rows, caplog):
    rows, _expected = bad_rows
    with caplog.at_level(logging.DEBUG):
        people_bulk_upsert(scheme=scheme, kind="residents", rows=rows)
    for row in rows:
        assert row["id_number"] not in caplog.text
        assert not row["name"] or row["name"] not in caplog.text


# ---------------------------------------------------------------------------------------- houses, units
def test_houses_with_buildings(scheme, tree):
    rows = [{"house_code": "F-1-101", "address": "幸福小区1号楼101", "cell": "一网格", "building_code": "B1",
             "building_name": "1号楼", "floor": "1", "room": "101", "occupancy": "出租", "area_m2": "88.5"},
            {"house_code": "F-1-102", "address": "幸福小区1号楼102", "cell": "一网格", "building_code": "B1",
             "floor": "x", "occupancy": "别墅"}]
    report = people_bulk_upsert(scheme=scheme, kind="houses", rows=rows)
    assert _counts(report) == (1, 0, 0, 1)
    assert report.created_by_type == {"house": 1, "building": 1}
    assert [(e.row, e.column) for e in report.rejected] == [(3, "floor"), (3, "occupancy")]
    assert report.rejected[0].reason == "not a whole number"
    assert report.rejected[1].reason.startswith("unknown value; one of 自住、")
    house = House.objects.get(code="F-1-101")
    assert (house.building, house.occupancy, house.area_m2, house.floor, house.building_no) == (
        Building.objects.get(code="B1"), "RENTED", 88.5, 1, "B1")
    rows[0]["occupancy"] = "空置"
    again = people_bulk_upsert(scheme=scheme, kind="houses", rows=rows[:1])
    assert _counts(again) == (0, 1, 0, 0)
    assert record_history(house).last().changed == ["occupancy"]


def test_residents_in_a_house_live_in_its_cell(scheme, tree):
    people_bulk_upsert(scheme=scheme, kind="houses", rows=[{"house_code": "H9", "address": "东街9号",
                                                            "lon": 116.07, "lat": 40.05}])
    rows = [{"id_number": id_number(), "name": "吴", "house_code": "H9", "household_number": "0900",
             "relation": "户主"},
            {"id_number": id_number(), "name": "郑", "house_code": "H10"}]
    report = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows)
    assert _errors(report) == [(3, "house_code", "unknown house H10")]
    household = Household.objects.get(number="0900")
    assert (household.node, household.house.code, household.address) == (tree["g2"], "H9", "东街9号")


def test_entities(scheme, tree):
    code = credit_code()
    bad = code[:17] + ("0" if code[17] != "0" else "1")
    rows = [{"credit_code": code, "name": "平谷桃业公司", "phone": "010-69961234", "employees": "12",
             "dedicated_cell": tree["g2"].code},
            {"credit_code": bad, "name": "某公司", "cell": "一网格"},
            {"credit_code": code.lower(), "name": "重复", "cell": "一网格"}]
    report = people_bulk_upsert(scheme=scheme, kind="entities", rows=rows, columns={"credit_code": "统一社会信用代码"})
    assert _errors(report) == [
        (3, "统一社会信用代码", "the check character (last) of the unified social credit code is wrong"),
        (4, "统一社会信用代码", "repeats row 2")]
    entity = LegalEntity.objects.get()
    assert (entity.node, entity.dedicated_node, entity.employees, entity.phone_masked) == (
        tree["g2"], tree["g2"], 12, "010-****1234")
    assert _counts(people_bulk_upsert(scheme=scheme, kind="entities", rows=rows[:1])) == (0, 0, 1, 0)


# --------------------------------------------------------------- memberships, party members, volunteers
def test_memberships_party_members_and_volunteers(scheme, tree):
    household, (head,) = make_household(scheme, tree["g1"], number="0700")
    number = _clear_id(head)
    unknown = id_number()
    memberships = [{"id_number": number, "group": "残疾人", "残疾等级": "2", "category": "肢体",
                    "start_date": "2024-01-01"},
                   {"id_number": number, "group": "disabled", "grade": "9"},
                   {"id_number": unknown, "group": "低保对象"}]
    report = people_bulk_upsert(scheme=scheme, kind="memberships", rows=memberships)
    assert _errors(report) == [
        (3, "grade", "one of 1, 2, 3, 4"), (3, "id_number", "repeats row 2"),
        (4, "id_number", "no resident with this ID number is stored in your territory; import the residents first")]
    membership = GroupMembership.objects.get()
    assert (membership.attributes, membership.start_date) == ({"grade": "2", "category": "肢体"},
                                                              dt.date(2024, 1, 1))
    assert _counts(people_bulk_upsert(scheme=scheme, kind="memberships", rows=memberships[:1])) == (0, 0, 1, 0)

    party = [{"id_number": number, "branch_cell": "一网格", "joined_date": "1999-07-01",
              "paired_households": "0700、0800"}]
    report = people_bulk_upsert(scheme=scheme, kind="party_members", rows=party)
    assert _errors(report) == [(2, "paired_households", "no active household 0800")]
    party[0]["paired_households"] = "0700"
    report = people_bulk_upsert(scheme=scheme, kind="party_members", rows=party[:1])
    assert _counts(report) == (1, 0, 0, 0) and report.created_by_type == {"partymember": 1, "pairing": 1}
    assert PartyMember.objects.get().joined_date == dt.date(1999, 7, 1)
    assert HouseholdPairing.objects.get().household == household
    assert _counts(people_bulk_upsert(scheme=scheme, kind="party_members", rows=party[:1])) == (0, 0, 1, 0)

    volunteers = [{"id_number": number, "skills": "理发"}]
    assert _counts(people_bulk_upsert(scheme=scheme, kind="volunteers", rows=volunteers)) == (1, 0, 0, 0)
    assert Volunteer.objects.get().node == tree["g1"]
    volunteers[0]["skills"] = "理发、维修"
    assert _counts(people_bulk_upsert(scheme=scheme, kind="volunteers", rows=volunteers)) == (0, 1, 0, 0)


def test_an_import_writes_only_inside_the_importers_territory(scheme, tree):
    # given a grid worker of 一网格 (west half) and residents of both grids
    from gridgov.accounts.tests.factories import make_staff

    worker = make_staff(tree["g1"])
    stored = make_resident(scheme, tree["g2"])
    rows = _family("0101") + _family("0102", cell="二网格")
    rows.append({"id_number": id_number(), "name": "王五", "lon": 116.07, "lat": 40.05})
    # when the worker imports them, and links a group to a resident of the other grid
    report = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows, actor=worker)
    linked = people_bulk_upsert(scheme=scheme, kind="memberships", actor=worker,
                                rows=[{"id_number": clear_id(stored), "group": "veteran"}])
    # then only the family of 一网格 is stored; the others are rejected with the reason
    assert report.created_by_type == {"resident": 3, "household": 1}
    reasons = {(e.row, e.column): e.reason for e in report.rejected}
    assert reasons[(5, "cell")] == "grid 二网格 lies outside your territory"
    assert reasons[(8, "lon")] == "the point lies outside your territory"
    assert _errors(linked) == [(2, "id_number", "no resident with this ID number is stored in your territory; "
                                                "import the residents first")]
    assert not Household.objects.filter(number="0102").exists()
    # and a resident stored in the other grid cannot be pulled into the worker's grid by a file
    moved = people_bulk_upsert(scheme=scheme, kind="residents", actor=worker,
                               rows=[{"id_number": clear_id(stored), "name": "李四", "cell": "一网格"}])
    assert _errors(moved) == [(2, "id_number", "this record is stored outside your territory")]
    stored.refresh_from_db()
    assert stored.node == tree["g2"] and stored.version == 1


def clear_id(resident) -> str:
    from gridgov.privacy.access import clear_value

    return clear_value(resident, "id_number")
