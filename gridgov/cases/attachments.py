"""Photos and other evidence on cases: checked (size, real image of an accepted type), re-encoded from
their pixels alone, stored once under the private files directory named by their SHA-256 (never by
anything personal), with a thumbnail beside each.

Nothing of an upload but its pixels is kept: a phone photo carries EXIF (GPS, device, owner), XMP, IPTC
(caption, author, phone), an ICC profile, JPEG comments, PNG text chunks (tEXt / iTXt / zTXt), and
whatever bytes follow the image's end — any of them can hold a name and a phone. Every upload is decoded,
turned upright as its orientation tag says, converted to sRGB, copied into a new image that has only
pixels, scaled down to CASE_PHOTO_MAX_EDGE on its long edge, and saved without any metadata. An image
declaring more than CASE_PHOTO_MAX_PIXELS pixels is refused before it is decoded.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from gridgov.cases.models import Attachment, Case
from gridgov.core.audit import audit_record
from gridgov.core.files import private_dir, private_open

PHOTOS_MAX = 10  # photos of each kind an intake or an action carries (problem, before, after handling)

ACCEPTED = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}
THUMB = "thumb"
_SAVE_OPTIONS = {"JPEG": {"quality": 85, "optimize": True}, "WEBP": {"quality": 85}, "PNG": {}}


@dataclass(frozen=True)
class Photo:
    """A checked upload, re-encoded, not yet stored; `thumbnail` is its small copy (same format)."""

    data: bytes
    sha256: str
    content_type: str
    suffix: str
    width: int
    height: int
    thumbnail: bytes = b""


def max_bytes() -> int:
    return int(getattr(settings, "CASE_PHOTO_MAX_BYTES", 10 * 1024 * 1024))


def max_edge() -> int:
    return max(int(getattr(settings, "CASE_PHOTO_MAX_EDGE", 2560)), 16)


def thumb_edge() -> int:
    return max(int(getattr(settings, "CASE_PHOTO_THUMB_EDGE", 320)), 16)


def max_pixels() -> int:
    return max(int(getattr(settings, "CASE_PHOTO_MAX_PIXELS", 40_000_000)), 1)


def photo_check(upload, *, field: str = "photos") -> Photo:
    """Read and check one upload (a Django UploadedFile, a file object or bytes): at most
    CASE_PHOTO_MAX_BYTES and CASE_PHOTO_MAX_PIXELS, and a decodable JPEG, PNG or WebP image whatever its
    name or declared type; returned re-encoded from its pixels (`photo_reencode`)."""
    if isinstance(upload, Photo):
        return upload
    name = getattr(upload, "name", "") or "photo"
    size = getattr(upload, "size", None)
    limit = max_bytes()
    if size is not None and size > limit:
        raise ValidationError({field: _("%(name)s is %(size)s bytes; photos may be at most %(limit)s bytes")
                               % {"name": name, "size": size, "limit": limit}})
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload)
    else:
        if hasattr(upload, "seek"):
            upload.seek(0)
        data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError({field: _("%(name)s is larger than %(limit)s bytes") % {"name": name, "limit": limit}})
    if not data:
        raise ValidationError({field: _("%(name)s is empty") % {"name": name}})
    unreadable = ValidationError({field: _("%(name)s is not a readable image (JPEG, PNG or WebP)") % {"name": name}})
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only: nothing is decoded yet
            fmt = image.format
            width, height = image.size
    except Image.DecompressionBombError:  # Pillow's own guard, at twice Image.MAX_IMAGE_PIXELS
        raise ValidationError({field: _("%(name)s has too many pixels; photos may have at most %(limit)s pixels")
                               % {"name": name, "limit": max_pixels()}}) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise unreadable from None
    if fmt not in ACCEPTED:
        raise ValidationError({field: _("%(name)s is a %(format)s image; accepted are JPEG, PNG and WebP")
                               % {"name": name, "format": fmt}})
    if width * height > max_pixels():
        raise ValidationError({field: _("%(name)s is %(width)s × %(height)s pixels; photos may have at most "
                                        "%(limit)s pixels") % {"name": name, "width": width, "height": height,
                                                               "limit": max_pixels()}})
    try:
        clean, thumbnail = photo_reencode(data, fmt)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise unreadable from None
    content_type, suffix = ACCEPTED[fmt]
    out = _encode(clean, fmt)
    return Photo(data=out, sha256=hashlib.sha256(out).hexdigest(), content_type=content_type, suffix=suffix,
                 width=clean.width, height=clean.height, thumbnail=_encode(thumbnail, fmt))


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image holding `image`'s pixels and nothing else (no info, no profile), in sRGB."""
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        # pixels described by an embedded profile are converted to sRGB, then the profile is dropped; a
        # profile that cannot be read is dropped alone (the pixels are still the photo)
        with contextlib.suppress(ImageCms.PyCMSError, OSError, ValueError, TypeError):
            image = ImageCms.profileToProfile(image, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                              ImageCms.createProfile("sRGB"),
                                              outputMode="RGBA" if image.mode == "RGBA" else "RGB")
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB")
    elif image.mode == "LA":
        image = image.convert("RGBA")
    elif image.mode not in ("RGB", "RGBA", "L"):
        image = image.convert("RGB")
    return Image.frombytes(image.mode, image.size, image.tobytes())


