"""Photos and other evidence on cases: checked (size, real image of an accepted type), stored once
under the private files directory named by their SHA-256, never by anything personal."""

from __future__ import annotations

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
from PIL import Image, ImageOps, UnidentifiedImageError

from gridgov.cases.models import Attachment, Case
from gridgov.people.files import private_dir, private_open

ACCEPTED = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}


@dataclass(frozen=True)
class Photo:
    """A checked upload, not yet stored."""

    data: bytes
    sha256: str
    content_type: str
    suffix: str
    width: int
    height: int


def max_bytes() -> int:
    return int(getattr(settings, "CASE_PHOTO_MAX_BYTES", 10 * 1024 * 1024))


def photo_check(upload, *, field: str = "photos") -> Photo:
    """Read and check one upload (a Django UploadedFile, a file object or bytes): at most
    CASE_PHOTO_MAX_BYTES, and a decodable JPEG, PNG or WebP image whatever its name or declared type."""
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
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format
                width, height = image.size
                image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise ValidationError({field: _("%(name)s is not a readable image (JPEG, PNG or WebP)") % {"name": name}}) \
            from None
    if fmt not in ACCEPTED:
        raise ValidationError({field: _("%(name)s is a %(format)s image; accepted are JPEG, PNG and WebP")
                               % {"name": name, "format": fmt}})
    content_type, suffix = ACCEPTED[fmt]
    data, width, height = _without_metadata(data, fmt, width, height)
    return Photo(data=data, sha256=hashlib.sha256(data).hexdigest(), content_type=content_type, suffix=suffix,
                 width=width, height=height)


def _without_metadata(data: bytes, fmt: str, width: int, height: int) -> tuple[bytes, int, int]:
    """A phone photo carries EXIF: where it was taken (GPS), the device, the owner's name. None of it may
    reach a handler, so a photo with metadata is stored re-encoded without it (turned upright first, as
    the orientation tag said); a photo without any is kept byte for byte."""
    with Image.open(io.BytesIO(data)) as image:
        if not image.getexif() and not image.info.get("exif") and not image.info.get("xmp") \
                and not any(k in image.info for k in ("icc_profile", "comment", "text")):
            return data, width, height
        upright = ImageOps.exif_transpose(image)
        if upright.mode not in ("RGB", "RGBA", "L"):
            upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
        if fmt == "JPEG" and upright.mode == "RGBA":
            upright = upright.convert("RGB")
        out = io.BytesIO()
        options = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
        upright.save(out, format=fmt, **options)
        return out.getvalue(), upright.width, upright.height


def photos_check(uploads, *, field: str = "photos") -> list[Photo]:
    return [photo_check(u, field=field) for u in (uploads or [])]


def _relative(photo: Photo) -> str:
    return f"cases/{photo.sha256[:2]}/{photo.sha256}{photo.suffix}"


def photo_store(photo: Photo) -> str:
    """Write the file once (same content, same name) and return its path relative to the private dir."""
    relative = _relative(photo)
    path = private_dir() / relative
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(photo.data)
        tmp.replace(path)
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


def attachment_response(attachment: Attachment) -> FileResponse:
    """The stored photo, streamed inline with headers that keep it private (the caller has checked that the
    case is in the user's scope); a file gone from the disk is a 404."""
    try:
        handle = attachment_path(attachment).open("rb")
    except OSError:
        raise Http404 from None
    response = FileResponse(handle, content_type=attachment.content_type, as_attachment=False,
                            filename=f"{attachment.sha256}{Path(attachment.path).suffix}")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response

