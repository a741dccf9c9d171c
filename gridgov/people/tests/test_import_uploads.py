"""People-import uploads cannot exhaust the server and are never read as mojibake: workbooks whose sheet
XML inflates hugely, damaged workbooks and files over the cap are a clear 400 (no job left behind); CSV
in UTF-16 is read as UTF-16 (its byte-order mark), never as GB18030, or refused naming the file."""

from __future__ import annotations

import codecs
import io
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from gridgov.core.tests import bombs
from gridgov.people import imports
from gridgov.people.models import DataJob

pytestmark = pytest.mark.django_db

MB = bombs.MB
HEADERS = ["姓名", "公民身份号码", "所属网格"]
ROWS = [HEADERS, ["张三", "110117198001010011", "一网格"], ["李四", "", "二网格"]]


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    settings.PRIVATE_FILES_DIR = str(tmp_path / "private")


@pytest.fixture
def api(db):
    user = get_user_model().objects.create_superuser("root", password="Root-pass-2026!")
    client = APIClient()
    client.force_authenticate(user)
    return client


def post(api, scheme, name: str, data: bytes):
    upload = io.BytesIO(data)
    upload.name = name
    return api.post("/api/people/imports/", {"scheme": scheme.key, "record_type": "residents", "file": upload},
                    format="multipart")


def file_error(res) -> str:
    assert res.status_code == 400, res.content
    return " ".join(res.json()["file"])


def create(scheme, tree, name: str, data: bytes) -> DataJob:
    owner = get_user_model().objects.create_superuser("owner", password="Root-pass-2026!")
    return imports.import_job_create(scheme=scheme, owner=owner, record_type="residents",
                                     uploaded_file=SimpleUploadedFile(name, data))


# --------------------------------------------------------------------------- workbooks
def test_a_workbook_whose_sheet_inflates_hugely_is_a_400_and_no_job(api, scheme, tree):
    # given a real 0.4 MB workbook whose sheet XML inflates to 400 MB
    data = bombs.xlsx_with_huge_sheet(ROWS, inflated=400 * MB)
    assert len(data) < 2 * MB

    # when / then: refused from the zip directory, before calamine or openpyxl opens it
    message = file_error(post(api, scheme, "居民.xlsx", data))
    assert "居民.xlsx: xl/worksheets/sheet1.xml" in message and "possible zip bomb" in message
    assert not DataJob.objects.exists()


def test_a_workbook_with_a_bad_checksum_is_a_400_at_upload(api, scheme, tree):
    sound = bombs.workbook(ROWS)
    parts = {info.filename: zipfile.ZipFile(io.BytesIO(sound)).read(info)
             for info in zipfile.ZipFile(io.BytesIO(sound)).infolist()}
    sheet_first = {"xl/worksheets/sheet1.xml": parts.pop("xl/worksheets/sheet1.xml"), **parts}
    message = file_error(post(api, scheme, "crc.xlsx", bombs.bad_crc_zip(sheet_first)))
    assert "crc.xlsx is damaged: xl/worksheets/sheet1.xml cannot be read" in message
    assert not DataJob.objects.exists()


def test_an_upload_over_the_cap_is_a_400(api, scheme, tree, settings):
    settings.UPLOAD_MAX_BYTES = {**settings.UPLOAD_MAX_BYTES, "people": 1000}
    message = file_error(post(api, scheme, "big.csv", ("姓名\n" + "张三\n" * 1000).encode()))
    assert "big.csv is 0.0 MB; files of this kind may be at most 0.0 MB" in message
    assert not DataJob.objects.exists()


def test_a_sheet_too_large_to_hold_in_memory_is_streamed(scheme, tree, settings):
    # given a sheet above the in-memory threshold (calamine would hold it whole)
    settings.UPLOAD_XLSX_IN_MEMORY_BYTES = 10
    job = create(scheme, tree, "people.xlsx", bombs.workbook(ROWS))

    # then openpyxl read it, row by row, to the same headers and count
    assert job.headers == HEADERS and job.total == 2


# --------------------------------------------------------------------------- CSV encodings
def csv_text() -> str:
    return "\r\n".join(",".join(row) for row in ROWS) + "\r\n"


@pytest.mark.parametrize("codec, bom", [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE)])
def test_a_utf16_csv_is_read_as_utf16_not_gb18030_mojibake(scheme, tree, codec, bom):
    # given a CSV saved as "Unicode" (UTF-16 with a byte-order mark)
    job = create(scheme, tree, "居民.csv", bom + csv_text().encode(codec))

    # then its headers and rows read as written
    assert job.headers == HEADERS
    with imports.table_read(imports.private_open(job.file_path)) as table:
        assert [values[0] for _number, values in table.rows] == ["张三", "李四"]


def test_a_utf16_csv_without_a_mark_is_refused_naming_the_file(api, scheme, tree):
    message = file_error(post(api, scheme, "居民.csv", csv_text().encode("utf-16-le")))
    assert "居民.csv looks like UTF-16 text without a byte-order mark" in message
    assert not DataJob.objects.exists()


def test_a_csv_in_no_known_encoding_is_refused(scheme, tree):
    with pytest.raises(ValidationError, match=r"x\.csv is neither UTF-8 nor GB18030"):
        create(scheme, tree, "x.csv", b"\x80\x80\xff\n")
