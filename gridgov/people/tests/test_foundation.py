"""Identifiers, masking, sealing, single-record services, history, reveal and the access log."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from gridgov.accounts.tests.factories import make_role, make_staff
from gridgov.core.db import append_only_install
from gridgov.people import services
from gridgov.people.history import record_as_of, record_history
from gridgov.people.models import RecordState, Relation, Resident
from gridgov.people.selectors import resident_by_id_number, resident_by_phone, resident_scope
from gridgov.people.tests.factories import credit_code, id_number, make_household, make_resident
from gridgov.privacy import crypto
from gridgov.privacy.access import personal_data_reveal
from gridgov.privacy.identifiers import id_number_check_digit, id_number_clean, phone_clean, uscc_clean
from gridgov.privacy.masking import mask_address, mask_id_number, mask_name, mask_phone
from gridgov.privacy.models import AccessLog


# ------------------------------------------------------------------------------------------ identifiers
def test_id_number_gives_gender_and_birth_date():
    info = id_number_clean("11010519491231002x")
    assert info == ("11010519491231002X", "F", dt.date(1949, 12, 31))


@pytest.mark.parametrize(("value", "reason"), [
    ("", "required"),
    ("1101051949123100", "18 characters"),
    ("11010519491231002A", "17 digits"),
    ("110105194912310021", "check digit"),
    ("110105194913310020", "birth date"),
    ("990105194912310029", "region"),
])
def test_bad_id_numbers_name_the_reason_not_the_value(value, reason):
    if reason in ("birth date", "region"):  # give these a correct check digit, so the other rule fails
        value = value[:17] + id_number_check_digit(value[:17])
    with pytest.raises(ValidationError) as err:
        id_number_clean(value)
    message = err.value.message_dict["id_number"][0]
    assert reason in message
    assert not value or value not in message


@given(st.integers(min_value=0, max_value=10**6))
def test_generated_numbers_validate(seq):
    number = id_number(seq=seq)
    assert id_number_clean(number).number == number


def test_phones_and_credit_codes():
    assert phone_clean("138 0013 8000") == "13800138000"
    assert phone_clean("+86 13800138000") == "13800138000"
    assert phone_clean("010-69961234") == "010-69961234"
    with pytest.raises(ValidationError, match="not a phone number"):
        phone_clean("12345678")
    code = credit_code()
    assert uscc_clean(code.lower()) == code
    with pytest.raises(ValidationError, match="check character"):
        uscc_clean(code[:17] + ("0" if code[17] != "0" else "1"))


def test_masks():
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("010-69961234") == "010-****1234"
    # names and addresses: fixed-width, the stars never tell the length of what they hide
    assert mask_name("张三") == mask_name("张三丰") == "张**"
    assert mask_name("欧阳娜娜") == "欧**"
    assert mask_name("张") == "***"
    assert mask_address("北京市平谷区白云寺村3排12号") == "北京市平谷区****"
    assert mask_address("白云寺村8号") == mask_address("白云寺村8排112号院") == "白云寺村****"
    assert mask_address("8号楼2单元301") == "****"


# ------------------------------------------------------------------------------------------------ sealing
def test_seal_round_trip_is_bound_to_its_field():
    token = crypto.seal("11010519491231002X", field="resident.id_number")
    assert "11010519491231002X" not in token
    assert crypto.unseal(token, field="resident.id_number") == "11010519491231002X"
    with pytest.raises(crypto.SealError):
        crypto.unseal(token, field="resident.phone")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(crypto.SealError):
        crypto.unseal(tampered, field="resident.id_number")


def test_sm4_option_and_key_rotation():
    old = "A" * 43 + "="
    with override_settings(PERSONAL_DATA_KEY=old):
        sealed_old = crypto.seal("13812345678", field="f")
    with override_settings(PERSONAL_DATA_CIPHER="SM4-GCM"):
        token = crypto.seal("13812345678", field="f")
        assert ".sm4." in token
        assert crypto.unseal(token, field="f") == "13812345678"
        assert crypto.digest("x", field="f") != crypto.digest("y", field="f")
    with pytest.raises(crypto.SealError):
        crypto.unseal(sealed_old, field="f")
    with override_settings(PERSONAL_DATA_OLD_KEYS=[old]):
        assert crypto.unseal(sealed_old, field="f") == "13812345678"


# ----------------------------------------------------------------------------------------------- services
def test_resident_is_stored_sealed_and_found_by_digest(scheme, tree):
    # given
    number = id_number(birth=dt.date(1990, 5, 6), male=False)
    # when
    resident = make_resident(scheme, tree["g1"], id_number=number, phone="13812345678")
    # then
    row = Resident.objects.values().get(pk=resident.pk)
    assert number not in str(row) and "13812345678" not in str(row)
    assert row["id_masked"] == mask_id_number(number) and row["phone_masked"] == "138****5678"
    assert (row["gender"], row["birth_date"]) == ("F", dt.date(1990, 5, 6))
    assert list(resident_by_id_number(Resident.objects.all(), number)) == [resident]
    assert list(resident_by_phone(Resident.objects.all(), "138 1234 5678")) == [resident]
    assert str(resident) == f"李** {mask_id_number(number)}"


def test_duplicate_id_number_and_second_head_are_refused(scheme, tree):
    household, (_head,) = make_household(scheme, tree["g1"])
    number = id_number()
    make_resident(scheme, tree["g1"], id_number=number)
    with pytest.raises(ValidationError) as err:
        make_resident(scheme, tree["g2"], id_number=number)
    assert "already stored" in err.value.message_dict["id_number"][0]
    with pytest.raises(ValidationError, match="already has a head"):
        make_resident(scheme, tree["g1"], household=household, relation=Relation.HEAD)
    with pytest.raises(ValidationError, match="related to the head"):
        make_resident(scheme, tree["g1"], household=household)
    assert Resident.objects.filter(household=household).count() == 1


def test_resident_is_located_by_coordinates(scheme, tree):
    resident = make_resident(scheme, None, lon=116.07, lat=40.05)
    assert resident.node == tree["g2"]
    with pytest.raises(ValidationError, match="outside every cell"):
        make_resident(scheme, None, lon=117.5, lat=40.05)


def test_history_shows_a_past_state(scheme, tree, django_user_model):
    # given a resident changed twice on different days
    resident = make_resident(scheme, tree["g1"], actual_address="白云寺村1号")
    services.resident_update(resident=resident, actual_address="白云寺村2号")
    services.record_set_state(record=resident, state=RecordState.MOVED_OUT, date=timezone.localdate(), reason="迁往城区")
    rows = list(record_history(resident))
    assert [r.action for r in rows] == ["CREATE", "UPDATE", "STATE"]
    assert rows[1].changed == ["actual_address"]
    # when the first write is dated in the past
    type(rows[0]).objects.filter(pk=rows[0].pk).update(at=rows[0].at - dt.timedelta(days=10))
    # then ten days ago it shows the first address, today the moved-out state
    past = record_as_of(Resident, resident.pk, timezone.localdate() - dt.timedelta(days=5))
    assert past.snapshot["actual_address"] == "白云寺村1号" and past.snapshot["state"] == "ACTIVE"
    assert record_as_of(Resident, resident.pk, timezone.localdate()).snapshot["state"] == "MOVED_OUT"
    assert record_as_of(Resident, resident.pk, timezone.localdate() - dt.timedelta(days=20)) is None
    assert "id_sealed" in past.snapshot and "g1." in past.snapshot["id_sealed"]


def test_stale_version_is_refused(scheme, tree):
    resident = make_resident(scheme, tree["g1"])
    services.resident_update(resident=resident, name="李四四", expected_version=1)
    with pytest.raises(ValidationError, match="someone else changed"):
        services.resident_update(resident=resident, name="李五", expected_version=1)


def test_household_moving_out_takes_its_members(scheme, tree):
    household, _people = make_household(scheme, tree["g1"], members=2)
    services.record_set_state(record=household, state=RecordState.MOVED_OUT, date=timezone.localdate())
    assert set(Resident.objects.filter(household=household).values_list("state", flat=True)) == {"MOVED_OUT"}


# --------------------------------------------------------------------------------------- reveal, erasure
def test_reveal_needs_a_role_that_may_and_is_logged(scheme, tree):
    resident = make_resident(scheme, tree["g1"], phone="13812345678")
    plain = make_staff(tree["g1"])
    revealer_role = make_role(scheme, key="grid_worker_reveal", levels=("community", "grid"))
    revealer_role.reveals_personal_data = True
    revealer_role.save()
    revealer = make_staff(tree["community"], role=revealer_role)
    elsewhere = make_staff(tree["g2"], role=revealer_role)
    with pytest.raises(PermissionDenied):
        personal_data_reveal(user=plain, record=resident, fields=["phone"], purpose="入户走访核实")
    with pytest.raises(PermissionDenied):
        personal_data_reveal(user=elsewhere, record=resident, fields=["phone"], purpose="入户走访核实")
    assert not resident_scope(Resident.objects.filter(pk=resident.pk), elsewhere).exists()
    with pytest.raises(ValidationError, match="state why"):
        personal_data_reveal(user=revealer, record=resident, fields=["phone"], purpose="")
    assert personal_data_reveal(user=revealer, record=resident, fields=["phone", "name"],
                                purpose="入户走访核实") == {"phone": "13812345678", "name": "李四"}
    log = AccessLog.objects.filter(user=revealer).order_by("fields")
    assert [(e.kind, e.record_id, e.fields, e.purpose) for e in log] == [
        ("REVEAL", resident.pk, "name", "入户走访核实"), ("REVEAL", resident.pk, "phone", "入户走访核实")]


def test_access_log_cannot_be_changed_or_deleted(scheme, tree):
    append_only_install(connection)  # (test teardown of browser tests on SQLite removes it)
    user = make_staff(tree["g1"], perms=["people.reveal_personal_data"])
    resident = make_resident(scheme, tree["g1"])
    personal_data_reveal(user=user, record=resident, purpose="核对身份信息")
    entry = AccessLog.objects.first()
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessLog.objects.filter(pk=entry.pk).update(purpose="nothing")
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessLog.objects.filter(pk=entry.pk).delete()
    assert AccessLog.objects.get(pk=entry.pk).purpose == "核对身份信息"


def test_erasure_needs_the_permission_and_blanks_history(scheme, tree):
    resident = make_resident(scheme, tree["g1"])
    services.resident_update(resident=resident, name="李四改")
    nobody = make_staff(tree["g1"])
    with pytest.raises(PermissionDenied):
        services.record_erase(record=resident, actor=nobody, reason="本人申请删除")
    officer = make_staff(tree["district"], perms=["people.erase_personal_data"])
    pk = resident.pk
    services.record_erase(record=resident, actor=officer, reason="本人依法申请删除")
    assert not Resident.objects.filter(pk=pk).exists()
    rows = list(record_history(Resident, pk))
    assert [r.snapshot for r in rows] == [{}, {}, {}] and rows[-1].action == "ERASE"
    entry = AccessLog.objects.get(kind="ERASE")
    assert (entry.record_id, entry.user, entry.purpose) == (pk, officer, "本人依法申请删除")


# ----------------------------------------------------------------------------------- service numbers
@pytest.mark.parametrize("number", ["12345", "95588", "4008001234", "8008101234"])
def test_a_service_number_is_a_units_phone_never_a_persons(number):
    from gridgov.privacy.identifiers import UNIT

    with pytest.raises(ValidationError) as caught:
        phone_clean(number, field="phone")
    message = caught.value.message_dict["phone"][0]
    assert "service number" in message and (number == "12345" or number not in message)  # 12345: the example
    assert phone_clean(number, kind=UNIT) == number
    assert phone_clean("13812345678") == phone_clean("13812345678", kind=UNIT) == "13812345678"


def test_residents_refuse_service_numbers_and_units_take_them(scheme, tree):
    # given / when a resident is given the city hotline as phone, in a form and in an import
    with pytest.raises(ValidationError) as caught:
        make_resident(scheme, tree["g1"], phone="12345")
    from gridgov.people.bulk import people_bulk_upsert

    report = people_bulk_upsert(scheme=scheme, kind="residents", rows=[
        {"id_number": id_number(), "name": "孙七", "cell": tree["g1"].code, "phone": "95588"}])
    units = people_bulk_upsert(scheme=scheme, kind="entities", rows=[
        {"credit_code": credit_code(), "name": "白云银行网点", "cell": tree["g1"].code, "phone": "95588"}])
    entity = services.entity_create(scheme=scheme, node=tree["g1"], name="白云客服中心", credit_code=credit_code(),
                                    phone="4008001234")
    # then the resident is refused with the reason, the units keep their service numbers
    assert "service number" in caught.value.message_dict["phone"][0]
    assert report.rejected_rows == 1 and "service number" in report.rejected[0].reason
    assert units.created == 1 and entity.phone_masked.endswith("1234")
    assert not Resident.objects.exists()