def photo_reencode(data: bytes, fmt: str) -> tuple[Image.Image, Image.Image]:
    """The image of `data` rebuilt from its pixels: upright, sRGB, at most CASE_PHOTO_MAX_EDGE on its long
    edge; and its thumbnail (CASE_PHOTO_THUMB_EDGE). Pillow's own bomb guard is an error here too."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
            clean = _pixels_only(upright)
    if fmt == "JPEG" and clean.mode == "RGBA":
        clean = clean.convert("RGB")
    edge = max_edge()
    if max(clean.size) > edge:
        clean.thumbnail((edge, edge), Image.Resampling.LANCZOS)
    thumbnail = clean.copy()
    small = thumb_edge()
    thumbnail.thumbnail((small, small), Image.Resampling.LANCZOS)
    return clean, thumbnail


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **_SAVE_OPTIONS[fmt])  # a new image: no exif, icc, xmp, text or comment
    return out.getvalue()


def photos_check(uploads, *, field: str = "photos") -> list[Photo]:
    """Each photo of one kind checked; more than PHOTOS_MAX of a kind is refused, naming the field."""
    uploads = list(uploads or [])
    if len(uploads) > PHOTOS_MAX:
        raise ValidationError({field: _("at most %(n)s photos") % {"n": PHOTOS_MAX}})
    return [photo_check(u, field=field) for u in uploads]


def _relative(photo: Photo) -> str:
    return f"cases/{photo.sha256[:2]}/{photo.sha256}{photo.suffix}"


def thumbnail_relative(relative: str) -> str:
    """Where the thumbnail of a stored photo lives: beside it, `<sha256>.thumb<suffix>`."""
    path = Path(relative)
    return str(path.with_name(f"{path.stem}.{THUMB}{path.suffix}"))


def _write_once(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def photo_store(photo: Photo) -> str:
    """Write the file and its thumbnail once (same content, same name) and return the file's path
    relative to the private dir."""
    relative = _relative(photo)
    _write_once(private_dir() / relative, photo.data)
    if photo.thumbnail:
        _write_once(private_dir() / thumbnail_relative(relative), photo.thumbnail)
    return relative


def attachments_add(*, case: Case, photos: list[Photo], purpose: str, actor=None) -> list[Attachment]:
    now = timezone.now()
    user = actor if getattr(actor, "is_authenticated", False) else None
    return [Attachment.objects.create(case=case, purpose=purpose, sha256=p.sha256, content_type=p.content_type,
                                      size=len(p.data), width=p.width, height=p.height, path=photo_store(p),
                                      uploaded_by=user, uploaded_at=now)
            for p in photos]


def attachment_path(attachment: Attachment) -> Path:
    return private_open(attachment.path)


def attachment_thumbnail_path(attachment: Attachment) -> Path:
    """The thumbnail of a stored photo, made from it (re-encoded again) if it is not there yet — a photo
    stored before thumbnails existed gets one on its first showing."""
    original = attachment_path(attachment)
    relative = thumbnail_relative(attachment.path)
    path = private_open(relative)
    if not path.exists():
        fmt = next((f for f, (ctype, _suffix) in ACCEPTED.items() if ctype == attachment.content_type), None)
        if fmt is None:
            return original
        try:
            _clean, thumbnail = photo_reencode(original.read_bytes(), fmt)
        except (SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Http404 from None
        _write_once(path, _encode(thumbnail, fmt))
    return path


def attachment_response(attachment: Attachment, *, size: str = "") -> FileResponse:
    """The stored photo (or with `size="thumb"` its thumbnail), streamed inline with headers that keep it
    private (the caller has checked that the case is in the user's scope); a file gone from the disk is
    a 404."""
    thumb = size == THUMB
    try:
        path = attachment_thumbnail_path(attachment) if thumb else attachment_path(attachment)
        handle = path.open("rb")
    except OSError:
        raise Http404 from None
    suffix = Path(attachment.path).suffix
    name = f"{attachment.sha256}.{THUMB}{suffix}" if thumb else f"{attachment.sha256}{suffix}"
    response = FileResponse(handle, content_type=attachment.content_type, as_attachment=False, filename=name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@dataclass
class RescrubReport:
    checked: int = 0
    rewritten: int = 0
    thumbnails: int = 0
    missing: int = 0
    unreadable: int = 0


def attachments_rescrub(*, actor=None) -> RescrubReport:
    """Re-encode every stored photo from its pixels, as an upload is today: a photo stored before the rule
    (with IPTC, comments, text chunks or trailing bytes) is replaced by its clean copy under its new hash,
    the row follows (the file left behind is removed unless another row still names it), and every photo
    gets its thumbnail. Idempotent: a clean photo re-encodes to itself. Case events keep the hash a photo
    had when it was attached; they name it by id. Audited once per run."""
    report = RescrubReport()
    for row in Attachment.objects.order_by("pk").iterator():
        report.checked += 1
        try:
            data = attachment_path(row).read_bytes()
        except OSError:
            report.missing += 1
            continue
        try:
            photo = photo_check(data, field="file")
        except ValidationError:
            report.unreadable += 1
            continue
        if photo.sha256 == row.sha256:
            thumb = private_dir() / thumbnail_relative(row.path)
            if not thumb.exists():
                _write_once(thumb, photo.thumbnail)
                report.thumbnails += 1
            continue
        old_path = row.path
        relative = photo_store(photo)
        Attachment.objects.filter(pk=row.pk).update(sha256=photo.sha256, path=relative, size=len(photo.data),
                                                    width=photo.width, height=photo.height)
        report.rewritten += 1
        report.thumbnails += 1
        if not Attachment.objects.filter(path=old_path).exists():
            for stale in (old_path, thumbnail_relative(old_path)):
                with contextlib.suppress(OSError):
                    private_open(stale).unlink()
    if report.rewritten or report.thumbnails:
        audit_record(actor=actor, action="attachments.rescrub", summary=f"{report.rewritten} photos re-encoded",
                     changes={"checked": report.checked, "rewritten": report.rewritten,
                              "thumbnails": report.thumbnails, "missing": report.missing,
                              "unreadable": report.unreadable})
    return report
