"""Key rotation: values sealed under an old key are re-sealed and re-digested under the new one."""

from __future__ import annotations

import io

from django.core.management import call_command
from django.test import override_settings

from gridgov.people.models import Resident
from gridgov.people.selectors import resident_by_id_number
from gridgov.people.tests.factories import id_number, make_resident
from gridgov.privacy import crypto
from gridgov.privacy.access import clear_value

NEW_KEY = "B" * 43 + "="


def test_rotation_keeps_every_value_readable_and_findable(scheme, tree, settings):
    # given a resident sealed under the old key
    number = id_number()
    old_key = settings.PERSONAL_DATA_KEY
    resident = make_resident(scheme, tree["g1"], id_number=number, phone="13812345678")
    # when the key is rotated and the command runs
    with override_settings(PERSONAL_DATA_KEY=NEW_KEY, PERSONAL_DATA_OLD_KEYS=[old_key]):
        assert not resident_by_id_number(Resident.objects.all(), number).exists()
        call_command("reseal_personal_data", stdout=io.StringIO(), stderr=io.StringIO())
        # then the row opens and is found under the new key alone
        with override_settings(PERSONAL_DATA_OLD_KEYS=[]):
            row = Resident.objects.get(pk=resident.pk)
            assert clear_value(row, "id_number") == number and clear_value(row, "phone") == "13812345678"
            assert list(resident_by_id_number(Resident.objects.all(), number)) == [row]
            kid = crypto.seal("x", field="f").split(".")[1]
            assert row.id_sealed.split(".")[1] == kid
        # a second run has nothing to do
        out = io.StringIO()
        call_command("reseal_personal_data", stdout=out, stderr=io.StringIO())
        assert "re-sealed 0 residents" in out.getvalue()
