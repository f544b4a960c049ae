"""Photos of a matter: checked by their content (never their name), at most 5 MB, re-encoded so
nothing of the original file survives but its pixels — no EXIF, no GPS position, no text chunks."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from yishi.core.errors import ValidationFailed

MAX_PHOTOS = 6
MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 5 MB file can still decode to gigabytes: refuse before decoding
MAX_SIDE = 2560  # re-encoded photos are scaled down to this; a phone shows them sharp enough
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(message, errors={"photos": [message]})


def clean(data: bytes, filename: str = "") -> CleanImage:
    """The photo re-encoded in its own format, upright, without metadata; ValidationFailed otherwise."""
    label = filename or _("photo")
    if len(data) > MAX_BYTES:
        raise _refuse(_("%(name)s is larger than 5 MB.", name=label))
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            if kind not in FORMATS:
                raise _refuse(_("%(name)s is not a JPEG, PNG or WebP image.", name=label))
            if image.width * image.height > MAX_PIXELS:
                raise _refuse(_("%(name)s has too many pixels.", name=label))
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as error:
        raise _refuse(_("%(name)s is not a JPEG, PNG or WebP image.", name=label)) from error
    content_type, extension = FORMATS[kind]
    if kind == "JPEG" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    elif upright.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        upright = upright.convert("RGBA")
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    # A new image holding only the pixels: no info dict, so no EXIF, XMP, ICC text or PNG chunks.
    pixels = Image.new(upright.mode, upright.size)
    if upright.mode == "P":
        pixels.putpalette(upright.getpalette())
    pixels.paste(upright)
    out = io.BytesIO()
    options = {"JPEG": {"quality": 85, "optimize": True}, "WEBP": {"quality": 85}, "PNG": {"optimize": True}}[kind]
    pixels.save(out, format=kind, **options)
    return CleanImage(out.getvalue(), content_type, extension, pixels.width, pixels.height)


def storage_key(community_id: int, extension: str) -> str:
    return f"matters/{community_id}/{uuid.uuid4().hex}.{extension}"
