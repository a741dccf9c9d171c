"""Names refuse invisible and text-direction characters (issue 11, item 16): one rule (`core.names`) for
residents, legal representatives, entity names, people in charge and reporters, in every way in — services,
API, spreadsheet import, admin forms — with a message naming the field and the character, never the name."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from gridgov.accounts import services as accounts_services
from gridgov.accounts.models import Person
from gridgov.accounts.tests.factories import make_staff
from gridgov.cases.models import Case, Channel
from gridgov.cases.services import case_report
from gridgov.cases.tests.factories import make_loop, point_in
from gridgov.core.names import name_clean, validate_name
from gridgov.people import services
from gridgov.people.bulk import people_bulk_upsert
from gridgov.people.models import LegalEntity, Resident
from gridgov.people.tests.factories import credit_code, id_number

# U+202E turns what follows right to left; U+200B is invisible; U+2066 an isolate; U+FEFF a BOM in the middle
REFUSED = {"\u202e": "U+202E", "\u200b": "U+200B", "\u200d": "U+200D", "\u2066": "U+2066", "\u200f": "U+200F",
           "\u2060": "U+2060", "\ufeff": "U+FEFF", "\x07": "U+0007", "\ue000": "U+E000"}


@pytest.mark.parametrize("char", sorted(REFUSED))
def test_the_rule_refuses_every_invisible_or_direction_character_and_names_the_field(char):
    with pytest.raises(ValidationError) as caught:
        name_clean(f"张{char}三", field="reporter_name", label="reporter's name")
    message = caught.value.message_dict["reporter_name"][0]
    assert "reporter's name" in message and REFUSED[char] in message and "position 2" in message
    assert "张" not in message and "三" not in message
    with pytest.raises(ValidationError):
        validate_name(f"张{char}三")


def test_ordinary_names_pass_and_whitespace_is_folded():
    assert name_clean("  欧阳\t娜娜 ") == "欧阳 娜娜"
    assert name_clean("Zoë O'Brien-Smith") == "Zoë O'Brien-Smith"
    assert name_clean("阿卜杜·热合曼") == "阿卜杜·热合曼"
    validate_name("张三")


def test_residents_units_and_representatives_refuse_them_in_the_services(scheme, tree):
    with pytest.raises(ValidationError) as caught:
        services.resident_create(scheme=scheme, node=tree["g1"], name="张\u202e三", id_number=id_number())
    assert "name" in caught.value.message_dict and "U+202E" in caught.value.message_dict["name"][0]
    resident = services.resident_create(scheme=scheme, node=tree["g1"], name="张三", id_number=id_number())
    with pytest.raises(ValidationError, match=r"U\+200B"):
        services.resident_update(resident=resident, name="张\u200b三")
    with pytest.raises(ValidationError) as caught:
        services.entity_create(scheme=scheme, node=tree["g1"], name="白云\u200d商店", credit_code=credit_code())
    assert "entity name" in caught.value.message_dict["name"][0]
    with pytest.raises(ValidationError) as caught:
        services.entity_create(scheme=scheme, node=tree["g1"], name="白云商店", credit_code=credit_code(),
                               representative="钱\u2066老板")
    assert "legal representative" in caught.value.message_dict["representative"][0]
    assert Resident.objects.get().name == "张三" and not LegalEntity.objects.exists()


def test_the_api_answers_400_naming_the_field(scheme, tree):
    client = APIClient()
    client.force_authenticate(make_staff(tree["community"], perms=["people.view_resident", "people.add_resident"]))
    response = client.post("/api/people/residents/", {"name": "李\ufeff四", "id_number": id_number(),
                                                      "node": tree["g1"].pk}, format="json")
    assert response.status_code == 400 and "U+FEFF" in response.json()["name"][0]
    assert not Resident.objects.exists()


def test_an_import_rejects_the_row_and_says_why(scheme, tree):
    rows = [{"id_number": id_number(), "name": "王\u202e五", "cell": tree["g1"].code},
            {"id_number": id_number(), "name": "王五", "cell": tree["g1"].code}]
    report = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows)
    assert report.created == 1 and report.rejected_rows == 1
    assert [(e.column, "U+202E" in e.reason) for e in report.rejected] == [("name", True)]
    assert list(Resident.objects.values_list("name", flat=True)) == ["王五"]


def test_people_in_charge_refuse_them_and_their_model_field_too(db):
    with pytest.raises(ValidationError, match=r"U\+200B"):
        accounts_services.person_create(name="赵\u200b网格")
    person = Person(name="赵\u200e网格")
    with pytest.raises(ValidationError) as caught:
        person.full_clean()
    assert "name" in caught.value.message_dict
    assert not Person.objects.filter(name__contains="网格").exists()


def test_a_reporter_name_refuses_them(scheme, tree):
    loop = make_loop(scheme, tree)
    lon, lat = point_in(tree["g1"])
    with pytest.raises(ValidationError) as caught:
        case_report(actor=None, channel=Channel.RESIDENT, scheme=scheme, matter="01002", lon=lon, lat=lat,
                    description="水管爆了", reporter_name="李\u202e四", reporter_phone="13812345678")
    assert "reporter's name" in caught.value.message_dict["reporter_name"][0]
    assert not Case.objects.exists() and loop
