"""gridgov.core.uploads: archives are refused from their directory before they inflate past the caps,
members are read in blocks within what their headers declare, damaged archives are a clear error, CSV
encodings are detected (never read as mojibake), JSON nests at most JSON_MAX_DEPTH levels."""

from __future__ import annotations

import codecs
import io
import json
import tracemalloc
import zipfile

import pytest
from django.test import override_settings

from gridgov.core import uploads
from gridgov.core.tests import bombs

MB = bombs.MB


def peak_while_refused(fn) -> int:
    """The peak of Python memory allocated while `fn` runs and is refused (bytes), as tracemalloc sees it."""
    tracemalloc.start()
    try:
        with pytest.raises(uploads.UploadError):
            fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def refused(fn) -> str:
    with pytest.raises(uploads.UploadError) as caught:
        fn()
    return str(caught.value)


# --------------------------------------------------------------------------- archives
def test_a_small_zip_that_inflates_past_the_member_cap_is_refused_before_it_is_inflated():
    # given 0.3 MB that inflates to 300 MB (the grid-map cap for one member is 200 MB)
    data = bombs.zip_bomb(inflated=300 * MB)
    assert len(data) < MB

    # when it is opened and verified
    def open_it():
        with uploads.zip_open(data, kind="gridmap", name="map.zip", verify=True):
            pass

    message = refused(open_it)
    peak = peak_while_refused(open_it)

    # then the directory alone refused it: nothing near its inflated size was ever allocated
    assert "map.zip: bomb.txt inflates to 300.0 MB" in message
    assert peak < 5 * MB


def test_a_zip_within_the_caps_but_compressed_a_thousand_times_is_refused_as_a_bomb():
    # given 50 MB of zeros (under every size cap) in a few KB
    data = bombs.zip_bomb(inflated=50 * MB)

    # when / then
    message = refused(lambda: uploads.zip_open(data, kind="gridmap", name="map.zip").__enter__())
    assert "compressed" in message and "possible zip bomb" in message


@override_settings(UPLOAD_ZIP_MAX_RATIO=1_000_000.0,
                   UPLOAD_MEMBER_MAX_BYTES={"gridmap": 8 * MB, "people": 8 * MB, "catalogue": 8 * MB},
                   UPLOAD_UNCOMPRESSED_MAX_BYTES={"gridmap": 10 * MB, "people": 10 * MB, "catalogue": 10 * MB})
def test_the_total_inflated_size_is_capped_across_members():
    # given two members of 6 MB: each under the 8 MB member cap, 12 MB together (cap 10 MB)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name in ("b.txt", "c.txt"):
            target.writestr(name, bytes(6 * MB))

    # when / then
    message = refused(lambda: uploads.zip_open(out.getvalue(), kind="gridmap", name="m.zip").__enter__())
    assert "m.zip inflates to 12.0 MB in all; at most 10.0 MB are accepted" in message


def test_a_zip_that_lies_about_its_size_yields_no_more_than_it_claims_and_fails_its_checksum():
    # given headers claiming 1000 bytes for data inflating to 64 MB
    data = bombs.lying_zip_bomb(inflated=64 * MB, claimed=1000)

    # when every member is read (verified)
    def verify():
        with uploads.zip_open(data, kind="gridmap", name="liar.zip", verify=True):
            pass

    message = refused(verify)
    peak = peak_while_refused(verify)

    # then it is refused as damaged, and at most a few blocks were ever inflated
    assert "liar.zip is damaged: bomb.txt cannot be read" in message
    assert peak < 5 * MB


def test_an_archive_of_many_members_is_refused_before_its_directory_is_read():
    # given 600 empty files (the cap is 500)
    data = bombs.many_members_zip(600)

    # when / then
    message = refused(lambda: uploads.zip_open(data, kind="people", name="many.zip").__enter__())
    assert "many.zip holds 600 files; an archive may hold at most 500" in message


def test_a_bad_checksum_is_refused_as_damaged():
    data = bombs.bad_crc_zip({"a.shp": b"x" * 100, "a.dbf": b"y" * 100})

    def verify():
        with uploads.zip_open(data, kind="gridmap", name="crc.zip", verify=True):
            pass

    assert "crc.zip is damaged: a.shp cannot be read" in refused(verify)


def test_not_a_zip_at_all_is_a_clear_error():
    message = refused(lambda: uploads.zip_open(b"PK\x03\x04 garbage", kind="gridmap", name="x.zip").__enter__())
    assert "x.zip is not a readable zip archive" in message


