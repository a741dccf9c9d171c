"""Catalogue workbooks are checked before openpyxl opens them: a workbook whose sheet XML inflates hugely
or whose parts fail their checksum is a 400 naming the file, from the API and the page alike."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from gridgov.catalogue.models import Catalogue
from gridgov.core.tests import bombs

pytestmark = pytest.mark.django_db

MB = bombs.MB
API = "/api/catalogue/catalogues/import/"


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    settings.PRIVATE_FILES_DIR = tmp_path / "private"


@pytest.fixture
def editor(db):
    return get_user_model().objects.create_superuser("editor", password="Root-pass-2026!")


def named(data: bytes, name: str) -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


def test_a_catalogue_bomb_is_a_400_from_the_api(editor):
    # given a real workbook whose sheet XML inflates to 400 MB
    data = bombs.xlsx_with_huge_sheet([["编码", "名称"]], inflated=400 * MB)
    client = APIClient()
    client.force_authenticate(editor)

    # when
    res = client.post(API, {"key": "bomb", "file": named(data, "bomb.xlsx")}, format="multipart")

    # then
    assert res.status_code == 400
    assert "bomb.xlsx: xl/worksheets/sheet1.xml inflates to 400.0 MB" in " ".join(res.json()["file"])
    assert not Catalogue.objects.filter(key="bomb").exists()


def test_a_damaged_catalogue_workbook_is_a_400_from_the_page(editor):
    sound = bombs.workbook([["编码", "名称"], ["01", "x"]])
    archive = zipfile.ZipFile(io.BytesIO(sound))
    parts = {info.filename: archive.read(info) for info in archive.infolist()}
    data = bombs.bad_crc_zip({"xl/worksheets/sheet1.xml": parts.pop("xl/worksheets/sheet1.xml"), **parts})
    client = Client(raise_request_exception=False)
    client.force_login(editor)

    res = client.post(reverse("manage:catalogue_import"), {"key": "crc", "file": named(data, "crc.xlsx"),
                                                           "dry_run": "on"})

    assert res.status_code == 400
    assert "crc.xlsx is damaged: xl/worksheets/sheet1.xml cannot be read" in res.content.decode()
