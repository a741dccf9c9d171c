"""Item 2: a database copied without its key file reveals nothing, under any other installation's key."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from config.keys import new_data_key
from gridgov.people.models import Resident
from gridgov.people.selectors import resident_by_id_number, resident_by_phone
from gridgov.people.tests.factories import id_number, make_resident
from gridgov.privacy import crypto
from gridgov.privacy.access import seal_field


def test_a_copied_database_opens_under_no_other_installations_key(scheme, tree):
    # given a resident sealed by this installation
    number = id_number(birth=dt.date(1985, 3, 4), male=True)
    make_resident(scheme, tree["g1"], id_number=number, phone="13812345678")
    row = Resident.objects.values("id_sealed", "phone_sealed").get()
    # when the rows are read by another installation (its own random key, the same code and SECRET_KEY)
    with override_settings(PERSONAL_DATA_KEY=new_data_key()):
        # then no sealed value opens, and no exact search finds the resident by digest
        for field, token in ((seal_field("resident", "id_number"), row["id_sealed"]),
                             (seal_field("resident", "phone"), row["phone_sealed"])):
            with pytest.raises(crypto.SealError):
                crypto.unseal(token, field=field)
        assert not resident_by_id_number(Resident.objects.all(), number).exists()
        assert not resident_by_phone(Resident.objects.all(), "13812345678").exists()
    # and this installation still opens its own rows
    assert resident_by_id_number(Resident.objects.all(), number).exists()
    assert crypto.unseal(row["id_sealed"], field=seal_field("resident", "id_number")) == number


def test_no_data_key_means_nothing_is_sealed_rather_than_a_derived_key(settings):
    # given no data key at all (SECRET_KEY is still set)
    settings.PERSONAL_DATA_KEY = ""
    # when / then: refused, never a key derived from SECRET_KEY
    with pytest.raises(ImproperlyConfigured, match="GRIDGOV_DATA_KEY"):
        crypto.seal("13812345678", field="resident.phone")