def test_an_xlsx_whose_sheet_inflates_hugely_is_refused_before_a_spreadsheet_library_opens_it(tmp_path):
    # given a real workbook whose sheet XML inflates to 400 MB
    path = bombs.write(tmp_path, "huge.xlsx", bombs.xlsx_with_huge_sheet([["姓名"], ["张三"]], inflated=400 * MB))
    assert path.stat().st_size < 2 * MB

    # when / then: refused from the directory (ratio), nothing inflated
    message = refused(lambda: uploads.xlsx_check(path, kind="catalogue", name="huge.xlsx"))
    peak = peak_while_refused(lambda: uploads.xlsx_check(path, kind="catalogue", name="huge.xlsx"))
    assert "huge.xlsx: xl/worksheets/sheet1.xml" in message
    assert peak < 5 * MB


def test_a_sound_workbook_passes_and_its_sheets_are_measured(tmp_path):
    path = bombs.write(tmp_path, "ok.xlsx", bombs.workbook([["a", "b"], [1, 2]]))
    sheets = uploads.xlsx_check(path, kind="people", name="ok.xlsx")
    assert list(sheets) == ["xl/worksheets/sheet1.xml"] and sheets["xl/worksheets/sheet1.xml"] > 0


# --------------------------------------------------------------------------- sizes
@override_settings(UPLOAD_MAX_BYTES={"gridmap": 1000, "people": 1000, "catalogue": 1000})
def test_read_capped_never_reads_past_the_cap():
    class Endless(io.RawIOBase):
        name = "endless.geojson"
        read_calls: list[int] = []

        def readable(self):
            return True

        def read(self, size=-1):
            self.read_calls.append(size)
            return b"x" * (size if size and size > 0 else 10 * MB)

    stream = Endless()
    message = refused(lambda: uploads.read_capped(stream, kind="gridmap"))
    assert "endless.geojson is 0.0 MB; files of this kind may be at most 0.0 MB" in message
    assert stream.read_calls == [1001]


# --------------------------------------------------------------------------- text
@pytest.mark.parametrize("codec, bom", [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
                                        ("utf-8", codecs.BOM_UTF8), ("utf-32-le", codecs.BOM_UTF32_LE)])
def test_a_byte_order_mark_decides_the_encoding(tmp_path, codec, bom):
    path = tmp_path / "r.csv"
    path.write_bytes(bom + "姓名,身份证号\n张三,1\n".encode(codec))
    encoding = uploads.text_encoding(path)
    assert path.read_text(encoding=encoding).lstrip("\ufeff").startswith("姓名,身份证号")


def test_utf16_without_a_mark_is_refused_naming_the_file_never_read_as_gb18030(tmp_path):
    # given UTF-16 LE without a BOM: as bytes it decodes "cleanly" as GB18030 mojibake
    path = tmp_path / "upload-7.csv"
    body = "姓名,身份证号\n张三,1\n".encode("utf-16-le")
    path.write_bytes(body)

    # when / then
    message = refused(lambda: uploads.text_encoding(path, name="居民.csv"))
    assert "居民.csv looks like UTF-16 text without a byte-order mark" in message


def test_utf8_then_gb18030_then_refusal(tmp_path):
    utf8 = bombs.write(tmp_path, "a.csv", "姓名\n张三\n".encode())
    gbk = bombs.write(tmp_path, "b.csv", "姓名\n张三\n".encode("gb18030"))
    neither = bombs.write(tmp_path, "c.csv", b"\x81\x30\xff\xff\n")
    assert uploads.text_encoding(utf8) == "utf-8"
    assert uploads.text_encoding(gbk) == "gb18030"
    assert "c.csv is neither UTF-8 nor GB18030" in refused(lambda: uploads.text_encoding(neither))


# --------------------------------------------------------------------------- JSON
def test_json_nested_past_the_limit_is_refused_not_a_recursion_error():
    deep = "[" * 100_000 + "]" * 100_000
    message = refused(lambda: uploads.json_loads(deep, name="body"))
    assert "body is nested too deeply (at most 32 levels)" in message
    assert uploads.JSONTooDeep.__mro__[1] is uploads.UploadError


def test_json_depth_counts_brackets_outside_strings_only():
    text = json.dumps({"a": [[1, {"b": "[[[[[[[[{{{{"}]], "c": "\\\"]]"})
    assert uploads.json_depth(text) == 4
    assert uploads.json_loads(text, max_depth=4)["c"] == '\\"]]'
    with pytest.raises(uploads.JSONTooDeep):
        uploads.json_loads(text, max_depth=3)
