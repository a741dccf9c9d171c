"""The catalogue as XLSX: exporting and importing gives the same catalogue back; edits load; unreadable
cells are all reported, naming sheet, row, column and reason, and nothing is written."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from openpyxl import Workbook, load_workbook

from gridgov.catalogue.models import Catalogue, Category, Matter, MatterStage
from gridgov.catalogue.services import catalogue_load, catalogue_load_default
from gridgov.catalogue.tests.factories import SMALL, make_catalogue
from gridgov.catalogue.xlsx import catalogue_export_xlsx, catalogue_import_xlsx

pytestmark = pytest.mark.django_db


def dump(key: str) -> dict:
    """Everything of a catalogue but its ids."""
    catalogue = Catalogue.objects.get(key=key)
    return {
        "categories": list(Category.objects.filter(catalogue=catalogue).order_by("code")
                           .values("code", "name_zh", "name_en", "kind")),
        "matters": list(Matter.objects.filter(catalogue=catalogue).order_by("code").values(
            "code", "category__code", "name_zh", "name_en", "report_level", "duty_tier", "department",
            "handling_mode", "registration_condition", "closing_condition", "evidence_before", "evidence_after",
            "attributes", "active")),
        "stages": list(MatterStage.objects.filter(matter__catalogue=catalogue).order_by("matter__code", "order")
                       .values("matter__code", "order", "name_zh", "name_en", "amount", "unit", "closing_condition")),
    }


def edit(body: bytes, changes: dict[tuple[int, str], object]) -> bytes:
    """The workbook with cells changed: {(sheet index, "B4"): value}."""
    book = load_workbook(io.BytesIO(body))
    for (index, ref), value in changes.items():
        book.worksheets[index][ref] = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def messages(err) -> list[str]:
    return err.value.message_dict["file"]


# --------------------------------------------------------------------------- round trip
def test_the_default_catalogue_round_trips_identically():
    # given
    catalogue_load_default()
    body = catalogue_export_xlsx(catalogue=Catalogue.objects.get(key="default"))
    # when
    report = catalogue_import_xlsx(key="copy", file=body)
    again = catalogue_import_xlsx(key="default", file=body)
    # then
    assert report.created == Matter.objects.filter(catalogue__key="default").count() == 156
    assert dump("copy") == dump("default")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 156)
    assert Catalogue.objects.get(key="default").version == 1


def test_tricky_values_round_trip():
    # given: a formula-looking name, an inactive matter, a fractional limit, line breaks, attributes
    data = {**SMALL, "matters": [dict(m) for m in SMALL["matters"]]}
    data["matters"][0] = {**data["matters"][0], "name_zh": "=暴露垃圾", "closing_condition": "清理干净\n无残留",
                          "stages": [{"name_zh": "清理", "amount": "0.5", "unit": "CLOCK_HOURS"}], "active": False}
    catalogue_load(key="t", data=data)
    body = catalogue_export_xlsx(catalogue=Catalogue.objects.get(key="t"))
    # when
    catalogue_import_xlsx(key="t2", file=body)
    # then
    assert dump("t2") == dump("t")
    rubbish = Matter.objects.get(catalogue__key="t2", code="07002")
    assert (rubbish.name_zh, rubbish.active, rubbish.stages.get().amount) == ("=暴露垃圾", False, Decimal("0.5"))
    assert Matter.objects.get(catalogue__key="t2", code="11002").attributes[0]["values"][1]["name"] == "喷涌"


def test_the_sheets_have_chinese_and_english_headers():
    make_catalogue()
    book = load_workbook(io.BytesIO(catalogue_export_xlsx(catalogue=Catalogue.objects.get(key="default"))))
    matters = book.worksheets[1]
    assert [ws.title for ws in book.worksheets] == ["类别 Categories", "事项 Matters", "阶段 Stages"]
    assert [c.value for c in matters[1]][:5] == ["编码", "类别", "名称（中文）", "名称（英文）", "上报级别"]
    assert [c.value for c in matters[2]][:5] == ["Code", "Category", "Name (Chinese)", "Name (English)",
                                                 "Report level"]
    assert [c.value for c in matters[3]][:2] == ["07002", "07"]
    stages = [[c.value for c in row] for row in book.worksheets[2].iter_rows(min_row=3)]
    assert stages[2][:6] == ["11002", 1, "围挡警示", None, 3, "CLOCK_HOURS"]


def test_an_edited_workbook_updates_what_changed_and_dry_run_writes_nothing():
    # given: the limit of the second stage of 11002 goes from 8 to 6 hours, a matter is switched off
    make_catalogue()
    body = catalogue_export_xlsx(catalogue=Catalogue.objects.get(key="default"))
    edited = edit(body, {(2, "E6"): 6, (1, "N3"): "否"})
    # when
    dry = catalogue_import_xlsx(key="default", file=edited, dry_run=True)
    # then
    assert (dry.updated, sorted(dry.codes_changed)) == (2, ["07002", "11002"])
    assert Matter.objects.get(code="07002").active
    report = catalogue_import_xlsx(key="default", file=edited)
    assert report.updated == 2
    assert [s.amount for s in Matter.objects.get(code="11002").stages.all()] == [3, 6, 5]
    assert not Matter.objects.get(code="07002").active
    assert Catalogue.objects.get(key="default").version == 2


def test_a_hand_made_workbook_with_one_header_row_and_numeric_codes_loads():
    book = Workbook()
    categories = book.active
    categories.title = "categories"
    categories.append(["code", "name_zh", "kind"])
    categories.append([7, "市容环境", "事件"])
    matters = book.create_sheet("matters")
    matters.append(["Code", "Name (Chinese)", "Duty tier", "Default handling mode"])
    matters.append([7002, "暴露垃圾", "网格员自办", "SELF"])
    stages = book.create_sheet("stages")
    stages.append(["事项", "排序", "名称（中文）", "时限", "Unit"])
    stages.append(["07002", 1, "清理", "1.5", "WORKING_DAYS"])
    out = io.BytesIO()
    book.save(out)
    # when
    catalogue_import_xlsx(key="hand", file=out.getvalue())
    # then
    rubbish = Matter.objects.get(catalogue__key="hand")
    assert (rubbish.code, rubbish.category.code, rubbish.category.kind, rubbish.duty_tier, rubbish.handling_mode) == (
        "07002", "07", "EVENT", "GRID", "SELF")
    assert rubbish.stages.get().amount == Decimal("1.5")


# --------------------------------------------------------------------------- bad files
def test_not_a_workbook_is_refused():
    with pytest.raises(ValidationError) as err:
        catalogue_import_xlsx(key="bad", file=b"code,name\n07002,x\n")
    assert "not an XLSX workbook" in messages(err)[0]


def test_a_missing_sheet_or_column_is_named():
    make_catalogue()
    book = load_workbook(io.BytesIO(catalogue_export_xlsx(catalogue=Catalogue.objects.get(key="default"))))
    book.remove(book.worksheets[2])
    book.worksheets[1]["C1"] = "说明"
    book.worksheets[1]["C2"] = "note"
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ValidationError) as err:
        catalogue_import_xlsx(key="bad", file=out.getvalue())
    assert messages(err) == ["the workbook has no sheet 阶段 Stages"]


def test_every_unreadable_cell_is_reported_with_sheet_row_and_column_and_nothing_is_written():
    # given
    make_catalogue()
    body = catalogue_export_xlsx(catalogue=Catalogue.objects.get(key="default"))
    edited = edit(body, {
        (0, "D4"): "PLANT",        # categories row 4: an unknown kind
        (1, "E3"): "HUGE",         # matters row 3: report level
        (1, "K4"): "maybe",        # matters row 4: a flag
        (1, "M5"): "[{",           # matters row 5: attributes JSON
        (1, "G6"): "",             # matters row 6 (14001 is COMMUNITY): fine
        (2, "E4"): -2,             # stages row 4: a negative limit
        (2, "F5"): "WEEKS",        # stages row 5: unit
        (2, "A7"): "99001",        # stages row 7: no such matter
    })
    before = dump("default")
    # when
    with pytest.raises(ValidationError) as err:
        catalogue_import_xlsx(key="default", file=edited)
    # then
    found = messages(err)
    assert "sheet 类别 Categories, row 4, column D (类型): unknown value 'PLANT'" in found[0]
    assert any(m.startswith("sheet 事项 Matters, row 3, column E (上报级别): unknown value 'HUGE'") for m in found)
    assert any(m.startswith("sheet 事项 Matters, row 4, column K (须上传处置前照片): TRUE or FALSE") for m in found)
    assert any(m.startswith("sheet 事项 Matters, row 5, column M (附加属性（Open311）): not valid JSON") for m in found)
    assert any(m.startswith("sheet 阶段 Stages, row 4, column E (时限): a positive number") for m in found)
    assert any(m.startswith("sheet 阶段 Stages, row 5, column F") and "unknown value 'WEEKS'" in m for m in found)
    assert len(found) == 6
    assert dump("default") == before


def test_the_loaders_rules_are_reported_on_the_row_they_break():
    # given: a department matter without its department, a matter without stages, a stage of no matter
    make_catalogue()
    body = catalogue_export_xlsx(catalogue=Catalogue.objects.get(key="default"))
    edited = edit(body, {(1, "G5"): None, (2, "A3"): "99001", (1, "A4"): "07002"})
    # when
    with pytest.raises(ValidationError) as err:
        catalogue_import_xlsx(key="new", file=edited)
    # then
    found = messages(err)
    assert "sheet 事项 Matters, row 4, column A (编码): repeats row 3" in found
    assert "sheet 阶段 Stages, row 3, column A (事项): no matter 99001 in the sheet 事项 Matters" in found
    assert any(m.startswith("sheet 事项 Matters, row 3, column A (编码): the matter has no stages") for m in found)
    assert "sheet 事项 Matters, row 5, column G (责任部门): a department matter names its department" in found
    assert not Catalogue.objects.filter(key="new").exists()


# --------------------------------------------------------------------------- the command
def test_the_command_exports_and_imports(tmp_path):
    make_catalogue()
    path = tmp_path / "catalogue.xlsx"
    out = io.StringIO()
    call_command("catalogue_xlsx", "export", "default", str(path), stdout=out)
    assert "4 matters written" in out.getvalue()
    out = io.StringIO()
    call_command("catalogue_xlsx", "import", "copy", str(path), "--dry-run", stdout=out)
    assert "dry run, nothing written" in out.getvalue() and not Catalogue.objects.filter(key="copy").exists()
    call_command("catalogue_xlsx", "import", "copy", str(path), "--name", "副本", stdout=io.StringIO())
    assert dump("copy") == dump("default") and Catalogue.objects.get(key="copy").name_zh == "副本"
    with pytest.raises(CommandError, match="no catalogue 'nope'"):
        call_command("catalogue_xlsx", "export", "nope", str(path))
    path.write_bytes(b"not a workbook")
    with pytest.raises(CommandError, match="not an XLSX workbook"):
        call_command("catalogue_xlsx", "import", "copy", str(path))
