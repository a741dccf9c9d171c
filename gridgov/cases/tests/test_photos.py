"""Photos carry nothing but pixels: whatever an upload holds beside them (EXIF, XMP, IPTC, an ICC profile,
JPEG comments, PNG text chunks, bytes after the image's end) is gone from what is stored; originals are
limited in size, bombs refused before decoding; thumbnails are stored beside each photo and served by
the same scoped view."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from PIL import Image, ImageCms, PngImagePlugin

from gridgov.cases.attachments import photo_check, thumbnail_relative
from gridgov.cases.models import Attachment, Channel
from gridgov.cases.services import case_report
from gridgov.cases.tests.factories import make_loop, point_in
from gridgov.core.files import private_dir

pytestmark = pytest.mark.django_db

NAME = "张三丰"
PHONE = "13812345678"
SECRETS = [NAME.encode("utf-8"), NAME.encode("utf-16-le"), PHONE.encode(), b"5678"]


@pytest.fixture(autouse=True)
def private_files(settings, tmp_path):
    settings.PRIVATE_FILES_DIR = tmp_path / "private"
    return settings.PRIVATE_FILES_DIR


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _iptc() -> bytes:
    """A Photoshop APP13 segment with IPTC by-line (2:80) and contact (2:118) records."""
    def record(dataset: int, value: bytes) -> bytes:
        return struct.pack(">BBBH", 0x1C, 2, dataset, len(value)) + value
    iptc = record(80, NAME.encode()) + record(118, PHONE.encode())
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    return _segment(0xED, b"Photoshop 3.0\x00" + resource)


def jpeg_with_everything() -> bytes:
    """A JPEG holding a name and a phone in EXIF, XMP, IPTC, a COM segment and after its EOI."""
    exif = Image.Exif()
    exif[0x013B] = NAME  # Artist
    exif[0x010E] = PHONE  # ImageDescription
    exif[0x0112] = 1
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buf, format="JPEG", exif=exif, comment=f"{NAME} {PHONE}".encode())
    data = buf.getvalue()
    xmp = _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + f"<x:xmpmeta>{NAME} {PHONE}</x:xmpmeta>".encode())
    data = data[:2] + _iptc() + xmp + _segment(0xFE, f"owner {NAME} {PHONE}".encode()) + data[2:]
    return data + f"trailer {NAME} {PHONE}".encode()


def jpeg_iptc_and_trailer() -> bytes:
    """A JPEG with no EXIF or XMP at all: only IPTC, a COM segment inserted raw, and bytes after its EOI."""
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (40, 40, 200)).save(buf, format="JPEG")
    data = buf.getvalue()
    data = data[:2] + _iptc() + _segment(0xFE, f"{NAME} {PHONE}".encode()) + data[2:]
    return data + f"{NAME} {PHONE}".encode()


def png_with_text_chunks() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", NAME)  # iTXt (not Latin-1)
    info.add_text("Phone", PHONE)  # tEXt
    info.add_text("Comment", f"{NAME} {PHONE}", zip=True)  # zTXt / compressed iTXt
    info.add_itxt("Contact", f"{NAME} {PHONE}", lang="zh", tkey="联系")
    buf = io.BytesIO()
    Image.new("RGBA", (40, 40), (10, 200, 10, 255)).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue() + f"after IEND {NAME} {PHONE}".encode()


def stored_bytes(case) -> list[bytes]:
    return [(private_dir() / a.path).read_bytes() for a in case.attachments.all()]


def report_with(loop, photos) -> object:
    lon, lat = point_in(loop.tree["g1"])
    return case_report(actor=loop.office, channel=Channel.HOTLINE, matter="02001", lon=lon, lat=lat,
                       description="占道", photos=photos).case


def test_the_crafted_uploads_do_hold_the_secrets():
    # the test images really carry what the fix must drop (or the tests below prove nothing)
    jpeg, png = jpeg_with_everything(), png_with_text_chunks()
    assert PHONE.encode() in jpeg and NAME.encode() in jpeg
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.getexif() and "comment" in image.info
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        assert image.text["Phone"] == PHONE and image.text["Author"] == NAME
    raw = png.split(b"IEND")[0]
    assert b"zTXt" in raw or b"iTXt" in raw
    assert b"tEXt" in raw


@pytest.mark.parametrize("make", [jpeg_with_everything, jpeg_iptc_and_trailer, png_with_text_chunks],
                         ids=["jpeg", "jpeg-iptc-trailer", "png"])
def test_stored_photos_hold_nothing_but_pixels(loop, make):
    # given an upload with a name and a phone in every metadata place and after the image
    data = make()
    # when it is reported with a case
    case = report_with(loop, [data])
    # then the stored file contains neither, in any encoding, nor compressed
    [stored] = stored_bytes(case)
    for secret in SECRETS:
        assert secret not in stored
    with Image.open(io.BytesIO(stored)) as image:
        image.load()
        assert not image.getexif()
        assert not {"exif", "xmp", "comment", "icc_profile", "photoshop", "XML:com.adobe.xmp"} & set(image.info)
        assert not getattr(image, "text", {})
        assert image.size == Image.open(io.BytesIO(data)).size
    # and the thumbnail beside it neither
    row = case.attachments.get()
    thumb = (private_dir() / thumbnail_relative(row.path)).read_bytes()
    for secret in SECRETS:
        assert secret not in thumb
    assert b"IEND" not in stored or stored.endswith(b"IEND\xaeB`\x82")
    assert b"\xff\xd9" not in stored or stored.endswith(b"\xff\xd9")


def test_an_icc_profile_is_converted_away():
    buf = io.BytesIO()
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buf, format="JPEG", icc_profile=profile)
    photo = photo_check(buf.getvalue())
    with Image.open(io.BytesIO(photo.data)) as image:
        assert "icc_profile" not in image.info


def test_the_photo_is_turned_upright_as_its_orientation_said():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to show
    buf = io.BytesIO()
    Image.new("RGB", (60, 20), (0, 0, 255)).save(buf, format="JPEG", exif=exif)
    photo = photo_check(buf.getvalue())
    assert (photo.width, photo.height) == (20, 60)
    with Image.open(io.BytesIO(photo.data)) as image:
        assert image.size == (20, 60) and not image.getexif()


def test_a_large_photo_is_scaled_down_to_the_configured_edge(settings):
    settings.CASE_PHOTO_MAX_EDGE = 500
    buf = io.BytesIO()
    Image.new("RGB", (2000, 100), (5, 5, 5)).save(buf, format="PNG")
    photo = photo_check(buf.getvalue())
    assert (photo.width, photo.height) == (500, 25)
    with Image.open(io.BytesIO(photo.data)) as image:
        assert image.size == (500, 25)
    with Image.open(io.BytesIO(photo.thumbnail)) as thumb:
        assert max(thumb.size) == settings.CASE_PHOTO_THUMB_EDGE


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width × height grey pixels with almost no data: a decompression bomb."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
            + chunk(b"IEND", b""))


def test_a_huge_dimension_image_is_refused_before_decoding(settings, loop):
    settings.CASE_PHOTO_MAX_PIXELS = 40_000_000
    # an image over the configured limit is refused naming its size, without decoding its pixels
    with pytest.raises(ValidationError) as err:
        photo_check(_png_header_only(10_000, 5_000), field="photos")
    assert err.value.message_dict == {
        "photos": ["photo is 10000 × 5000 pixels; photos may have at most 40000000 pixels"]}
    # and one past Pillow's own guard too
    bomb = _png_header_only(50_000, 50_000)
    with pytest.raises(ValidationError) as err:
        photo_check(bomb, field="photos")
    assert err.value.message_dict == {"photos": ["photo has too many pixels; photos may have at most 40000000 pixels"]}
    # and through the intake nothing is written
    with pytest.raises(ValidationError):
        report_with(loop, [bomb])
    assert not Attachment.objects.exists()


def test_a_truncated_image_is_a_clear_error():
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 1, 1)).save(buf, format="JPEG")
    with pytest.raises(ValidationError) as err:
        photo_check(buf.getvalue()[:200], field="after_photos")
    assert err.value.message_dict == {"after_photos": ["photo is not a readable image (JPEG, PNG or WebP)"]}


def test_thumbnails_are_served_by_the_same_scoped_view_and_pages_use_them(loop):
    # given a case with a photo, seen by the office
    buf = io.BytesIO()
    Image.new("RGB", (1200, 800), (90, 90, 90)).save(buf, format="JPEG")
    case = report_with(loop, [buf.getvalue()])
    row = case.attachments.get()
    office = Client()
    office.force_login(loop.office)
    url = f"/cases/{case.number}/attachments/{row.pk}/"
    # when the thumbnail is asked for, it is the small copy; the full photo stays full size
    thumb = office.get(url, {"size": "thumb"})
    assert thumb.status_code == 200 and "no-store" in thumb["Cache-Control"]
    with Image.open(io.BytesIO(b"".join(thumb.streaming_content))) as image:
        assert max(image.size) == 320
    with Image.open(io.BytesIO(b"".join(office.get(url).streaming_content))) as image:
        assert image.size == (1200, 800)
    # and the API answers it under the same check
    api = office.get(f"/api/cases/{case.pk}/attachments/{row.pk}/", {"size": "thumb"})
    assert api.status_code == 200
    detail = office.get(f"/api/cases/{case.pk}/").json()
    assert detail["attachments"][0]["thumbnail_url"] == f"/api/cases/{case.pk}/attachments/{row.pk}/?size=thumb"
    # and a user outside the case's scope gets a 404 for the thumbnail too
    outsider = Client()
    outsider.force_login(loop.worker2)
    assert outsider.get(url, {"size": "thumb"}).status_code == 404
    # and the case page shows the thumbnail, linking to the full photo
    page = office.get(f"/cases/{case.number}/").content.decode()
    assert f'<a href="{url}"' in page and f'src="{url}?size=thumb"' in page


def test_a_photo_stored_before_thumbnails_gets_one_on_first_showing(loop):
    buf = io.BytesIO()
    Image.new("RGB", (900, 300), (9, 9, 9)).save(buf, format="PNG")
    case = report_with(loop, [buf.getvalue()])
    row = case.attachments.get()
    path = private_dir() / thumbnail_relative(row.path)
    path.unlink()
    office = Client()
    office.force_login(loop.office)
    response = office.get(f"/cases/{case.number}/attachments/{row.pk}/", {"size": "thumb"})
    assert response.status_code == 200 and path.exists()
    with Image.open(path) as image:
        assert image.size == (320, 107)


def test_photos_stored_before_the_rule_are_rescrubbed_by_the_command(loop):
    import hashlib

    from django.core.management import call_command
    from django.utils import timezone

    from gridgov.core.models import AuditEntry

    # given a photo stored byte for byte as uploads used to be, text chunks and trailer included
    case = report_with(loop, [])
    data = png_with_text_chunks()
    digest = hashlib.sha256(data).hexdigest()
    old = f"cases/{digest[:2]}/{digest}.png"
    (private_dir() / old).parent.mkdir(parents=True, exist_ok=True)
    (private_dir() / old).write_bytes(data)
    row = Attachment.objects.create(case=case, purpose="REPORT", sha256=digest, content_type="image/png",
                                    size=len(data), width=40, height=40, path=old, uploaded_at=timezone.now())
    # when the command runs
    out = io.StringIO()
    call_command("photos_rescrub", stdout=out)
    # then the row names a clean file, the old one is gone, a thumbnail is beside it, and it is audited
    row.refresh_from_db()
    assert row.sha256 != digest and row.path != old and not (private_dir() / old).exists()
    stored = (private_dir() / row.path).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == row.sha256 and row.size == len(stored)
    for secret in SECRETS:
        assert secret not in stored
    assert (private_dir() / thumbnail_relative(row.path)).exists()
    assert "rewritten 1" in out.getvalue()
    assert AuditEntry.objects.filter(action="attachments.rescrub").count() == 1
    # and a second run changes nothing
    out = io.StringIO()
    call_command("photos_rescrub", stdout=out)
    assert "rewritten 0" in out.getvalue() and "thumbnails 0" in out.getvalue()
    assert AuditEntry.objects.filter(action="attachments.rescrub").count() == 1
